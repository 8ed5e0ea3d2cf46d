using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

public sealed class NfNetTests
{
    private NfNet f0 = null!;

    // NFNet-F0 has 71M parameters: build it once for the structural tests.
    [OneTimeSetUp]
    public void BuildF0() => f0 = new NfNet(NfNet.Config.F0);

    [OneTimeTearDown]
    public void DisposeF0() => f0.Dispose();

    [Test]
    public void StateDictNamesAndShapesMatchTimmDmNfnetF0()
    {
        var sd = f0.state_dict();
        // A sample of timm dm_nfnet_f0's keys with their shapes (ScaledStdConv2dSame: weight, bias, gain; SE fc1/fc2; skipinit_gain).
        var expected = new Dictionary<string, long[]>
        {
            ["stem.conv1.weight"] = [16, 3, 3, 3],
            ["stem.conv1.bias"] = [16],
            ["stem.conv1.gain"] = [16, 1, 1, 1],
            ["stem.conv4.weight"] = [128, 64, 3, 3],
            ["stages.0.0.downsample.conv.weight"] = [256, 128, 1, 1],
            ["stages.0.0.conv1.weight"] = [128, 128, 1, 1],
            ["stages.0.0.conv2.weight"] = [128, 128, 3, 3],
            ["stages.0.0.conv2b.gain"] = [128, 1, 1, 1],
            ["stages.0.0.conv3.bias"] = [256],
            ["stages.0.0.attn_last.fc1.weight"] = [128, 256, 1, 1],
            ["stages.0.0.attn_last.fc2.bias"] = [256],
            ["stages.0.0.skipinit_gain"] = [],
            ["stages.1.1.conv2.weight"] = [256, 128, 3, 3],
            ["stages.2.0.downsample.conv.gain"] = [1536, 1, 1, 1],
            ["stages.2.5.conv2b.weight"] = [768, 128, 3, 3],
            ["stages.3.2.conv3.weight"] = [1536, 768, 1, 1],
            ["stages.3.2.attn_last.fc1.weight"] = [768, 1536, 1, 1],
            ["final_conv.weight"] = [3072, 1536, 1, 1],
            ["final_conv.gain"] = [3072, 1, 1, 1],
            ["head.fc.weight"] = [1000, 3072],
            ["head.fc.bias"] = [1000],
        };
        foreach (var (key, shape) in expected)
        {
            Assert.That(sd.ContainsKey(key), Is.True, key);
            Assert.That(sd[key].shape, Is.EqualTo(shape), key);
        }
        // Only transition blocks have a shortcut conv.
        Assert.That(sd.ContainsKey("stages.1.1.downsample.conv.weight"), Is.False);
        Assert.That(sd.Keys.Count(k => k.EndsWith("downsample.conv.weight")), Is.EqualTo(4));
        Assert.That(f0.FeatureDim, Is.EqualTo(3072));
    }

    [Test]
    public void F0StagesHavePaperDepthsWidthsAndGroupWidth128()
    {
        var blocks = Enumerable.Range(0, 4).Select(i => f0.named_modules()
            .Where(nm => nm.module is NfNet.NormFreeBlock && nm.name.StartsWith($"stages.{i}.", StringComparison.Ordinal))
            .Select(nm => (NfNet.NormFreeBlock)nm.module).ToList()).ToList();
        Assert.That(blocks.Select(b => b.Count), Is.EqualTo(new[] { 1, 2, 6, 3 }));
        // Bottleneck width = 0.5 x stage width, in groups of 128 channels: [128, 256, 768, 768] -> [1, 2, 6, 6] groups.
        Assert.That(blocks.Select(b => b[0].Groups), Is.EqualTo(new long[] { 1, 2, 6, 6 }));
        Assert.That(blocks.Select(b => b.Count(x => x.IsTransition)), Is.All.EqualTo(1), "one transition block per stage");
        Assert.That(blocks.All(b => b[0].IsTransition), Is.True, "the transition block is the first of its stage");

        // Stem + stages (final_conv with the last) hold every parameter but the head's: "fine-tune the last N stages" misses nothing.
        var stages = f0.Stages;
        Assert.That(stages, Has.Count.EqualTo(5), "stem + 4 stages");
        long inStages = stages.Sum(st => st.parameters().Sum(p => p.numel()));
        long total = f0.parameters().Sum(p => p.numel()), head = f0.Head!.parameters().Sum(p => p.numel());
        Assert.That(inStages, Is.EqualTo(total - head));
    }

    [Test]
    public void BetaFollowsTheExpectedVarianceResetAtTransitions()
    {
        // Var(h_{i+1}) = Var(h_i) + α²; a transition block's shortcut restarts the variance at 1 (paper section 3 / NF-ResNets).
        var blocks = f0.modules().OfType<NfNet.NormFreeBlock>().ToList();
        double a2 = 0.2 * 0.2;
        // Input variance of each block: the stem output is 1; each block adds α²; a transition block's output restarts at 1 + α².
        double[] expectedVar =
        [
            1,                                                              // stages.0.0
            1 + a2, 1 + a2,                                                 // stages.1.0 (after stage 0), stages.1.1
            1 + 2 * a2, 1 + a2, 1 + 2 * a2, 1 + 3 * a2, 1 + 4 * a2, 1 + 5 * a2, // stages.2.0 .. 2.5
            1 + 6 * a2, 1 + a2, 1 + 2 * a2,                                 // stages.3.0 .. 3.2
        ];
        Assert.That(blocks.Select(b => b.Beta), Is.EqualTo(expectedVar.Select(v => 1 / Math.Sqrt(v))).Within(1e-12));
        Assert.That(blocks.Select(b => b.Alpha), Is.All.EqualTo(0.2));
    }

    [Test]
    public void NoNormalizationLayerAnywhere()
    {
        var norms = f0.named_modules()
            .Where(nm => nm.module is BatchNorm1d or BatchNorm2d or GroupNorm or LayerNorm or InstanceNorm2d or LocalResponseNorm
                         || System.Text.RegularExpressions.Regex.IsMatch(nm.module.GetType().Name, "(Batch|Group|Layer|Instance|RMS)Norm"))
            .Select(nm => nm.name).ToList();
        Assert.That(norms, Is.Empty);
        Assert.That(f0.state_dict().Keys.Where(k => k.Contains("running_")), Is.Empty, "no normalisation statistics");
        Assert.That(f0.modules().OfType<ScaledStdConv2d>().Count(), Is.EqualTo(4 + 12 * 4 + 4 + 1), "stem, 4 per block, shortcuts, final_conv");
    }

    [Test]
    public void SkipInitMakesEveryResidualBlockTheIdentityAtInitialisation()
    {
        using var block = new NfNet.NormFreeBlock(64, 64, 1, NfNet.Config.CpuSmall, beta: 0.9, gamma: NfNet.NonlinearityGamma(Activation.GELU), dropPathRate: 0);
        Assert.That(block.SkipInitGain.item<float>(), Is.EqualTo(0f));
        using var _ = no_grad();
        var x = randn(2, 64, 8, 8);
        Assert.That(block.call(x).allclose(x), Is.True, "h + α·0·f(h/β) = h");
        block.SkipInitGain.fill_(1f);
        Assert.That(block.call(x).allclose(x), Is.False, "the residual branch is live once the gain moves");
    }

    [Test]
    public void StandardizedKernelHasZeroMeanAndVarianceGainSquaredOverFanIn()
    {
        random.manual_seed(1);
        const double gamma = 1.7015043497085571;
        using var conv = new ScaledStdConv2d(12, 6, 3, groups: 3, gamma: gamma);
        using (no_grad())
        {
            // Shift and stretch the raw weights and vary the gain, so standardisation has work to do.
            conv.Weight.mul_(5).add_(3);
            conv.Gain.copy_(tensor(new float[] { 0.5f, 1f, 2f, 3f, 0.1f, 1.5f }).view(6, 1, 1, 1));
        }
        var w = conv.StandardizedWeight().detach().view(6, -1);
        Assert.That(conv.FanIn, Is.EqualTo(12 / 3 * 9));
        var mean = w.mean(new long[] { 1 });
        var variance = w.var(1, unbiased: false);
        var expectedVar = conv.Gain.detach().view(6).pow(2) * (gamma * gamma / conv.FanIn);
        Assert.That(mean.abs().max().item<float>(), Is.LessThan(1e-6f));
        Assert.That((variance / expectedVar - 1).abs().max().item<float>(), Is.LessThan(1e-4f));
    }

    [Test]
    public void ScaledWeightStandardizationPreservesUnitVariance()
    {
        // With gain 1 each standardised row has squared norm 1, so a unit Gaussian input keeps unit variance.
        random.manual_seed(2);
        using var conv = new ScaledStdConv2d(256, 128, 1, bias: false);
        using (no_grad()) conv.Weight.mul_(10).add_(1);   // a badly scaled raw weight
        using var _ = no_grad();
        var y = conv.call(randn(8, 256, 16, 16));
        Assert.That(y.var().item<float>(), Is.EqualTo(1f).Within(0.05f));
        Assert.That(y.mean().item<float>(), Is.EqualTo(0f).Within(0.05f));
    }

    [Test]
    public void GammaRestoresUnitVarianceAfterGelu()
    {
        random.manual_seed(3);
        using var act = new NfNet.GammaAct(Activation.GELU, NfNet.NonlinearityGamma(Activation.GELU));
        using var _ = no_grad();
        Assert.That(act.call(randn(1_000_000)).var().item<float>(), Is.EqualTo(1f).Within(0.01f),
            "the reference code's γ = 1/std(gelu(x)) for x ~ N(0,1)");
    }

    [Test]
    public void StridedConvsPadLikeTensorFlowSame()
    {
        random.manual_seed(4);
        using var conv = new ScaledStdConv2d(2, 3, 3, stride: 2, tfSamePadding: true);
        using var _ = no_grad();
        var x = randn(1, 2, 6, 7);
        var y = conv.call(x);
        Assert.That(y.shape, Is.EqualTo(new long[] { 1, 3, 3, 4 }), "ceil(6/2) x ceil(7/2)");
        // SAME: total padding 1 on each axis for 6 and 2 for 7, the odd pixel at the bottom/right.
        var manual = nn.functional.conv2d(nn.functional.pad(x, new long[] { 1, 1, 0, 1 }), conv.StandardizedWeight(), conv.Bias,
            strides: new long[] { 2, 2 });
        Assert.That(y.allclose(manual, rtol: 1e-5, atol: 1e-6), Is.True);
    }

    [Test]
    public void AgcClipsExactlyTheUnitsAboveLambda()
    {
        const double lambda = 0.1, eps = 1e-3;
        var w = new Parameter(tensor(new float[,]
        {
            { 3, 4, 0 },      // ‖W‖ = 5
            { 1, 0, 0 },      // ‖W‖ = 1
            { 0, 0, 0 },      // ‖W‖ = 0 -> ε
            { 0, 6, 8 },      // ‖W‖ = 10
        }));
        var grad = tensor(new float[,]
        {
            { 0, 3, 4 },          // ‖G‖ = 5 > 0.1·5  -> clipped to 0.5
            { 0.06f, 0, 0.08f },  // ‖G‖ = 0.1 ≤ 0.1·1 -> untouched (boundary)
            { 1, 0, 0 },          // ‖G‖ = 1 > 0.1·ε  -> clipped to 1e-4
            { 0.3f, 0, 0.4f },    // ‖G‖ = 0.5 ≤ 1     -> untouched
        });
        SetGrad(w, grad);
        var before = w.grad!.clone();

        long clipped = AdaptiveGradientClipping.Apply([w], lambda, eps);

        Assert.That(clipped, Is.EqualTo(2));
        var g = w.grad!;
        var gNorm = g.norm(1).to_type(ScalarType.Float64);
        Assert.That(gNorm[0].item<double>(), Is.EqualTo(lambda * 5).Within(1e-6), "ratio is exactly λ after clipping");
        Assert.That(gNorm[2].item<double>(), Is.EqualTo(lambda * eps).Within(1e-9), "‖W‖ below ε uses ε");
        Assert.That((g[0] / gNorm[0]).allclose(before[0] / 5), Is.True, "direction is kept");
        Assert.That(Same(g[1], before[1]), Is.True, "unit at the threshold is untouched");
        Assert.That(Same(g[3], before[3]), Is.True, "unit below the threshold is untouched");
    }

    [Test]
    public void AgcTreatsVectorsAndScalarsAsOneUnit()
    {
        var bias = new Parameter(tensor(new float[] { 3, 4 }));          // ‖W‖ = 5
        var scalar = new Parameter(tensor(0f));                           // ‖W‖ = 0 -> ε
        SetGrad(bias, tensor(new float[] { 30, 40 }));                   // ‖G‖ = 50 > 0.01·5
        SetGrad(scalar, tensor(2f));
        Assert.That(AdaptiveGradientClipping.Apply([bias, scalar]), Is.EqualTo(2));
        Assert.That(bias.grad!.norm().item<float>(), Is.EqualTo(0.05f).Within(1e-6f));
        Assert.That(bias.grad!.allclose(tensor(new float[] { 0.03f, 0.04f })), Is.True);
        Assert.That(scalar.grad!.item<float>(), Is.EqualTo(1e-5f).Within(1e-9f), "λ·ε = 0.01·1e-3");
    }

    [Test]
    public void AgcWorksWithAnyModuleAndOptimizer()
    {
        random.manual_seed(5);
        using var net = nn.Sequential(("0", nn.Linear(4, 16)), ("1", nn.ReLU()), ("2", nn.Linear(16, 3)));
        var optimizer = optim.SGD(net.parameters(), 0.1);
        var x = randn(32, 4) * 100;   // huge inputs -> huge gradients, which AGC must tame
        var y = randint(0, 3, 32);
        var before = net.parameters().Select(p => p.detach().clone()).ToList();
        optimizer.zero_grad();
        nn.functional.cross_entropy(net.call(x), y).backward();
        long clipped = AdaptiveGradientClipping.Apply(net.parameters(), 0.01);
        Assert.That(clipped, Is.GreaterThan(0));
        foreach (var p in net.parameters())
        {
            var ratio = AdaptiveGradientClipping.UnitwiseNorm(p.grad!) / AdaptiveGradientClipping.UnitwiseNorm(p.detach()).clamp_min(1e-3);
            Assert.That(ratio.max().item<float>(), Is.LessThanOrEqualTo(0.01f * (1 + 1e-5f)));
        }
        optimizer.step();
        // With plain SGD each unit moves by at most lr·λ·max(‖W_i‖, ε).
        foreach (var (p, old) in net.parameters().Zip(before))
        {
            var step = AdaptiveGradientClipping.UnitwiseNorm(p.detach() - old);
            var limit = AdaptiveGradientClipping.UnitwiseNorm(old).clamp_min(1e-3) * (0.1 * 0.01);
            Assert.That((step - limit).max().item<float>(), Is.LessThanOrEqualTo(1e-6f));
            Assert.That(p.isfinite().all().item<bool>(), Is.True);
        }
    }

    [Test]
    public void AgcCanLeaveTheClassifierAlone()
    {
        random.manual_seed(6);
        using var model = BackboneRegistry.Create("nfnet_cpu_s", new BackboneOptions { NumClasses = 2 });
        var (x, y) = LearningCheck.StripeBatch(4, 32);
        nn.functional.cross_entropy(model.call(x * 50), y).backward();
        var grads = model.named_parameters().ToDictionary(np => np.name, np => np.parameter.grad!.clone());

        AdaptiveGradientClipping.ApplyExceptHead(model, clipping: 1e-4);

        foreach (var (name, p) in model.named_parameters())
        {
            if (name.StartsWith("head.", StringComparison.Ordinal))
                Assert.That(Same(p.grad!, grads[name]), Is.True, $"{name} must not be clipped");
        }
        Assert.That(model.named_parameters().Any(np => !Same(np.parameter.grad!, grads[np.name])), Is.True, "the body is clipped");

        foreach (var (name, p) in model.named_parameters().Where(np => !np.name.StartsWith("head.", StringComparison.Ordinal)))
        {
            var ratio = AdaptiveGradientClipping.UnitwiseNorm(p.grad!) / AdaptiveGradientClipping.UnitwiseNorm(p.detach()).clamp_min(1e-3);
            Assert.That(ratio.max().item<float>(), Is.LessThanOrEqualTo(1e-4f * (1 + 1e-4f)), name);
        }

        // The predicate overload selects by name: here only the head, which is far above λ.
        long clippedHead = AdaptiveGradientClipping.Apply(model.named_parameters(), n => n.StartsWith("head.", StringComparison.Ordinal), 1e-4);
        Assert.That(clippedHead, Is.EqualTo(2 + 1), "2 rows of head.fc.weight and the head.fc.bias vector");
    }

    [Test]
    public void AgcRejectsNonPositiveLambdaAndEps()
    {
        var p = new Parameter(ones(2, 2));
        foreach (double bad in new[] { 0.0, -0.01, double.NaN, double.PositiveInfinity })
        {
            Assert.That(Assert.Throws<ArgumentException>(() => AdaptiveGradientClipping.Apply([p], clipping: bad))!.ParamName, Is.EqualTo("clipping"));
            Assert.That(Assert.Throws<ArgumentException>(() => AdaptiveGradientClipping.Apply([p], eps: bad))!.ParamName, Is.EqualTo("eps"));
        }
        Assert.That(Assert.Throws<ArgumentException>(() => AdaptiveGradientClipping.Apply([("w", p)], _ => true, clipping: -1))!.ParamName, Is.EqualTo("clipping"));
    }

    [Test]
    public void ImpossibleConfigsAreRejected()
    {
        var small = NfNet.Config.CpuSmall;
        Assert.That(Assert.Throws<ArgumentException>(() => new NfNet(small with { Depths = [1, 1, 1] }))!.ParamName, Is.EqualTo("Depths"));
        Assert.That(Assert.Throws<ArgumentException>(() => new NfNet(small with { StemWidth = 12 }))!.ParamName, Is.EqualTo("StemWidth"));
        var ex = Assert.Throws<ArgumentException>(() => new NfNet(small with { GroupWidth = 64 }))!;
        Assert.That(ex.ParamName, Is.EqualTo("GroupWidth"));
        Assert.That(ex.Message, Does.Contain("32"), "names the bottleneck width it exceeds");
        Assert.That(Assert.Throws<ArgumentException>(() => new NfNet(small with { Alpha = 0 }))!.ParamName, Is.EqualTo("Alpha"));
        Assert.That(Assert.Throws<ArgumentException>(() => new NfNet(small, stochasticDepthRate: 1.0))!.ParamName, Is.EqualTo("stochasticDepthRate"));
        Assert.That(Assert.Throws<ArgumentException>(() => new ScaledStdConv2d(6, 4, 3, groups: 4))!.ParamName, Is.EqualTo("groups"));
    }

    [Test]
    public void CpuVariantIsSmallAndAcceptsTheMinimumInput()
    {
        using var model = BackboneRegistry.Create("nfnet_cpu_s");
        long parameters = model.parameters().Sum(p => p.numel());
        var profile = EfficientCnn.Backbones.Profiling.ModelProfiler.Profile(model, 128);
        TestContext.Out.WriteLine($"nfnet_cpu_s: {parameters:N0} params, {profile.Macs:N0} MACs at 128 px");
        Assert.That(profile.Layers.Count(l => l.Kind == nameof(ScaledStdConv2d)), Is.EqualTo(4 + 5 * 4 + 3 + 1),
            "the profiler sees every ScaledStdConv2d (stem, 4 per block, 3 shortcuts: stage 0 keeps 64 channels at stride 1, final_conv)");
        Assert.That(parameters, Is.InRange(1_000_000, 3_000_000));
        model.eval();
        using var _ = no_grad();
        Assert.That(model.call(randn(1, 3, 32, 32)).shape, Is.EqualTo(new long[] { 1, 1000 }), "total stride 32: 32 px gives a 1x1 map");
    }

    [Test]
    public void TinyNfNetLearns() =>
        LearningCheck.AssertLearns(BackboneRegistry.Create("nfnet_cpu_s", new BackboneOptions { NumClasses = 2 }), steps: 20);

    [Test]
    public void TinyNfNetLearnsWithSgdAndAgc()
    {
        // The paper's recipe in miniature: SGD with Nesterov momentum, AGC on everything but the classifier.
        random.manual_seed(0);
        using var model = BackboneRegistry.Create("nfnet_cpu_s", new BackboneOptions { NumClasses = 2, DropRate = 0 });
        var (x, y) = LearningCheck.StripeBatch(16, 32);
        var optimizer = optim.SGD(model.parameters(), 0.1, momentum: 0.9, nesterov: true);
        model.train();
        double first = double.NaN;
        for (int step = 0; step < 15; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            AdaptiveGradientClipping.ApplyExceptHead(model, clipping: 0.04);
            optimizer.step();
            if (step == 0) first = loss.item<float>();
        }
        model.eval();
        double last;
        using (no_grad()) last = nn.functional.cross_entropy(model.call(x), y).item<float>();
        TestContext.Out.WriteLine($"nfnet_cpu_s SGD+AGC: loss {first:F4} -> {last:F4}");
        Assert.That(last, Is.LessThan(first * 0.5));
    }

    [Test]
    public void OnnxExportWithLiveResidualBranchesMatchesOnnxRuntimeAndImportsBack()
    {
        // The zoo-wide ONNX test runs freshly built nets whose skip gains are 0 (every branch switched off); here every
        // branch is live and every conv gain differs from 1, and odd H/W make the strided convs pad asymmetrically
        // (TF "SAME") and the shortcut pools use ceil mode.
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        using var model = BackboneRegistry.Create("nfnet_cpu_s", new BackboneOptions { NumClasses = 3 });
        using (no_grad())
        {
            foreach (var block in model.modules().OfType<NfNet.NormFreeBlock>()) block.SkipInitGain.fill_(0.7f);
            foreach (var conv in model.modules().OfType<ScaledStdConv2d>()) conv.Gain.uniform_(0.5, 1.5);
        }
        model.eval();
        var bytes = OnnxExporter.ExportBytes(model, new OnnxExportOptions { VariantName = "nfnet_cpu_s" });
        var x = rand(new long[] { 2, 3, 45, 37 }, generator: new Generator(3)) * 2 - 1;
        Tensor f, y;
        using (inference_mode())
        {
            f = model.ForwardFeatures(x);
            y = model.call(x);
        }
        var ort = OnnxParity.Run(bytes, x);
        using var imported = OnnxImportedModule.Load(bytes);
        imported.eval();
        Tensor yImported;
        using (inference_mode()) yImported = imported.call(x);
        foreach (var (what, reference, actual) in new[] { ("features", f, ort["features"]), ("logits", y, ort["logits"]), ("imported logits", ort["logits"], yImported) })
            OnnxAssert.Close(reference, actual, what);
        // The branches really contribute: switching the skip gains off changes the features.
        using (no_grad()) foreach (var block in model.modules().OfType<NfNet.NormFreeBlock>()) block.SkipInitGain.zero_();
        using (inference_mode()) Assert.That(model.ForwardFeatures(x).allclose(f, rtol: 1e-3, atol: 1e-3), Is.False);
    }

    private static bool Same(Tensor a, Tensor b) => a.allclose(b, rtol: 0, atol: 0);

    private static void SetGrad(Parameter p, Tensor grad)
    {
        // Produce .grad through autograd, as a real backward pass would: d(sum(p·g))/dp = g.
        (p * grad).sum().backward();
    }
}
