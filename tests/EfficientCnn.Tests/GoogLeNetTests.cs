using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Profiling;
using NUnit.Framework;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

public sealed class GoogLeNetTests
{
    [Test]
    public void StateDictNamesMatchTorchvision()
    {
        using var model = new GoogLeNet();
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        // A sample of torchvision googlenet's keys (aux_logits=False), including BN buffers and the 3x3 "5x5" branch.
        foreach (var key in new[] { "conv1.conv.weight", "conv1.bn.running_mean", "conv2.bn.num_batches_tracked", "conv3.conv.weight",
                     "inception3a.branch1.conv.weight", "inception3a.branch2.0.bn.bias", "inception4e.branch3.1.bn.running_var",
                     "inception5b.branch4.1.conv.weight", "fc.weight", "fc.bias" })
            Assert.That(shapes, Does.ContainKey(key));
        Assert.That(shapes["inception4e.branch3.1.conv.weight"], Is.EqualTo(new long[] { 128, 32, 3, 3 }), "torchvision's branch3 uses a 3x3 kernel");
        Assert.That(shapes["fc.weight"], Is.EqualTo(new long[] { 1000, 1024 }));
        Assert.That(shapes.Keys.Where(k => k.StartsWith("aux")), Is.Empty, "no auxiliary heads unless requested");
        Assert.That(model.FeatureDim, Is.EqualTo(1024));
    }

    [Test]
    public void AuxiliaryHeadsExistOnlyWhenRequestedAndOnlyRunInTraining()
    {
        using var model = new GoogLeNet(numClasses: 5, auxLogits: true, widthMultiplier: 0.25);
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        foreach (var key in new[] { "aux1.conv.conv.weight", "aux1.conv.bn.running_var", "aux1.fc1.weight", "aux2.fc2.bias" })
            Assert.That(shapes, Does.ContainKey(key));
        Assert.That(model.HasAuxLogits, Is.True);

        var x = randn(2, 3, 64, 64);
        model.train();
        var (logits, a1, a2) = model.ForwardWithAux(x);
        Assert.That(logits.shape, Is.EqualTo(new long[] { 2, 5 }));
        Assert.That(a1!.shape, Is.EqualTo(new long[] { 2, 5 }));
        Assert.That(a2!.shape, Is.EqualTo(new long[] { 2, 5 }));
        Assert.That(model.call(x).shape, Is.EqualTo(new long[] { 2, 5 }), "the Backbone forward returns the main logits only");

        model.eval();
        using (no_grad())
        {
            var (evalLogits, e1, e2) = model.ForwardWithAux(x);
            Assert.That(evalLogits.shape, Is.EqualTo(new long[] { 2, 5 }));
            Assert.That(e1, Is.Null, "aux heads are a training device, as in torchvision");
            Assert.That(e2, Is.Null);
        }

        using var plain = new GoogLeNet(numClasses: 5, widthMultiplier: 0.25);
        plain.train();
        var (_, p1, p2) = plain.ForwardWithAux(x);
        Assert.That((p1, p2), Is.EqualTo(((Tensor?)null, (Tensor?)null)));
    }

    [Test]
    public void AuxiliaryHeadsAddTorchvisionsParameterCount()
    {
        // torchvision googlenet(aux_logits=True) has 13,004,888 parameters; without the heads 6,624,904.
        using var withAux = new GoogLeNet(auxLogits: true);
        Assert.That(ModelProfiler.CountParameters(withAux), Is.EqualTo(13_004_888));
    }

    [Test]
    public void CountsAt224()
    {
        using var model = new GoogLeNet();
        var profile = ModelProfiler.Profile(model, 224);
        TestContext.Out.WriteLine($"googlenet: params {profile.Params:N0}, MACs {profile.Macs:N0}");
        Assert.That(profile.Params, Is.EqualTo(6_624_904), "torchvision googlenet");
        Assert.That(profile.Macs, Is.EqualTo(1_500_000_000).Within(2).Percent, "torchvision: 1.50 GFLOPS; paper Table 1: 1.5G");
    }

    [Test]
    public void MinimumInputIsTheSmallestThatEveryPoolAccepts()
    {
        using var model = new GoogLeNet(numClasses: 3, widthMultiplier: 0.125);
        model.eval();
        using var _ = no_grad();
        int min = model.MinInputSize;
        Assert.That(model.call(randn(1, 3, min, min)).shape, Is.EqualTo(new long[] { 1, 3 }));
        // One pixel less and maxpool4 (2x2, ceil mode) would get an empty map.
        Assert.That(() => Unvalidated(model, randn(1, 3, min - 1, min - 1)), Throws.Exception);
        Assert.Throws<ArgumentException>(() => model.call(randn(1, 3, min - 1, min - 1)));
    }

    /// <summary>Runs the feature extractor without the base class's input-size check, to probe the real limit.</summary>
    private static Tensor Unvalidated(GoogLeNet model, Tensor x)
    {
        var method = typeof(GoogLeNet).GetMethod("ExtractFeatures", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        try { return (Tensor)method.Invoke(model, [x])!; }
        catch (System.Reflection.TargetInvocationException e) { throw e.InnerException!; }
    }

    [Test]
    public void ImpossibleOptionsAreRejected()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new GoogLeNet(widthMultiplier: 0))!.ParamName, Is.EqualTo("widthMultiplier"));
        Assert.That(Assert.Throws<ArgumentException>(() => new GoogLeNet(dropRate: 1.0))!.ParamName, Is.EqualTo("dropRate"));
        Assert.That(Assert.Throws<ArgumentException>(() => new GoogLeNet(numClasses: 0, auxLogits: true))!.ParamName, Is.EqualTo("auxLogits"));
    }

    [Test]
    [Ignore("NaN loss in most full-suite runs since the SkiaSharp 3 move, cause not found; retries in the same process fail too (docs/known-issues.md)")]
    public void TinyGoogLeNetLearns()
    {
        random.manual_seed(1);
        LearningCheck.AssertLearns(new GoogLeNet(numClasses: 2, widthMultiplier: 0.125));
    }

    [Test]
    public void OnnxExportIsExactAtOddInputSizes()
    {
        // 45x37: conv1 23x19, then the ceil-mode pools give 11x9, 5x4, 2x2, 1x1: partial last windows on both axes.
        manual_seed(0);
        using var model = new GoogLeNet(numClasses: 5);
        var bytes = OddSizeOnnx.AssertParity(model, "googlenet", (45, 37), (30, 50));
        var nodes = Onnx.ModelProto.Parser.ParseFrom(bytes).Graph.Node;
        Assert.That(nodes.Count(n => n.OpType == "MaxPool" && n.Attribute.Any(a => a.Name == "ceil_mode" && a.I == 1)), Is.EqualTo(4 + 9));
    }
}
