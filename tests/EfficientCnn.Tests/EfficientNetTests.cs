using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Profiling;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Scaling;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

public sealed class EfficientNetTests
{
    private static nn.Module Module(nn.Module root, string name) => root.named_modules().Single(m => m.name == name).module;

    [Test]
    public void StateDictKeysAndShapesMatchTorchvision()
    {
        using var model = BackboneRegistry.Create("efficientnet_b0");
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        // A sample of torchvision efficientnet_b0's state dict. features.1 has expand ratio 1, so its block starts with
        // the depthwise conv (block.0) and SE is block.1; later stages have the 1x1 expand conv at block.0.
        var expected = new Dictionary<string, long[]>
        {
            ["features.0.0.weight"] = [32, 3, 3, 3],
            ["features.0.1.running_mean"] = [32],
            ["features.0.1.num_batches_tracked"] = [],
            ["features.1.0.block.0.0.weight"] = [32, 1, 3, 3],
            ["features.1.0.block.1.fc1.weight"] = [8, 32, 1, 1],
            ["features.1.0.block.1.fc1.bias"] = [8],
            ["features.1.0.block.1.fc2.weight"] = [32, 8, 1, 1],
            ["features.1.0.block.2.0.weight"] = [16, 32, 1, 1],
            ["features.1.0.block.2.1.running_var"] = [16],
            ["features.2.0.block.0.0.weight"] = [96, 16, 1, 1],
            ["features.2.0.block.1.0.weight"] = [96, 1, 3, 3],
            ["features.2.0.block.2.fc1.weight"] = [4, 96, 1, 1],
            ["features.2.0.block.3.0.weight"] = [24, 96, 1, 1],
            ["features.3.1.block.1.0.weight"] = [240, 1, 5, 5],
            ["features.6.3.block.2.fc2.bias"] = [1152],
            ["features.7.0.block.3.1.num_batches_tracked"] = [],
            ["features.8.0.weight"] = [1280, 320, 1, 1],
            ["features.8.1.bias"] = [1280],
            ["classifier.1.weight"] = [1000, 1280],
            ["classifier.1.bias"] = [1000],
        };
        foreach (var (key, shape) in expected)
        {
            Assert.That(shapes, Does.ContainKey(key));
            Assert.That(shapes[key], Is.EqualTo(shape), key);
        }
        // Stages hold 1, 2, 2, 3, 3, 4, 1 blocks (Table 1); nothing beyond features.8; stochastic depth has no state.
        Assert.That(shapes.Keys.Where(k => k.StartsWith("features.")).Select(k => k.Split('.')[1]).Distinct().Count(), Is.EqualTo(9));
        Assert.That(shapes.Keys, Has.None.Contain("stochastic_depth"));
        Assert.That(shapes.Keys, Has.Some.StartsWith("features.6.3.").And.None.StartsWith("features.6.4."));
        Assert.That(model.FeatureDim, Is.EqualTo(1280));
        Assert.That(model.Stages, Has.Count.EqualTo(9));
    }

    [Test]
    public void B0HasTorchvisionsExactParameterCount()
    {
        using var model = BackboneRegistry.Create("efficientnet_b0");
        Assert.That(ModelProfiler.CountParameters(model), Is.EqualTo(5_288_548));
    }

    [Test]
    public void B7IsB0ScaledByWidthTwoAndDepthThreePointOne()
    {
        using var model = BackboneRegistry.Create("efficientnet_b7", new BackboneOptions { NumClasses = 10 });
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        // torchvision efficientnet_b7: stem 64 channels, last stage 640, head 2560 = 4 x 640.
        Assert.That(shapes["features.0.0.weight"], Is.EqualTo(new long[] { 64, 3, 3, 3 }));
        Assert.That(shapes["features.8.0.weight"], Is.EqualTo(new long[] { 2560, 640, 1, 1 }));
        Assert.That(model.FeatureDim, Is.EqualTo(2560));
        // Blocks per stage = ceil(n x 3.1) of Table 1's 1,2,2,3,3,4,1.
        var blocks = model.Stages.Skip(1).Take(7).Select(s => s.children().Count());
        Assert.That(blocks, Is.EqualTo(new[] { 4, 7, 7, 10, 10, 13, 4 }));
    }

    [Test]
    public void BatchNormFollowsTorchvisionPerVariant()
    {
        // torchvision: default BatchNorm2d (eps 1e-5, momentum 0.1) for B0–B4; eps 1e-3, momentum 0.01 for B5–B7 (TF weights).
        using var b0 = BackboneRegistry.Create("efficientnet_b0", new BackboneOptions { NumClasses = 2 });
        var bn0 = (BatchNorm2d)Module(b0, "features.0.1");
        Assert.That(bn0.eps, Is.EqualTo(1e-5));
        Assert.That(bn0.momentum, Is.EqualTo(0.1));
        using var b5 = BackboneRegistry.Create("efficientnet_b5", new BackboneOptions { NumClasses = 2 });
        var bn5 = (BatchNorm2d)Module(b5, "features.3.0.block.1.1");
        Assert.That(bn5.eps, Is.EqualTo(1e-3));
        Assert.That(bn5.momentum, Is.EqualTo(0.01));
    }

    [Test]
    public void StochasticDepthRateGrowsLinearlyWithBlockIndex()
    {
        using var model = EfficientNet.FromMultipliers(1.0, 1.0, numClasses: 2, stochasticDepthProb: 0.2);
        var blocks = model.Stages.Skip(1).Take(7).SelectMany(s => s.children()).Cast<InvertedResidual>().ToList();
        Assert.That(blocks, Has.Count.EqualTo(16));
        for (int i = 0; i < blocks.Count; i++)
            Assert.That(blocks[i].StochasticDepthProb, Is.EqualTo(0.2 * i / 16).Within(1e-12), $"block {i}");
    }

    [Test]
    public void StochasticDepthDropsTheResidualBranchOnlyInTraining()
    {
        random.manual_seed(1);
        // Stride 1 and 16 -> 16 channels: a residual block. With p = 1 the branch is always dropped in training.
        using var block = EfficientNet.CreateBlock(new EfficientNet.StageConfig(6, 3, 1, 16, 16, 1), stochasticDepthProb: 1.0);
        Assert.That(block.UsesResidual, Is.True);
        var x = randn(4, 16, 8, 8);
        block.train();
        Assert.That(block.call(x).equal(x).all().item<bool>(), Is.True, "training, p = 1: the output must be the input");
        block.eval();
        using (no_grad())
        {
            var y = block.call(x);
            Assert.That((y - x).abs().max().item<float>(), Is.GreaterThan(1e-3f), "evaluation: the branch must be added");
        }
    }

    [Test]
    public void StochasticDepthRowModeDropsWholeSamplesAndKeepsTheExpectation()
    {
        random.manual_seed(2);
        using var sd = new StochasticDepth(0.5);
        var x = ones(256, 3, 4, 4);
        sd.train();
        var y = sd.call(x);
        // Per sample the mask is all 0 or all 1/(1-p) = 2.
        var perSampleMin = y.amin([1, 2, 3]);
        var perSampleMax = y.amax([1, 2, 3]);
        Assert.That(perSampleMin.equal(perSampleMax).all().item<bool>(), Is.True, "a sample is dropped or kept as a whole");
        var values = perSampleMin.data<float>().Distinct().OrderBy(v => v).ToArray();
        Assert.That(values, Is.EqualTo(new[] { 0f, 2f }));
        Assert.That(y.mean().item<float>(), Is.EqualTo(1f).Within(0.2f), "scaling by 1/(1-p) keeps the mean");
        sd.eval();
        Assert.That(sd.call(x).equal(x).all().item<bool>(), Is.True);
        Assert.Throws<ArgumentException>(() => new StochasticDepth(1.5));
    }

    [Test]
    public void SqueezeExcitationScalesChannelsBetweenZeroAndOne()
    {
        random.manual_seed(3);
        using var model = EfficientNet.FromMultipliers(1.0, 1.0, numClasses: 2);
        var se = (SqueezeExcitation)Module(model, "features.2.0.block.2");
        using var _ = no_grad();
        var x = rand(2, 96, 8, 8) + 0.5;   // positive input: output / input is the SE scale
        var scale = se.call(x) / x;
        Assert.That(scale.min().item<float>(), Is.GreaterThan(0f));
        Assert.That(scale.max().item<float>(), Is.LessThan(1f));
        // One scale per (sample, channel): constant over the spatial positions.
        Assert.That((scale - scale.mean([2, 3], keepdim: true)).abs().max().item<float>(), Is.LessThan(1e-5f));
    }

    [Test]
    public void CompoundCoefficientsFollowEquationThree()
    {
        var scaling = CompoundScaling.Paper;
        // α·β²·γ² = 1.2 · 1.1² · 1.15² = 1.92 ≈ 2 (section 3.3).
        Assert.That(scaling.CostFactorPerPhi, Is.EqualTo(2.0).Within(0.1));
        Assert.That(scaling.CostFactorPerPhi, Is.EqualTo(1.92).Within(0.005));
        var one = scaling.Scale(1);
        Assert.That(one.DepthMultiplier, Is.EqualTo(1.2).Within(1e-12));
        Assert.That(one.WidthMultiplier, Is.EqualTo(1.1).Within(1e-12));
        Assert.That(one.Resolution, Is.EqualTo(258));   // 224 · 1.15 = 257.6
        Assert.That(scaling.Scale(0), Is.EqualTo(new ScaledConfig(0, 1, 1, 224)));
        var half = scaling.Scale(-0.5);
        Assert.That(half.DepthMultiplier, Is.EqualTo(Math.Pow(1.2, -0.5)).Within(1e-12));
        Assert.That(half.Resolution, Is.EqualTo(209));  // 224 / sqrt(1.15) = 208.9
        Assert.That(new CompoundScaling(resolutionMultiple: 32).Scale(1).Resolution, Is.EqualTo(256));
    }

    [Test]
    public void InvalidScalingOptionsAreRejected()
    {
        var scaling = CompoundScaling.Paper;
        Assert.That(Assert.Throws<ArgumentException>(() => scaling.Scale(double.NaN))!.ParamName, Is.EqualTo("phi"));
        Assert.That(Assert.Throws<ArgumentException>(() => scaling.Scale(double.PositiveInfinity))!.ParamName, Is.EqualTo("phi"));
        // 224 · 1.15^-14.5 = 29.5 px is below the 32 px the five stride-2 stages need (-14 gives 31.7, rounded to 32).
        var tooSmall = Assert.Throws<ArgumentException>(() => scaling.Scale(-14.5))!;
        Assert.That(tooSmall.ParamName, Is.EqualTo("phi"));
        Assert.That(tooSmall.Message, Does.Contain("32 px"));
        Assert.That(scaling.Scale(-14).Resolution, Is.EqualTo(32));
        Assert.That(Assert.Throws<ArgumentException>(() => new CompoundScaling(alpha: 0))!.ParamName, Is.EqualTo("alpha"));
        Assert.That(Assert.Throws<ArgumentException>(() => new CompoundScaling(baseResolution: 16))!.ParamName, Is.EqualTo("baseResolution"));
        Assert.That(Assert.Throws<ArgumentException>(() => scaling.ForBudget(0))!.ParamName, Is.EqualTo("targetMacs"));
        Assert.That(Assert.Throws<ArgumentException>(() => scaling.ForCostRatio(double.NaN))!.ParamName, Is.EqualTo("costRatio"));
    }

    [Test]
    public void ImpossibleModelOptionsAreRejected()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => EfficientNet.FromMultipliers(0, 1))!.ParamName, Is.EqualTo("widthMultiplier"));
        Assert.That(Assert.Throws<ArgumentException>(() => EfficientNet.FromMultipliers(double.NaN, 1))!.ParamName, Is.EqualTo("widthMultiplier"));
        Assert.That(Assert.Throws<ArgumentException>(() => EfficientNet.FromMultipliers(1, -1))!.ParamName, Is.EqualTo("depthMultiplier"));
        Assert.That(Assert.Throws<ArgumentException>(() => EfficientNet.FromMultipliers(1, double.PositiveInfinity))!.ParamName, Is.EqualTo("depthMultiplier"));
        Assert.That(Assert.Throws<ArgumentException>(() => EfficientNet.FromMultipliers(1, 1, dropRate: 1))!.ParamName, Is.EqualTo("dropRate"));
        Assert.That(Assert.Throws<ArgumentException>(() => EfficientNet.FromMultipliers(1, 1, stochasticDepthProb: 1.5))!.ParamName, Is.EqualTo("stochasticDepthProb"));
    }

    [Test]
    public void MacsGrowByAboutTwoToThePhi()
    {
        // Eq. 3: FLOPs ∝ d·w²·r², so each unit of φ multiplies the cost by α·β²·γ² = 1.92 ≈ 2. The built networks round:
        // depth is ceil(n·α^φ) per stage, so as soon as φ > 0 every 1-block stage gets 2 (B0's 16 blocks become 23 at
        // φ = 1, not 19), and 258 px leaves 9x9 last feature maps where 224 px leaves 7x7 (stride-2 layers round up).
        // Both only add cost, once; width rounding to the nearest multiple of 8 moves it by a few % either way.
        // Hence: φ = 0 → 1 costs between 0.95x and 1.4x of 1.92, each further unit of φ about 1.92 (±15%), and the
        // total at φ = 2 stays near 2^φ = 4 (within [0.9, 1.3]x).
        var scaling = CompoundScaling.Paper;
        double b0 = scaling.Macs(0, numClasses: 10), phi1 = scaling.Macs(1, numClasses: 10), phi2 = scaling.Macs(2, numClasses: 10);
        TestContext.Out.WriteLine($"MACs ratio to phi 0: phi 1 {phi1 / b0:F3}, phi 2 {phi2 / b0:F3}; phi 1 -> 2: {phi2 / phi1:F3}; alpha·beta²·gamma² {scaling.CostFactorPerPhi:F3}");
        Assert.That(phi1 / b0 / scaling.CostFactorPerPhi, Is.InRange(0.95, 1.4), "phi 0 -> 1");
        Assert.That(phi2 / phi1 / scaling.CostFactorPerPhi, Is.InRange(0.85, 1.15), "phi 1 -> 2");
        Assert.That(phi2 / b0 / 4, Is.InRange(0.9, 1.3), "phi 2 vs 2^phi");
    }

    [Test]
    public void ForBudgetFindsThePhiThatHitsTheTarget()
    {
        var scaling = new CompoundScaling(baseResolution: 64);
        long target = 3 * scaling.Macs(0);
        var result = scaling.ForBudget(target, numClasses: 10, relativeTolerance: 0.01);
        TestContext.Out.WriteLine($"target {target:N0}: phi {result.Config.Phi:F4} ({result.Config.Resolution} px) -> {result.Macs:N0} MACs ({result.RelativeError:P2})");
        // Cost moves in steps of one block / 8 channels / 1 px, a few % at this size.
        Assert.That(Math.Abs(result.RelativeError), Is.LessThan(0.03));
        Assert.That(result.Config.Phi, Is.EqualTo(Math.Log(3) / Math.Log(2)).Within(0.6), "cost ≈ 2^φ × base");
        Assert.That(scaling.Macs(result.Config.Phi, numClasses: 10), Is.EqualTo(result.Macs));
        Assert.That(Assert.Throws<ArgumentException>(() => scaling.ForBudget(1000, numClasses: 10))!.ParamName, Is.EqualTo("targetMacs"));
    }

    [Test]
    public void TinyEfficientNetLearns()
    {
        random.manual_seed(0);
        // Width 0.25, depth 0.3: channels 8-80, 8 blocks, head 320; stochastic depth and dropout left at their defaults.
        LearningCheck.AssertLearns(EfficientNet.FromMultipliers(0.25, 0.3, numClasses: 2));
    }
}
