using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Profiling;
using EfficientCnn.Backbones.Registry;
using NUnit.Framework;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

/// <summary>Checks every registered variant against its published size and cost, and its shapes at a small input.</summary>
public sealed class ZooTests
{
    private static IEnumerable<string> VariantNames() => BackboneRegistry.Names;

    private static IEnumerable<string> ReferencedVariantNames() =>
        BackboneRegistry.All.Where(v => v.Reference is not null).Select(v => v.Name);

    [TestCaseSource(nameof(ReferencedVariantNames))]
    public void CountsMatchTheReferenceTable(string name)
    {
        var variant = BackboneRegistry.Get(name);
        var reference = variant.Reference!;
        using var model = variant.Create(new BackboneOptions { NumClasses = 1000 });
        var profile = ModelProfiler.Profile(model, reference.Resolution);
        TestContext.Out.WriteLine($"{name}: params {profile.Params:N0} (ref {reference.Params:N0}), MACs {profile.Macs:N0} (ref {reference.Macs:N0}) — {reference.Source}");
        if (reference.ExactParams)
            Assert.That(profile.Params, Is.EqualTo(reference.Params), "parameters must equal the reference exactly");
        else
            Assert.That(profile.Params, Is.EqualTo(reference.Params).Within(3).Percent, "parameters must be within 3% of the paper's rounded figure");
        Assert.That(reference.MacsTolerancePercent, Is.LessThanOrEqualTo(3), "no reference may loosen the MACs check beyond 3%");
        Assert.That((double)profile.Macs, Is.EqualTo((double)reference.Macs).Within(reference.MacsTolerancePercent).Percent,
            $"MACs must be within {reference.MacsTolerancePercent}% of the reference");
    }

    [TestCaseSource(nameof(VariantNames))]
    public void ForwardShapesAtSmallInput(string name)
    {
        using var model = BackboneRegistry.Create(name, new BackboneOptions { NumClasses = 7 });
        model.eval();
        using var _ = no_grad();
        var x = randn(2, 3, model.MinInputSize, model.MinInputSize + 8);
        Assert.That(model.ForwardFeatures(x).shape, Is.EqualTo(new long[] { 2, model.FeatureDim }));
        Assert.That(model.call(x).shape, Is.EqualTo(new long[] { 2, 7 }));
        Assert.That(model.Stages, Is.Not.Empty);
        Assert.That(model.Head, Is.Not.Null);
        // "Fine-tune the last N stages" relies on the stages and the head holding every parameter exactly once.
        var inStages = model.Stages.SelectMany(s => s.parameters()).Concat(model.Head!.parameters()).Select(p => p.Handle).ToList();
        Assert.That(inStages, Is.Unique, "a parameter appears in two stages");
        Assert.That(inStages.ToHashSet().SetEquals(model.parameters().Select(p => p.Handle)), Is.True,
            "stages + head must cover every parameter of the model");
    }

    [Test]
    public void HeadlessBackboneReturnsFeatures()
    {
        using var model = BackboneRegistry.Create("resnet18", new BackboneOptions { NumClasses = 0 });
        model.eval();
        using var _ = no_grad();
        Assert.That(model.Head, Is.Null);
        Assert.That(model.call(randn(1, 3, 32, 32)).shape, Is.EqualTo(new long[] { 1, 512 }));
    }

    [Test]
    public void EveryFamilyFileRegistersItsVariantsInLineageOrder()
    {
        // Families register themselves (IBackboneFamily); a family that stops declaring itself drops out of the zoo.
        Assert.That(BackboneRegistry.All.Select(v => v.Family).Distinct(), Is.EqualTo(new[]
        {
            "MobileNetV1", "ShuffleNetV1", "MobileNetV2", "ShuffleNetV2", "MnasNet", "EfficientNet", "NFNet", "ResNet", "GoogLeNet", "NASNet",
        }));
        Assert.That(BackboneRegistry.All, Has.Count.EqualTo(48));
    }

    [Test]
    public void UnknownVariantListsValidNames()
    {
        var ex = Assert.Throws<ArgumentException>(() => BackboneRegistry.Get("mobilenet_v9"))!;
        Assert.That(ex.Message, Does.Contain("mobilenet_v9"));
        foreach (var name in BackboneRegistry.Names)
            Assert.That(ex.Message, Does.Contain(name));
    }

    [Test]
    public void InputTooSmallNamesTheLimit()
    {
        using var model = BackboneRegistry.Create("resnet18", new BackboneOptions { NumClasses = 2 });
        var ex = Assert.Throws<ArgumentException>(() => model.call(zeros(1, 3, 16, 16)))!;
        Assert.That(ex.ParamName, Is.EqualTo("input"));
        Assert.That(ex.Message, Does.Contain("32x32"));
        Assert.Throws<ArgumentException>(() => model.call(zeros(1, 1, 64, 64)), "a single-channel batch is not an RGB batch");
    }

    [Test]
    public void ImpossibleCommonOptionsAreRejected()
    {
        var variant = BackboneRegistry.Get("resnet18");
        Assert.That(Assert.Throws<ArgumentException>(() => variant.Create(new BackboneOptions { NumClasses = -1 }))!.ParamName, Is.EqualTo("NumClasses"));
        Assert.That(Assert.Throws<ArgumentException>(() => variant.Create(new BackboneOptions { DropRate = 1.5 }))!.ParamName, Is.EqualTo("DropRate"));
    }

    [Test]
    public void ProfilerCountsConvAndLinearMacsFromShapes()
    {
        // conv 3->8, 3x3, stride 2 on 32x32 gives 16x16x8 outputs, each 3*9 MACs; linear 8->4 adds 32.
        using var net = nn.Sequential(
            ("conv", nn.Conv2d(3, 8, 3, stride: 2, padding: 1)),
            ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flat", nn.Flatten()),
            ("fc", nn.Linear(8, 4)));
        var profile = ModelProfiler.Profile(net, 32);
        Assert.That(profile.Layers.Select(l => l.Name), Is.EqualTo(new[] { "conv", "fc" }));
        Assert.That(profile.Layers[0].Macs, Is.EqualTo(16 * 16 * 8 * 3 * 9));
        Assert.That(profile.Layers[1].Macs, Is.EqualTo(32));
        Assert.That(profile.Params, Is.EqualTo(3 * 8 * 9 + 8 + 8 * 4 + 4));
    }

    [Test]
    public void DepthwiseSeparableCostsEightToNineTimesLessThanStandardConv()
    {
        // MobileNet paper, section 3.1: for 3x3 kernels the reduction is 1/N + 1/9, i.e. 8-9x for wide layers.
        const int channels = 256, size = 14;
        using var standard = nn.Conv2d(channels, channels, 3, padding: 1, bias: false);
        using var separable = nn.Sequential(
            ("depthwise", nn.Conv2d(channels, channels, 3, padding: 1, groups: channels, bias: false)),
            ("pointwise", nn.Conv2d(channels, channels, 1, bias: false)));
        double ratio = (double)ModelProfiler.Profile(standard, size, channels).Macs / ModelProfiler.Profile(separable, size, channels).Macs;
        Assert.That(ratio, Is.InRange(8.0, 9.0));
    }

    [Test]
    public void ZooCommandPrintsTheMeasuredCatalogueAsJson()
    {
        int code = CliRunner.Run(out var json, "zoo", "--json", "--classes", "1000", "--resolution", "224",
            "--name", "resnet18", "--name", "mobilenet_v2_1.0");
        Assert.That(code, Is.EqualTo(0));
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var rows = doc.RootElement.EnumerateArray().ToList();
        Assert.That(rows.Select(r => r.GetProperty("name").GetString()), Is.EqualTo(new[] { "resnet18", "mobilenet_v2_1.0" }));
        var mobilenet = rows[1];
        Assert.That(mobilenet.GetProperty("family").GetString(), Is.EqualTo("MobileNetV2"));
        Assert.That(mobilenet.GetProperty("params").GetInt64(), Is.EqualTo(BackboneRegistry.Get("mobilenet_v2_1.0").Reference!.Params));
        Assert.That(mobilenet.GetProperty("macs").GetInt64(), Is.EqualTo(300_000_000).Within(2).Percent);
        Assert.That(mobilenet.GetProperty("featureDim").GetInt32(), Is.EqualTo(1280));
        Assert.That(mobilenet.GetProperty("resolution").GetInt32(), Is.EqualTo(224));

        Assert.That(CliRunner.Run(out _, "zoo", "--resolution", "16"), Is.Not.EqualTo(0), "a resolution below 32 px is refused");
    }
}
