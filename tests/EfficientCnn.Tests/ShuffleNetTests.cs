using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Profiling;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.MLNet;
using NUnit.Framework;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

public sealed class ShuffleNetTests
{
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    // ---- Channel shuffle -------------------------------------------------------------------------------------

    [TestCase(3, 4)]
    [TestCase(2, 5)]
    [TestCase(8, 3)]
    public void ChannelShuffleIsTheReshapeTransposeFlattenPermutation(int g, int n)
    {
        // Each channel holds its own index, so the output spells out the permutation.
        var x = arange(g * n).to_type(ScalarType.Float32).view(1, g * n, 1, 1).expand(2, g * n, 3, 2).contiguous();
        var y = ChannelShuffle.Shuffle(x, g);
        Assert.That(y.shape, Is.EqualTo(x.shape));
        for (int i = 0; i < g * n; i++)
        {
            var channel = y[.., i];
            Assert.That(channel.eq((i % g) * n + i / g).all().item<bool>(), Is.True, $"output channel {i} must come from input channel {(i % g) * n + i / g}");
        }
        using var module = new ChannelShuffle(g);
        Assert.That(Same(module.call(x), y), Is.True, "module and static function must agree");
    }

    [Test]
    public void ShufflingWithNGroupsUndoesShufflingWithGGroups()
    {
        const int g = 3, n = 4;
        var x = randn(2, g * n, 5, 5);
        var shuffled = ChannelShuffle.Shuffle(x, g);
        Assert.That(Same(shuffled, x), Is.False, "a shuffle with g > 1 must move channels");
        Assert.That(Same(ChannelShuffle.Shuffle(shuffled, n), x), Is.True);
    }

    [Test]
    public void ChannelShuffleRejectsGroupsThatDoNotDivideTheChannels()
    {
        var ex = Assert.Throws<ArgumentException>(() => ChannelShuffle.Shuffle(zeros(1, 10, 2, 2), 3))!;
        Assert.That(ex.ParamName, Is.EqualTo("groups"));
        Assert.That(ex.Message, Does.Contain("10"));
        Assert.That(Assert.Throws<ArgumentException>(() => new ChannelShuffle(0))!.ParamName, Is.EqualTo("groups"));
    }

    // ---- ShuffleNet V1 -----------------------------------------------------------------------------------------

    [Test]
    public void V1StateDictNamesFollowTheAuthorsCode()
    {
        using var model = new ShuffleNetV1(groups: 3);
        var sd = model.state_dict();
        // megvii-model/ShuffleNet-Series ShuffleNetV1 names, incl. BN buffers; the classifier Linear has no bias there.
        foreach (var key in new[] { "first_conv.0.weight", "first_conv.1.running_mean", "features.0.branch_main_1.0.weight",
                     "features.0.branch_main_1.4.num_batches_tracked", "features.0.branch_main_2.0.weight", "features.15.branch_main_2.1.running_var",
                     "classifier.0.weight" })
            Assert.That(sd.Keys, Does.Contain(key));
        Assert.That(sd.Keys, Does.Not.Contain("classifier.0.bias"));
        Assert.That(sd.Keys.Count(k => k.StartsWith("features.") && k.EndsWith(".branch_main_1.0.weight")), Is.EqualTo(16), "Table 1: 4 + 8 + 4 units");
        Assert.That(model.FeatureDim, Is.EqualTo(960));
    }

    [Test]
    public void V1FirstPointwiseOfStage2IsDenseAndTheOthersAreGrouped()
    {
        using var model = new ShuffleNetV1(groups: 3);
        var sd = model.state_dict();
        // Conv weight [out, in/groups, 1, 1]: Stage2's first 1x1 sees all 24 Conv1 channels; later ones see in/3.
        Assert.That(sd["features.0.branch_main_1.0.weight"].shape, Is.EqualTo(new long[] { 60, 24, 1, 1 }));
        Assert.That(sd["features.0.branch_main_2.0.weight"].shape, Is.EqualTo(new long[] { 240 - 24, 60 / 3, 1, 1 }), "stride 2: GConv makes output − input channels");
        Assert.That(sd["features.1.branch_main_1.0.weight"].shape, Is.EqualTo(new long[] { 60, 240 / 3, 1, 1 }));
        Assert.That(sd["features.4.branch_main_1.0.weight"].shape, Is.EqualTo(new long[] { 120, 240 / 3, 1, 1 }), "Stage3 opens with the next stride-2 unit");
        Assert.That(sd["features.1.branch_main_1.3.weight"].shape, Is.EqualTo(new long[] { 60, 1, 3, 3 }), "3x3 depthwise");
    }

    [Test]
    public void V1StrideTwoUnitConcatenatesTheAveragePooledInput()
    {
        using var unit = new ShuffleNetV1.ShuffleUnit(12, 48, groups: 3, stride: 2);
        unit.eval();
        using var _ = no_grad();
        var x = rand(2, 12, 8, 8);
        var y = unit.call(x);
        Assert.That(y.shape, Is.EqualTo(new long[] { 2, 48, 4, 4 }));
        var pooled = nn.functional.avg_pool2d(x, 3, 2, 1);
        Assert.That(y[.., ..12].allclose(pooled), Is.True, "the first input-many channels are the 3x3 average-pooled shortcut");
    }

    [Test]
    public void V1StrideOneUnitAddsItsInput()
    {
        using var unit = new ShuffleNetV1.ShuffleUnit(24, 24, groups: 2, stride: 1);
        unit.eval();
        using var _ = no_grad();
        // Silence the main branch through its last BN: the unit must then return ReLU(x) (identity shortcut).
        foreach (var (name, p) in unit.named_parameters())
            if (name.StartsWith("branch_main_2.1.")) p.zero_();
        var x = randn(2, 24, 6, 6);
        Assert.That(unit.call(x).allclose(nn.functional.relu(x)), Is.True);
    }

    [TestCase(1, 143)]
    [TestCase(2, 140)]
    [TestCase(3, 137)]
    [TestCase(4, 133)]
    [TestCase(8, 137)]
    public void V1MacsMatchTable1ForEveryGroupCount(int groups, int mflops)
    {
        // Paper Table 1, complexity row (MFLOPs = mult-adds at 224 px); covers g=1, 2, 4 that have no params reference.
        using var model = new ShuffleNetV1(groups);
        var macs = ModelProfiler.Profile(model, 224).Macs;
        TestContext.Out.WriteLine($"g={groups}: {macs:N0} MACs (Table 1: {mflops}M)");
        Assert.That(macs, Is.EqualTo(mflops * 1_000_000L).Within(2).Percent);
    }

    [Test]
    public void V1HalfWidthMatchesTable2()
    {
        // Paper Table 2: ShuffleNet 0.5x is 38 MFLOPs (for every g); g=1 has no other published figure.
        using var model = new ShuffleNetV1(1, 0.5);
        Assert.That(ModelProfiler.Profile(model, 224).Macs, Is.EqualTo(38_000_000L).Within(2).Percent);
    }

    [Test]
    public void V1ImpossibleOptionsNameTheOptionAndTheLimit()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ShuffleNetV1(groups: 5))!;
        Assert.That(ex.ParamName, Is.EqualTo("groups"));
        Assert.That(ex.Message, Does.Contain("1, 2, 3, 4, 8"));
        foreach (var scale in new[] { 0.0, -1.0, double.NaN })
            Assert.That(Assert.Throws<ArgumentException>(() => new ShuffleNetV1(3, scale))!.ParamName, Is.EqualTo("scale"));
        // g=2 at 0.5x: Stage2 has 100 channels, so the bottleneck has 25, which 2 groups cannot split.
        ex = Assert.Throws<ArgumentException>(() => new ShuffleNetV1(groups: 2, scale: 0.5))!;
        Assert.That(ex.ParamName, Is.EqualTo("groups"));
        Assert.That(ex.Message, Does.Contain("25"));
        Assert.That(Assert.Throws<ArgumentException>(() => new ShuffleNetV1(3, 1.0, stemChannels: 240))!.ParamName, Is.EqualTo("stemChannels"));
        ex = Assert.Throws<ArgumentException>(() => new ShuffleNetV1(groups: 8, scale: 0.1))!;
        Assert.That(ex.ParamName, Is.EqualTo("scale"));
        Assert.That(ex.Message, Does.Contain("64"), "Stage2 needs at least 8·g channels");
    }

    [Test]
    public void TinyShuffleNetV1Learns()
    {
        random.manual_seed(0);
        LearningCheck.AssertLearns(new ShuffleNetV1(groups: 3, scale: 0.25, numClasses: 2));
    }

    // ---- ShuffleNet V2 -----------------------------------------------------------------------------------------

    [Test]
    public void V2StateDictMatchesTorchvision()
    {
        using var model = new ShuffleNetV2(1.0);
        var sd = model.state_dict();
        // A sample of torchvision shufflenet_v2_x1_0's keys with their shapes, incl. BN buffers.
        var expected = new Dictionary<string, long[]>
        {
            ["conv1.0.weight"] = [24, 3, 3, 3],
            ["conv1.1.running_mean"] = [24],
            ["stage2.0.branch1.0.weight"] = [24, 1, 3, 3],
            ["stage2.0.branch1.2.weight"] = [58, 24, 1, 1],
            ["stage2.0.branch1.3.num_batches_tracked"] = [],
            ["stage2.0.branch2.0.weight"] = [58, 24, 1, 1],
            ["stage2.1.branch2.0.weight"] = [58, 58, 1, 1],
            ["stage3.7.branch2.3.weight"] = [116, 1, 3, 3],
            ["stage4.3.branch2.6.running_var"] = [232],
            ["conv5.0.weight"] = [1024, 464, 1, 1],
            ["conv5.1.bias"] = [1024],
            ["fc.weight"] = [1000, 1024],
            ["fc.bias"] = [1000],
        };
        foreach (var (key, shape) in expected)
        {
            Assert.That(sd.Keys, Does.Contain(key));
            Assert.That(sd[key].shape, Is.EqualTo(shape), key);
        }
        Assert.That(sd.Keys.Any(k => k.StartsWith("stage2.1.branch1")), Is.False, "stride-1 units have an empty branch1");
        Assert.That(sd.Keys, Does.Not.Contain("stage4.4.branch2.0.weight"), "Table 5: Stage4 has 4 units");
    }

    [Test]
    public void V2UnitKeepsHalfTheChannelsUntouchedBeforeTheShuffle()
    {
        using var unit = new ShuffleNetV2.InvertedResidual(16, 16, 1);
        unit.eval();
        using var _ = no_grad();
        var x = randn(2, 16, 5, 5);
        var y = unit.call(x);
        // Undo the final 2-group shuffle (8 channels per group) to see the concatenation [x1, branch2(x2)].
        var unshuffled = ChannelShuffle.Shuffle(y, 8);
        Assert.That(Same(unshuffled[.., ..8], x[.., ..8]), Is.True, "the first half passes through unchanged");
        Assert.That(unshuffled[.., 8..].allclose(x[.., 8..]), Is.False, "the second half goes through branch2");
        // After the shuffle the untouched half sits on the even channels.
        Assert.That(Same(y[.., TensorIndex.Slice(0, null, 2)], x[.., ..8]), Is.True);
    }

    [Test]
    public void V2DownsamplingUnitHalvesResolutionAndUsesBothBranches()
    {
        using var unit = new ShuffleNetV2.InvertedResidual(24, 116, 2);
        unit.eval();
        using var _ = no_grad();
        Assert.That(unit.call(randn(1, 24, 8, 8)).shape, Is.EqualTo(new long[] { 1, 116, 4, 4 }));
    }

    [Test]
    public void V2DropoutIsAppliedBeforeFcOnlyWhenTraining()
    {
        using var model = new ShuffleNetV2([1, 1, 1], [8, 16, 32, 64, 64], numClasses: 3, dropRate: 0.5);
        var x = randn(4, 3, 32, 32);
        model.train();
        using (no_grad())
            Assert.That(Same(model.call(x), model.call(x)), Is.False, "training-mode dropout must perturb the logits");
        model.eval();
        using (no_grad())
            Assert.That(model.call(x).allclose(model.Head!.call(model.ForwardFeatures(x))), Is.True, "eval mode: no dropout");
    }

    [Test]
    public void V2ImpossibleOptionsNameTheOption()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ShuffleNetV2(0.75))!;
        Assert.That(ex.ParamName, Is.EqualTo("scale"));
        Assert.That(ex.Message, Does.Contain("0.5").And.Contain("2"));
        Assert.That(Assert.Throws<ArgumentException>(() => new ShuffleNetV2([4, 8, 4], [24, 115, 232, 464, 1024]))!.ParamName,
            Is.EqualTo("stagesOutChannels"), "odd stage channels cannot be split in halves");
        Assert.That(Assert.Throws<ArgumentException>(() => new ShuffleNetV2([4, 8], [24, 116, 232, 464, 1024]))!.ParamName, Is.EqualTo("stagesRepeats"));
    }

    [Test]
    public void TinyShuffleNetV2Learns()
    {
        random.manual_seed(0);
        LearningCheck.AssertLearns(new ShuffleNetV2([2, 2, 2], [16, 32, 64, 128, 256], numClasses: 2));
    }

    // ---- ONNX export -------------------------------------------------------------------------------------------

    /// <summary>
    /// One exported graph serves other batch sizes and other (odd, non-square) image sizes: the channel shuffle's
    /// reshapes and V2's split must not bake in the export-time N, H, W. Parity is checked against ONNX Runtime.
    /// </summary>
    [TestCase("shufflenet_v1_g3_0.25")]
    [TestCase("shufflenet_v2_0.5")]
    public void OnnxExportKeepsBatchAndSpatialSizeDynamic(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        using var model = BackboneRegistry.Create(name, new BackboneOptions { NumClasses = 3 });
        model.eval();
        var bytes = OnnxExporter.ExportBytes(model);
        foreach (var (n, h, w) in new[] { (1, 35, 47), (3, 64, 48) })
        {
            var x = rand(new long[] { n, 3, h, w }, generator: new Generator((ulong)h)) * 2 - 1;
            Tensor y;
            using (inference_mode()) y = model.call(x);
            OnnxAssert.Close(OnnxParity.Run(bytes, x)["logits"], y, $"{name} at {n}x3x{h}x{w}");
        }
    }
}
