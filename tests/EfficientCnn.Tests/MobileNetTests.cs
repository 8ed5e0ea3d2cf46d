using EfficientCnn.Backbones.Architectures;
using NUnit.Framework;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

public sealed class MobileNetTests
{
    // ---- MobileNetV2 -------------------------------------------------------------------------------------

    [Test]
    public void V2StateDictEqualsTorchvisionNamesAndShapes()
    {
        using var model = new MobileNetV2();
        var state = model.state_dict();
        // A sample of torchvision mobilenet_v2's keys with their shapes: stem, the t=1 block (no expansion),
        // an expanded block, the last 1x1 conv, BN buffers and the classifier.
        var expected = new Dictionary<string, long[]>
        {
            ["features.0.0.weight"] = [32, 3, 3, 3],
            ["features.0.1.running_var"] = [32],
            ["features.1.conv.0.0.weight"] = [32, 1, 3, 3],
            ["features.1.conv.1.weight"] = [16, 32, 1, 1],
            ["features.1.conv.2.num_batches_tracked"] = [],
            ["features.2.conv.0.0.weight"] = [96, 16, 1, 1],
            ["features.2.conv.1.0.weight"] = [96, 1, 3, 3],
            ["features.2.conv.2.weight"] = [24, 96, 1, 1],
            ["features.2.conv.3.running_mean"] = [24],
            ["features.17.conv.2.weight"] = [320, 960, 1, 1],
            ["features.18.0.weight"] = [1280, 320, 1, 1],
            ["features.18.1.bias"] = [1280],
            ["classifier.1.weight"] = [1000, 1280],
            ["classifier.1.bias"] = [1000],
        };
        foreach (var (key, shape) in expected)
        {
            Assert.That(state.ContainsKey(key), Is.True, $"missing {key}");
            Assert.That(state[key].shape, Is.EqualTo(shape), key);
        }
        Assert.That(state.Keys.Any(k => k.StartsWith("features.19")), Is.False, "torchvision has features.0 … features.18");
        // torchvision mobilenet_v2: 52 BN layers × 5 entries + 52 conv weights + classifier weight and bias.
        Assert.That(state.Count, Is.EqualTo(52 * 5 + 52 + 2));
        Assert.That(model.FeatureDim, Is.EqualTo(1280));
    }

    [Test]
    public void V2WidthMultiplierRoundsToEightAndKeepsLastConvUnlessWider()
    {
        using var thin = new MobileNetV2(0.35);
        var thinState = thin.state_dict();
        // make_divisible(32·0.35 = 11.2) = 16 (8 would be below 90% of 11.2); 16·0.35 = 5.6 → 8.
        Assert.That(thinState["features.0.0.weight"].shape[0], Is.EqualTo(16));
        Assert.That(thinState["features.1.conv.1.weight"].shape[0], Is.EqualTo(8));
        Assert.That(thin.FeatureDim, Is.EqualTo(1280), "α < 1 keeps the last layer at 1280");

        using var wide = new MobileNetV2(1.4);
        Assert.That(wide.state_dict()["features.0.0.weight"].shape[0], Is.EqualTo(48));
        Assert.That(wide.FeatureDim, Is.EqualTo(1792), "α > 1 widens the last layer: 1280·1.4");
    }

    [Test]
    public void InvertedResidualAddsItsInputOnlyWithStrideOneAndEqualWidths()
    {
        var x = randn(2, 16, 8, 8);
        foreach (var (inC, outC, stride, residual) in new[] { (16, 16, 1, true), (16, 24, 1, false), (16, 16, 2, false) })
        {
            using var block = MobileNetV2.CreateBlock(inC, outC, stride, 6);
            Assert.That(block.UsesResidual, Is.EqualTo(residual), $"{inC}->{outC} s{stride}");
            // With the projection BN's γ and β zeroed the branch outputs exactly 0: the block returns its input
            // when it has a residual connection, and zeros when it has none.
            using (no_grad())
            {
                block.ProjectionNorm.weight!.zero_();
                block.ProjectionNorm.bias!.zero_();
            }
            block.eval();
            using var _ = no_grad();
            var y = block.call(x);
            if (residual) Assert.That((y == x).all().item<bool>(), Is.True, "residual block must return its input");
            else Assert.That(y.abs().max().item<float>(), Is.EqualTo(0f), "block without residual must return the (zero) branch");
        }
    }

    [Test]
    public void V2ProjectionIsLinear()
    {
        // Linear bottleneck: the projection is followed by BN only, so negative outputs survive.
        using var block = MobileNetV2.CreateBlock(8, 16, 1, 6);
        block.eval();
        using var _ = no_grad();
        Assert.That(block.call(randn(4, 8, 8, 8)).min().item<float>(), Is.LessThan(0f));
    }

    [Test]
    public void TinyMobileNetV2Learns() => LearningCheck.AssertLearns(new MobileNetV2(0.25, numClasses: 2));

    // ---- MobileNetV1 -------------------------------------------------------------------------------------

    [Test]
    public void V1StateDictNamesAndShapes()
    {
        using var model = new MobileNetV1();
        var state = model.state_dict();
        var expected = new Dictionary<string, long[]>
        {
            ["features.0.0.weight"] = [32, 3, 3, 3],
            ["features.0.1.running_mean"] = [32],
            ["features.1.depthwise.0.weight"] = [32, 1, 3, 3],
            ["features.1.depthwise.1.num_batches_tracked"] = [],
            ["features.1.pointwise.0.weight"] = [64, 32, 1, 1],
            ["features.13.pointwise.0.weight"] = [1024, 1024, 1, 1],
            ["features.13.pointwise.1.running_var"] = [1024],
            ["classifier.1.weight"] = [1000, 1024],
            ["classifier.1.bias"] = [1000],
        };
        foreach (var (key, shape) in expected)
        {
            Assert.That(state.ContainsKey(key), Is.True, $"missing {key}");
            Assert.That(state[key].shape, Is.EqualTo(shape), key);
        }
        Assert.That(state.Keys.Any(k => k.StartsWith("features.14")), Is.False, "stem + 13 separable blocks (paper Table 1)");
        Assert.That(model.FeatureDim, Is.EqualTo(1024));
    }

    [Test]
    public void V1DepthwiseLayerHasOneGroupPerChannel()
    {
        using var model = new MobileNetV1(0.5);
        var blocks = model.modules().OfType<MobileNetV1.DepthwiseSeparableConv>().ToList();
        Assert.That(blocks, Has.Count.EqualTo(13));
        foreach (var block in blocks)
        {
            Assert.That(block.DepthwiseConv.groups, Is.EqualTo(block.DepthwiseConv.in_channels));
            Assert.That(block.DepthwiseConv.out_channels, Is.EqualTo(block.DepthwiseConv.in_channels));
            Assert.That(block.DepthwiseConv.kernel_size, Is.EqualTo(new long[] { 3, 3 }));
            Assert.That(block.PointwiseConv.groups, Is.EqualTo(1));
            Assert.That(block.PointwiseConv.kernel_size, Is.EqualTo(new long[] { 1, 1 }));
        }
    }

    [TestCase(1.0, 32, 64, 1024)]
    [TestCase(0.75, 24, 48, 768)]
    [TestCase(0.25, 8, 16, 256)]
    [TestCase(0.3, 9, 19, 307)]     // TF-slim truncates c·α: no rounding to multiples of 8
    [TestCase(0.1, 8, 8, 102)]      // but never below 8 channels (min_depth)
    public void V1WidthMultiplierTruncatesChannelsWithMinimumEight(double alpha, int stem, int first, int last)
    {
        using var model = new MobileNetV1(alpha);
        var convs = model.modules().OfType<Conv2d>().ToList();
        Assert.That(convs[0].out_channels, Is.EqualTo(stem));
        Assert.That(convs[2].out_channels, Is.EqualTo(first), "first pointwise conv");
        Assert.That(model.FeatureDim, Is.EqualTo(last));
        Assert.That(convs[^1].out_channels, Is.EqualTo(last));
    }

    [Test]
    public void V1ResolutionMultiplierScalesCostQuadratically()
    {
        // Paper section 3.4: ρ reduces the cost by ρ² and leaves the parameters unchanged. Sizes divisible by 32
        // keep every feature map exactly halved (112 would round 3.5 up to 4 at the last stage).
        using var model = new MobileNetV1(numClasses: 0);
        var full = Backbones.Profiling.ModelProfiler.Profile(model, 256);
        var half = Backbones.Profiling.ModelProfiler.Profile(model, 128);
        Assert.That(half.Params, Is.EqualTo(full.Params));
        Assert.That((double)full.Macs / half.Macs, Is.EqualTo(4.0));
    }

    [Test]
    public void TinyMobileNetV1Learns() => LearningCheck.AssertLearns(new MobileNetV1(0.25, numClasses: 2));

    // ---- Options -----------------------------------------------------------------------------------------

    [TestCase(0.0)]
    [TestCase(-0.5)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public void NonPositiveWidthMultiplierIsRejected(double alpha)
    {
        var v1 = Assert.Throws<ArgumentException>(() => new MobileNetV1(alpha))!;
        Assert.That(v1.ParamName, Is.EqualTo("widthMultiplier"));
        Assert.That(v1.Message, Does.Contain("> 0"));
        var v2 = Assert.Throws<ArgumentException>(() => new MobileNetV2(alpha))!;
        Assert.That(v2.ParamName, Is.EqualTo("widthMultiplier"));
        Assert.That(v2.Message, Does.Contain("> 0"));
    }

    [Test]
    public void BadBlockOptionsAreRejected()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => MobileNetV2.CreateBlock(16, 16, 3, 6))!.ParamName, Is.EqualTo("stride"));
        Assert.That(Assert.Throws<ArgumentException>(() => MobileNetV2.CreateBlock(16, 16, 1, 0))!.ParamName, Is.EqualTo("expandRatio"));
        Assert.That(Assert.Throws<ArgumentException>(() => new MobileNetV1.DepthwiseSeparableConv(0, 16, 1))!.ParamName, Is.EqualTo("inChannels"));
    }
}
