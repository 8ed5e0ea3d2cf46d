using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Blocks;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

public sealed class MnasNetTests
{
    private static Dictionary<string, long[]> Shapes(nn.Module model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);

    [Test]
    public void B1StateDictMatchesTorchvision()
    {
        using var model = new MnasNet(1.0);
        var shapes = Shapes(model);
        // A sample of torchvision mnasnet1_0's keys and shapes: stem, separable conv, first/last MBConv, head, BN buffers.
        var expected = new Dictionary<string, long[]>
        {
            ["layers.0.weight"] = [32, 3, 3, 3],
            ["layers.1.running_var"] = [32],
            ["layers.1.num_batches_tracked"] = [],
            ["layers.3.weight"] = [32, 1, 3, 3],
            ["layers.6.weight"] = [16, 32, 1, 1],
            ["layers.7.bias"] = [16],
            ["layers.8.0.layers.0.weight"] = [48, 16, 1, 1],
            ["layers.8.0.layers.3.weight"] = [48, 1, 3, 3],
            ["layers.8.0.layers.6.weight"] = [24, 48, 1, 1],
            ["layers.9.2.layers.3.weight"] = [120, 1, 5, 5],
            ["layers.12.3.layers.4.running_mean"] = [1152],
            ["layers.13.0.layers.7.running_mean"] = [320],
            ["layers.14.weight"] = [1280, 320, 1, 1],
            ["layers.15.num_batches_tracked"] = [],
            ["classifier.1.weight"] = [1000, 1280],
            ["classifier.1.bias"] = [1000],
        };
        foreach (var (key, shape) in expected)
        {
            Assert.That(shapes, Does.ContainKey(key));
            Assert.That(shapes[key], Is.EqualTo(shape), key);
        }
        // torchvision's module tree: 52 convs (3 in the stem/separable conv, 3 per each of the 16 MBConvs, 1 head),
        // 52 BNs with 5 entries each, plus the Linear's weight and bias.
        Assert.That(shapes.Keys.All(k => k.StartsWith("layers.") || k.StartsWith("classifier.1.")), Is.True);
        Assert.That(shapes.Count, Is.EqualTo(52 + 52 * 5 + 2));
    }

    [Test]
    public void B1UsesTheTensorFlowBatchNormMomentum()
    {
        // momentum 1 - 0.9997: one training step moves the running mean by 0.0003 of the batch mean.
        using var model = new MnasNet(0.5, numClasses: 2);
        model.train();
        using (no_grad()) model.call(ones(2, 3, 32, 32));
        var stemBnMean = model.state_dict()["layers.1.running_mean"];
        var conv = model.state_dict()["layers.0.weight"];
        // With a constant input of ones, the stem conv's interior outputs equal the sum of each filter's weights.
        var interior = conv.sum([1, 2, 3]);
        Assert.That(stemBnMean.abs().max().item<float>(), Is.GreaterThan(0f));
        Assert.That(stemBnMean.abs().max().item<float>(), Is.LessThanOrEqualTo(interior.abs().max().item<float>() * 0.0003f * 1.0001f));
    }

    [Test]
    public void B1DepthsFollowTorchvisionRounding()
    {
        // torchvision _get_depths: round(depth * alpha) to a multiple of 8 with the 0.9 round-up bias, stem included.
        // 0.5: 32→16, 16→8, 24·0.5=12→16, 40·0.5=20→24 (rounds half up), 80→40, 96→48, 192→96, 320→160.
        Assert.That(MnasNet.GetDepths(0.5), Is.EqualTo(new[] { 16, 8, 16, 24, 40, 48, 96, 160 }));
        Assert.That(MnasNet.GetDepths(1.0), Is.EqualTo(new[] { 32, 16, 24, 40, 80, 96, 192, 320 }));
        // 1.3: 16·1.3=20.8→24, 40·1.3=52→56, 96·1.3=124.8→128, 192·1.3=249.6→248 (within 10%, rounds down).
        Assert.That(MnasNet.GetDepths(1.3), Is.EqualTo(new[] { 40, 24, 32, 56, 104, 128, 248, 416 }));
        using var model = new MnasNet(0.5);
        var shapes = Shapes(model);
        Assert.That(shapes["layers.0.weight"], Is.EqualTo(new long[] { 16, 3, 3, 3 }), "version 2 scales the stem");
        Assert.That(shapes["layers.6.weight"], Is.EqualTo(new long[] { 8, 16, 1, 1 }));
        Assert.That(shapes["layers.14.weight"], Is.EqualTo(new long[] { 1280, 160, 1, 1 }), "the head stays 1280 wide");
    }

    [TestCase(0.0)]
    [TestCase(-0.5)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public void BadDepthMultiplierIsRejected(double alpha)
    {
        var ex = Assert.Throws<ArgumentException>(() => new MnasNet(alpha))!;
        Assert.That(ex.ParamName, Is.EqualTo("alpha"));
        Assert.That(ex.Message, Does.Contain("> 0"));
        var a1 = Assert.Throws<ArgumentException>(() => new MnasNetA1(alpha))!;
        Assert.That(a1.ParamName, Is.EqualTo("widthMultiplier"));
    }

    [Test]
    public void B1SkipConnectionsOnlyWhereShapeIsKept()
    {
        var first = MnasNet.CreateBlock(16, 24, 3, 2, 3, MnasNet.ReferenceBnMomentum);
        var repeat = MnasNet.CreateBlock(24, 24, 3, 1, 3, MnasNet.ReferenceBnMomentum);
        Assert.That(first.UsesResidual, Is.False);
        Assert.That(repeat.UsesResidual, Is.True);
        // With the last BN zeroed, the residual branch contributes nothing: the block must return its input.
        using (no_grad())
        {
            foreach (var (name, p) in repeat.named_parameters())
                if (name.StartsWith("layers.7.")) p.zero_();
        }
        repeat.eval();
        var x = randn(1, 24, 8, 8);
        using (no_grad()) Assert.That(repeat.call(x).allclose(x), Is.True);
    }

    [Test]
    public void A1StateDictMatchesTimm()
    {
        using var model = new MnasNetA1();
        var shapes = Shapes(model);
        // A sample of timm semnasnet_100 (mnasnet_a1) keys; SE widths are timm's round(block input channels · 0.25).
        var expected = new Dictionary<string, long[]>
        {
            ["conv_stem.weight"] = [32, 3, 3, 3],
            ["bn1.running_mean"] = [32],
            ["bn1.num_batches_tracked"] = [],
            ["blocks.0.0.conv_dw.weight"] = [32, 1, 3, 3],
            ["blocks.0.0.bn1.weight"] = [32],
            ["blocks.0.0.conv_pw.weight"] = [16, 32, 1, 1],
            ["blocks.0.0.bn2.running_var"] = [16],
            ["blocks.1.0.conv_pw.weight"] = [96, 16, 1, 1],
            ["blocks.1.1.conv_dw.weight"] = [144, 1, 3, 3],
            ["blocks.2.0.conv_dw.weight"] = [72, 1, 5, 5],
            ["blocks.2.0.se.conv_reduce.weight"] = [24 / 4, 72, 1, 1],
            ["blocks.2.0.se.conv_reduce.bias"] = [24 / 4],
            ["blocks.2.1.se.conv_expand.weight"] = [120, 40 / 4, 1, 1],
            ["blocks.2.2.se.conv_expand.bias"] = [120],
            ["blocks.3.3.conv_pwl.weight"] = [80, 480, 1, 1],
            ["blocks.4.0.se.conv_reduce.weight"] = [80 / 4, 480, 1, 1],
            ["blocks.4.1.se.conv_reduce.weight"] = [112 / 4, 672, 1, 1],
            ["blocks.5.2.se.conv_reduce.weight"] = [160 / 4, 960, 1, 1],
            ["blocks.6.0.conv_pwl.weight"] = [320, 960, 1, 1],
            ["blocks.6.0.bn3.num_batches_tracked"] = [],
            ["conv_head.weight"] = [1280, 320, 1, 1],
            ["bn2.bias"] = [1280],
            ["classifier.weight"] = [1000, 1280],
            ["classifier.bias"] = [1000],
        };
        foreach (var (key, shape) in expected)
        {
            Assert.That(shapes, Does.ContainKey(key));
            Assert.That(shapes[key], Is.EqualTo(shape), key);
        }
    }

    [Test]
    public void A1HasSqueezeExcitationExactlyWhereThePaperPutsIt()
    {
        // Figure 7(a): MBConv3 5x5 SE x3 (stage 2), MBConv6 3x3 SE x2 (stage 4), MBConv6 5x5 SE x3 (stage 5); none elsewhere.
        using var model = new MnasNetA1();
        var seBlocks = model.state_dict().Keys
            .Where(k => k.Contains(".se.conv_reduce.weight"))
            .Select(k => k.Split('.'))
            .Select(parts => (Stage: int.Parse(parts[1]), Block: int.Parse(parts[2])))
            .ToList();
        var perStage = Enumerable.Range(0, MnasNetA1.Architecture.Count)
            .Select(s => seBlocks.Count(b => b.Stage == s)).ToArray();
        Assert.That(perStage, Is.EqualTo(new[] { 0, 0, 3, 0, 2, 3, 0 }));
        Assert.That(seBlocks, Has.Count.EqualTo(8));
        // And the config table agrees with the stage depths of the figure: 1, 2, 3, 4, 2, 3, 1 blocks.
        Assert.That(MnasNetA1.Architecture.Select(a => a.Repeats), Is.EqualTo(new[] { 1, 2, 3, 4, 2, 3, 1 }));
    }

    [Test]
    public void A1SqueezeExcitationGatesChannels()
    {
        // Zeroing the expand conv makes the gate sigmoid(0) = 0.5 for every channel: the block halves its input.
        var se = new SqueezeExcitation(8, 2, Activation.ReLU, SqueezeExcitationNames.Timm);
        using (no_grad())
        {
            foreach (var (name, p) in se.named_parameters())
                if (name.StartsWith("conv_expand.")) p.zero_();
        }
        var x = randn(2, 8, 5, 5);
        using (no_grad()) Assert.That(se.call(x).allclose(x * 0.5), Is.True);
    }

    [Test]
    public void StagesAndHeadCoverEveryParameter()
    {
        foreach (Backbone model in new Backbone[] { new MnasNet(0.5), new MnasNetA1(0.5) })
        {
            long total = model.parameters().Sum(p => p.numel());
            long inStages = model.Stages.Sum(s => s.parameters().Sum(p => p.numel()));
            long inHead = model.Head!.parameters().Sum(p => p.numel());
            Assert.That(inStages + inHead, Is.EqualTo(total), model.GetName());
            // stem, SepConv, six MBConv stages (B1) / stem, seven blocks stages (A1), then the 1x1 head conv.
            Assert.That(model.Stages, Has.Count.EqualTo(9));
            model.Dispose();
        }
    }

    // The seed is fixed so the check does not depend on which tests ran before.
    private static void AssertTinyModelLearns(Func<Backbone> create)
    {
        random.manual_seed(0);
        using var model = create();
        LearningCheck.AssertLearns(model);
    }

    [Test]
    public void TinyMnasNetB1Learns() => AssertTinyModelLearns(() => new MnasNet(0.25, numClasses: 2));

    [Test]
    public void TinyMnasNetA1Learns() => AssertTinyModelLearns(() => new MnasNetA1(0.25, numClasses: 2));
}
