using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// NFNet (Brock, De, Smith, Simonyan 2021, "High-Performance Large-Scale Image Recognition Without Normalization"):
/// a pre-activation SE-ResNeXt-like network with no normalisation layer at all. Signal propagation is controlled by
/// Scaled Weight Standardization (<see cref="ScaledStdConv2d"/>), activation gains γ, residual branches
/// <c>h + α·f(h/β)</c> with β = sqrt(expected variance) (reset at each stage's transition block) and a zero-initialised
/// scalar skip gain; training uses <see cref="Training.AdaptiveGradientClipping"/>.
/// </summary>
/// <remarks>
/// Layout and module names equal timm's DeepMind-compatible <c>dm_nfnet_f0</c>/<c>dm_nfnet_f1</c>
/// (timm/models/nfnet.py): <c>stem.conv1..conv4</c>, <c>stages.i.j.{downsample.conv, conv1, conv2, conv2b, conv3,
/// attn_last.fc1, attn_last.fc2, skipinit_gain}</c>, <c>final_conv</c>, <c>head.fc</c>; γ is applied by the activations
/// (timm's <c>gamma_in_act</c>) and strided convolutions pad like TensorFlow "SAME".
/// </remarks>
public sealed class NfNet : Backbone, IBackboneFamily
{
    /// <summary>
    /// An NFNet configuration. <see cref="F0"/> and <see cref="F1"/> mirror the paper's Table 1 / Appendix C
    /// (depths N·[1,2,6,3], widths [256,512,1536,1536], group width 128, bottleneck ratio 0.5, SE ratio 0.5, α = 0.2).
    /// </summary>
    /// <param name="Depths">Blocks per stage (4 stages).</param>
    /// <param name="Widths">Output channels per stage.</param>
    /// <param name="StemWidth">Output channels of the 4-conv stem (its convs have /8, /4, /2, /1 of it).</param>
    /// <param name="GroupWidth">Channels per group of the 3x3 convs.</param>
    /// <param name="BottleneckRatio">Bottleneck width / block output width.</param>
    /// <param name="SeRatio">Squeeze-excite reduction: squeeze channels / block output width.</param>
    /// <param name="Alpha">α, the residual branch scale (0.2).</param>
    /// <param name="FinalWidthMultiplier">final_conv channels / last stage width (2).</param>
    /// <param name="Activation">Nonlinearity; its γ comes from <see cref="NonlinearityGamma"/>.</param>
    public sealed record Config(int[] Depths, int[] Widths, int StemWidth = 128, int GroupWidth = 128, double BottleneckRatio = 0.5,
        double SeRatio = 0.5, double Alpha = 0.2, double FinalWidthMultiplier = 2.0, Activation Activation = Activation.GELU)
    {
        // Paper Table 1 (all variants: widths [256,512,1536,1536], group width 128, SE and bottleneck ratio 0.5):
        //   variant  depths          train px  test px  dropout
        //   F0       [1, 2, 6, 3]    192       256      0.2
        //   F1       [2, 4, 12, 6]   224       320      0.3
        /// <summary>NFNet-F0: depths [1,2,6,3] (train 192 px, test 256 px, dropout 0.2).</summary>
        public static Config F0 => new([1, 2, 6, 3], [256, 512, 1536, 1536]);

        /// <summary>NFNet-F1: depths [2,4,12,6] (train 224 px, test 320 px, dropout 0.3).</summary>
        public static Config F1 => new([2, 4, 12, 6], [256, 512, 1536, 1536]);

        /// <summary>
        /// A small CPU variant of this zoo (not in the paper): F0's layout at a quarter of the width, depths [1,1,2,1],
        /// stem 64, group width 32; 1.47M parameters with a 1000-class head (0.96M without), for tests and CPU fine-tuning at 128 px.
        /// </summary>
        public static Config CpuSmall => new([1, 1, 2, 1], [64, 128, 256, 256], StemWidth: 64, GroupWidth: 32);
    }

    private readonly Sequential stem;
    private readonly Sequential stages;
    private readonly ScaledStdConv2d final_conv;
    private readonly GammaAct final_act;
    private readonly ClassifierHead? head;

    /// <summary>Builds an NFNet from <paramref name="config"/>.</summary>
    /// <param name="config">Depths, widths and the other architecture choices.</param>
    /// <param name="numClasses">Classes of <c>head.fc</c>; 0 for a feature extractor.</param>
    /// <param name="dropRate">Dropout before <c>head.fc</c> (paper: F0 0.2, F1 0.3).</param>
    /// <param name="stochasticDepthRate">Largest drop-path rate, reached by the last block (linear in the block index; paper code: 0.1).</param>
    public NfNet(Config config, int numClasses = 1000, double dropRate = 0.2, double stochasticDepthRate = 0.0)
        : base("NfNet", numClasses)
    {
        ArgumentNullException.ThrowIfNull(config);
        Validate(config);
        if (dropRate < 0 || dropRate >= 1 || double.IsNaN(dropRate))
            throw new ArgumentException($"dropRate must be in [0, 1), got {dropRate}.", nameof(dropRate));
        if (stochasticDepthRate < 0 || stochasticDepthRate >= 1 || double.IsNaN(stochasticDepthRate))
            throw new ArgumentException($"stochasticDepthRate must be in [0, 1), got {stochasticDepthRate}.", nameof(stochasticDepthRate));
        Configuration = config;
        double gamma = NonlinearityGamma(config.Activation);

        // Stem ("deep_quad"): 3x3 convs to StemWidth/8 (stride 2), /4, /2, StemWidth (stride 2); total stride 4.
        int s = config.StemWidth;
        stem = nn.Sequential(
            ("conv1", Conv(3, s / 8, 3, stride: 2)), ("act2", new GammaAct(config.Activation, gamma)),
            ("conv2", Conv(s / 8, s / 4, 3)), ("act3", new GammaAct(config.Activation, gamma)),
            ("conv3", Conv(s / 4, s / 2, 3)), ("act4", new GammaAct(config.Activation, gamma)),
            ("conv4", Conv(s / 2, s, 3, stride: 2)));

        int totalBlocks = config.Depths.Sum(), blockIndex = 0;
        long inChannels = s;
        double expectedVariance = 1.0;
        var stageList = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int stage = 0; stage < 4; stage++)
        {
            var blocks = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int b = 0; b < config.Depths[stage]; b++)
            {
                // The stem already reduced by 4, so the first stage keeps its resolution; the others halve it.
                long stride = b == 0 && stage > 0 ? 2 : 1;
                double dropPath = totalBlocks > 1 ? stochasticDepthRate * blockIndex / (totalBlocks - 1) : 0.0;
                blocks.Add((b.ToString(), new NormFreeBlock(inChannels, config.Widths[stage], stride, config,
                    beta: 1.0 / Math.Sqrt(expectedVariance), gamma, dropPath)));
                // A transition block's shortcut is a conv of the normalised input, so the variance restarts at 1;
                // every block then adds α² to it.
                if (b == 0) expectedVariance = 1.0;
                expectedVariance += config.Alpha * config.Alpha;
                inChannels = config.Widths[stage];
                blockIndex++;
            }
            stageList.Add((stage.ToString(), nn.Sequential(blocks)));
        }
        stages = nn.Sequential(stageList);

        FeatureDim = (int)Math.Round(config.Widths[3] * config.FinalWidthMultiplier);
        final_conv = Conv(inChannels, FeatureDim, 1);
        final_act = new GammaAct(config.Activation, gamma);
        if (numClasses > 0) head = new ClassifierHead(FeatureDim, numClasses, dropRate);
        RegisterComponents();

        ScaledStdConv2d Conv(long cin, long cout, long k, long stride = 1) =>
            new(cin, cout, k, stride, tfSamePadding: true);
    }

    /// <summary>The configuration the network was built from.</summary>
    public Config Configuration { get; }

    /// <inheritdoc />
    public override int FeatureDim { get; }

    /// <summary>32: the stem reduces by 4 and stages 2-4 by 2 each (total stride 32), leaving a 1x1 map at 32 px.</summary>
    public override int MinInputSize => 32;

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => head;

    /// <summary>Stem, the four stages (final_conv belongs to the last one).</summary>
    public override IReadOnlyList<nn.Module> Stages
    {
        get
        {
            var s = stages.children().ToList();
            // final_conv trains with the last stage. A Sequential registers its children at once; a bare ModuleList
            // only does when a parent registers it, so its parameters() would be empty here.
            return [stem, s[0], s[1], s[2], nn.Sequential(("3", (nn.Module<Tensor, Tensor>)s[3]), ("final_conv", final_conv))];
        }
    }

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input)
    {
        var x = stages.call(stem.call(input));
        x = final_act.call(final_conv.call(x));
        return x.mean(new long[] { 2, 3 });
    }

    /// <inheritdoc />
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input)
    {
        var x = g.Export(stages, g.Export(stem, input));
        x = g.Export(final_act, g.Export(final_conv, x));
        return g.Flatten(g.Op("GlobalAveragePool", x));
    }

    /// <summary>
    /// γ, the gain that restores unit variance after a nonlinearity applied to a unit Gaussian, from the paper's
    /// reference code (deepmind-research/nfnets, <c>nonlinearities</c>; the same constants are in timm's <c>_nonlin_gamma</c>).
    /// </summary>
    public static double NonlinearityGamma(Activation activation) => activation switch
    {
        Activation.None => 1.0,
        Activation.ReLU => 1.7139588594436646,    // ≈ sqrt(2 / (1 - 1/π)), measured
        Activation.ReLU6 => 1.7131484746932983,
        Activation.SiLU => 1.7881293296813965,
        Activation.GELU => 1.7015043497085571,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, null),
    };

    private static void Validate(Config c)
    {
        if (c.Depths is not { Length: 4 } || c.Depths.Any(d => d < 1))
            throw new ArgumentException($"Depths must hold 4 stage depths >= 1, got [{string.Join(",", c.Depths ?? [])}].", nameof(c.Depths));
        if (c.Widths is not { Length: 4 } || c.Widths.Any(w => w < 8))
            throw new ArgumentException($"Widths must hold 4 stage widths >= 8, got [{string.Join(",", c.Widths ?? [])}].", nameof(c.Widths));
        if (c.StemWidth < 8 || c.StemWidth % 8 != 0)
            throw new ArgumentException($"StemWidth must be a positive multiple of 8 (its convs use /8, /4, /2 of it), got {c.StemWidth}.", nameof(c.StemWidth));
        if (c.GroupWidth < 1) throw new ArgumentException($"GroupWidth must be >= 1, got {c.GroupWidth}.", nameof(c.GroupWidth));
        if (!(c.BottleneckRatio > 0)) throw new ArgumentException($"BottleneckRatio must be > 0, got {c.BottleneckRatio}.", nameof(c.BottleneckRatio));
        if (!(c.SeRatio > 0) || c.SeRatio > 1) throw new ArgumentException($"SeRatio must be in (0, 1], got {c.SeRatio}.", nameof(c.SeRatio));
        if (!(c.Alpha > 0)) throw new ArgumentException($"Alpha must be > 0, got {c.Alpha}.", nameof(c.Alpha));
        if (!(c.FinalWidthMultiplier > 0)) throw new ArgumentException($"FinalWidthMultiplier must be > 0, got {c.FinalWidthMultiplier}.", nameof(c.FinalWidthMultiplier));
        foreach (int w in c.Widths)
        {
            int mid = Multipliers.MakeDivisible(w * c.BottleneckRatio, 8);
            if (mid < c.GroupWidth)
                throw new ArgumentException(
                    $"GroupWidth ({c.GroupWidth}) must be <= every bottleneck width (width {w} x BottleneckRatio {c.BottleneckRatio} = {mid}).",
                    nameof(c.GroupWidth));
        }
        _ = NonlinearityGamma(c.Activation);
    }

    /// <summary>An activation followed by its γ gain (timm's <c>GammaAct</c>), keeping unit variance for a unit Gaussian input.</summary>
    public sealed class GammaAct : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Activation activation;
        private readonly double gamma;

        /// <summary>Creates the activation with gain <paramref name="gamma"/>.</summary>
        public GammaAct(Activation activation, double gamma) : base(nameof(GammaAct))
        {
            this.activation = activation;
            this.gamma = gamma;
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            var y = activation switch
            {
                Activation.None => x,
                Activation.ReLU => nn.functional.relu(x),
                Activation.ReLU6 => nn.functional.relu6(x),
                Activation.SiLU => nn.functional.silu(x),
                Activation.GELU => nn.functional.gelu(x),
                _ => throw new InvalidOperationException($"Unsupported activation {activation}."),
            };
            return y * gamma;
        }

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            string path = g.PathOf(this);
            string y = activation switch
            {
                Activation.None => input,
                Activation.ReLU => g.Op("Relu", input),
                Activation.ReLU6 => g.Op("Clip", input, g.AddConstant(0f, path + ".min"), g.AddConstant(6f, path + ".max")),
                Activation.SiLU => g.Op("Mul", input, g.Op("Sigmoid", input)),
                Activation.GELU => g.Gelu(input),
                _ => throw new NotSupportedException($"{path}: activation {activation} has no ONNX export."),
            };
            return g.Op("Mul", y, g.AddConstant((float)gamma, path + ".gamma"));
        }
    }

    /// <summary>
    /// The NFNet bottleneck block (paper Figure 4): <c>h + α · skipinit_gain · SE(conv3(γ·act(conv2b(γ·act(conv2(γ·act(conv1(γ·act(h)/β))))))))</c>;
    /// the transition block (first of a stage) takes its shortcut from the normalised input through avg-pool + 1x1 conv.
    /// </summary>
    public sealed class NormFreeBlock : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly DownsampleAvg? downsample;
        private readonly GammaAct act1, act2, act2b, act3;
        private readonly ScaledStdConv2d conv1, conv2, conv2b, conv3;
        private readonly SqueezeExcitation attn_last;
        private readonly DropPath drop_path;
        private readonly Parameter skipinit_gain;
        private readonly double alpha, beta;
        private readonly long groups;

        /// <summary>The SE output is doubled: a sigmoid gate halves the variance on average (timm's <c>attn_gain</c>, reference code's 2·SE).</summary>
        public const double AttentionGain = 2.0;

        /// <summary>Creates a block from <paramref name="inChannels"/> to <paramref name="outChannels"/>.</summary>
        /// <param name="inChannels">Input channels.</param>
        /// <param name="outChannels">Output channels.</param>
        /// <param name="stride">Stride of the 3x3 conv2 and of the shortcut's average pool.</param>
        /// <param name="config">Bottleneck ratio, group width, SE ratio, α and activation.</param>
        /// <param name="beta">β: the input is divided by sqrt(expected variance), i.e. multiplied by this value.</param>
        /// <param name="gamma">γ of the activation.</param>
        /// <param name="dropPathRate">Stochastic depth rate of the residual branch.</param>
        public NormFreeBlock(long inChannels, long outChannels, long stride, Config config, double beta, double gamma, double dropPathRate)
            : base(nameof(NormFreeBlock))
        {
            long mid = Multipliers.MakeDivisible(outChannels * config.BottleneckRatio, 8);
            groups = mid / config.GroupWidth;
            mid = groups * config.GroupWidth;   // timm: a whole number of groups
            alpha = config.Alpha;
            this.beta = beta;
            if (inChannels != outChannels || stride != 1) downsample = new DownsampleAvg(inChannels, outChannels, stride);
            act1 = new GammaAct(config.Activation, gamma);
            conv1 = new ScaledStdConv2d(inChannels, mid, 1, tfSamePadding: true);
            act2 = new GammaAct(config.Activation, gamma);
            conv2 = new ScaledStdConv2d(mid, mid, 3, stride, groups, tfSamePadding: true);
            act2b = new GammaAct(config.Activation, gamma);
            conv2b = new ScaledStdConv2d(mid, mid, 3, 1, groups, tfSamePadding: true);
            act3 = new GammaAct(config.Activation, gamma);
            conv3 = new ScaledStdConv2d(mid, outChannels, 1, tfSamePadding: true);
            attn_last = new SqueezeExcitation(outChannels, Multipliers.MakeDivisible(outChannels * config.SeRatio, 8), Activation.ReLU);
            drop_path = new DropPath(dropPathRate);
            // Skip-init: the residual branch starts switched off, so every block is the identity at initialisation.
            skipinit_gain = new Parameter(zeros(Array.Empty<long>()));
            RegisterComponents();
            InitializeSqueezeExcitation();
        }

        /// <summary>The scalar gain on the residual branch, initialised to 0.</summary>
        public Parameter SkipInitGain => skipinit_gain;

        /// <summary>1/β applied to the block input (β = sqrt of the expected input variance).</summary>
        public double Beta => beta;

        /// <summary>The residual scale α.</summary>
        public double Alpha => alpha;

        /// <summary>Groups of the 3x3 convolutions.</summary>
        public long Groups => groups;

        /// <summary>True for a transition block, whose shortcut is a pooled 1x1 convolution.</summary>
        public bool IsTransition => downsample is not null;

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            var normalized = act1.call(x) * beta;
            var shortcut = downsample is null ? x : downsample.call(normalized);
            var y = conv1.call(normalized);
            y = conv2.call(act2.call(y));
            y = conv2b.call(act2b.call(y));
            y = conv3.call(act3.call(y));
            y = attn_last.call(y) * AttentionGain;
            y = drop_path.call(y) * skipinit_gain;
            return y * alpha + shortcut;
        }

        /// <summary>The same arithmetic as <see cref="forward"/>, one Mul per scale (1/β, 2·SE, skip gain, α); drop-path is the identity at inference.</summary>
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            string path = g.PathOf(this);
            var normalized = g.Op("Mul", g.Export(act1, input), g.AddConstant((float)beta, path + ".beta"));
            var shortcut = downsample is null ? input : g.Export(downsample, normalized);
            var y = g.Export(conv1, normalized);
            y = g.Export(conv2, g.Export(act2, y));
            y = g.Export(conv2b, g.Export(act2b, y));
            y = g.Export(conv3, g.Export(act3, y));
            y = g.Op("Mul", g.Export(attn_last, y), g.AddConstant((float)AttentionGain, path + ".attn_gain"));
            y = g.Op("Mul", g.Export(drop_path, y), g.AddInitializer(skipinit_gain, path + ".skipinit_gain"));
            y = g.Op("Mul", y, g.AddConstant((float)alpha, path + ".alpha"));
            return g.Op("Add", y, shortcut);
        }

        private void InitializeSqueezeExcitation()
        {
            // timm: every nn.Conv2d gets kaiming_normal_(fan_in, linear), i.e. N(0, 1/fan_in), and a zero bias.
            using var _ = no_grad();
            foreach (var (_, m) in attn_last.named_modules())
            {
                if (m is not Conv2d c) continue;
                nn.init.normal_(c.weight!, 0, 1.0 / Math.Sqrt(c.in_channels / c.groups * c.kernel_size.Aggregate(1L, (a, k) => a * k)));
                if (c.bias is not null) nn.init.zeros_(c.bias);
            }
        }
    }

    /// <summary>Transition shortcut as in "ResNet-D": 2x2 average pool (ceil mode, when strided) then a 1x1 <see cref="ScaledStdConv2d"/>.</summary>
    public sealed class DownsampleAvg : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly nn.Module<Tensor, Tensor> pool;
        private readonly ScaledStdConv2d conv;

        /// <summary>Creates the shortcut.</summary>
        public DownsampleAvg(long inChannels, long outChannels, long stride) : base(nameof(DownsampleAvg))
        {
            pool = stride > 1
                ? nn.AvgPool2d(kernel_size: 2, stride: stride, ceil_mode: true, count_include_pad: false)
                : nn.Identity();
            conv = new ScaledStdConv2d(inChannels, outChannels, 1, tfSamePadding: true);
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x) => conv.call(pool.call(x));

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input) => g.Export(conv, g.Export(pool, input));
    }

    /// <summary>Stochastic depth (Huang et al. 2016): in training, zeroes a sample's residual branch with probability p and scales the rest by 1/(1−p).</summary>
    public sealed class DropPath : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly double rate;

        /// <summary>Creates the layer with drop probability <paramref name="rate"/>.</summary>
        public DropPath(double rate) : base(nameof(DropPath)) => this.rate = rate;

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            if (!training || rate <= 0) return x;
            double keep = 1 - rate;
            var shape = new long[x.dim()];
            Array.Fill(shape, 1L);
            shape[0] = x.shape[0];
            var mask = empty(shape, dtype: x.dtype, device: x.device).bernoulli_(keep);
            return x * mask / keep;
        }

        /// <summary>The identity: stochastic depth only acts in training.</summary>
        public string ExportOnnx(OnnxGraphBuilder g, string input) => input;
    }

    /// <summary>timm's classifier head on pooled features: <c>drop</c> (dropout) then <c>fc</c> (linear), key <c>head.fc.weight</c>.</summary>
    public sealed class ClassifierHead : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Dropout drop;
        private readonly Linear fc;

        /// <summary>Creates the head; <c>fc</c> starts from N(0, 0.01) with zero bias, as in timm's NFNet.</summary>
        public ClassifierHead(long inFeatures, long numClasses, double dropRate) : base(nameof(ClassifierHead))
        {
            drop = nn.Dropout(dropRate);
            fc = nn.Linear(inFeatures, numClasses);
            RegisterComponents();
            using var _ = no_grad();
            nn.init.normal_(fc.weight, 0, 0.01);
            nn.init.zeros_(fc.bias!);
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor features) => fc.call(drop.call(features));

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input) => g.Export(fc, g.Export(drop, input));
    }

    static int IBackboneFamily.ListingOrder => 7; // NFNet (Brock et al. 2021)

    /// <summary>
    /// Registered variants. References: paper Table 1 / Table 3 (F0: 71.5M params, 12.38 GFLOPs at 256 px; F1: 132.6M,
    /// 35.54 GFLOPs at 320 px — the paper's "FLOPs" are multiply-accumulates of convs and linear layers). timm's
    /// dm_nfnet_f0/f1 cards give the same parameter counts (71.5M, 132.6M) but no exact figure, hence ExactParams = false.
    /// </summary>
    static IEnumerable<BackboneVariant> IBackboneFamily.Variants()
    {
        yield return new("nfnet_f0", "NFNet", 256,
            o => new NfNet(Config.F0, o.NumClasses, o.DropRate ?? 0.2, stochasticDepthRate: 0.1),
            new PaperReference(71_500_000, 12_380_000_000, 256,
                "Brock et al. 2021 Table 3 / Table 1: NFNet-F0 71.5M params, 12.38B FLOPs at 256 px test resolution (timm dm_nfnet_f0)", ExactParams: false));
        yield return new("nfnet_f1", "NFNet", 320,
            o => new NfNet(Config.F1, o.NumClasses, o.DropRate ?? 0.3, stochasticDepthRate: 0.1),
            new PaperReference(132_600_000, 35_540_000_000, 320,
                "Brock et al. 2021 Table 3 / Table 1: NFNet-F1 132.6M params, 35.54B FLOPs at 320 px test resolution (timm dm_nfnet_f1)", ExactParams: false));
        // Not a paper model: F0's design at a quarter of the width for CPU experiments (see Config.CpuSmall).
        yield return new("nfnet_cpu_s", "NFNet", 128,
            o => new NfNet(Config.CpuSmall, o.NumClasses, o.DropRate ?? 0.2),
            null);
    }
}
