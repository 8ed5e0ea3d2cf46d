using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Registry;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// MNASNet-B1 (Tan et al. 2019, "MnasNet: Platform-Aware Neural Architecture Search for Mobile"), the searched
/// network without squeeze-and-excitation, exactly as torchvision's <c>mnasnet0_5</c> … <c>mnasnet1_3</c>
/// ("version 2", where the depth multiplier also scales the stem). The state dict equals torchvision's:
/// one Sequential <c>layers</c> (stem conv 0-2, separable conv 3-7, six MBConv stacks 8-13, 1x1 head conv 14-16)
/// and <c>classifier</c> = Dropout + Linear.
/// </summary>
/// <remarks>The searched variant with squeeze-and-excitation is <see cref="MnasNetA1"/>.</remarks>
public sealed class MnasNet : Backbone, IBackboneFamily
{
    /// <summary>
    /// BatchNorm momentum of the reference: TensorFlow's decay 0.9997, which is PyTorch momentum 1 - 0.9997.
    /// </summary>
    public const double ReferenceBnMomentum = 1 - 0.9997;

    /// <summary>Base channel counts before the depth multiplier: stem, separable conv, then the six MBConv stacks.</summary>
    private static readonly int[] BaseDepths = [32, 16, 24, 40, 80, 96, 192, 320];

    /// <summary>
    /// The six MBConv stacks of MNASNet-B1 (torchvision's <c>_stack</c> calls; TF reference <c>mnasnet-b1</c>):
    /// expansion t, kernel k, stride of the first block s, repeats n; output depth = <see cref="BaseDepths"/>[i + 2].
    /// </summary>
    private static readonly (int Expansion, int Kernel, int Stride, int Repeats)[] StackConfig =
    [
        (3, 3, 2, 3), // MBConv3 3x3, 112 → 56, 24 ch
        (3, 5, 2, 3), // MBConv3 5x5, 56 → 28, 40 ch
        (6, 5, 2, 3), // MBConv6 5x5, 28 → 14, 80 ch
        (6, 3, 1, 2), // MBConv6 3x3, 14 → 14, 96 ch
        (6, 5, 2, 4), // MBConv6 5x5, 14 → 7, 192 ch
        (6, 3, 1, 1), // MBConv6 3x3, 7 → 7, 320 ch
    ];

    /// <summary>Width of the last 1x1 convolution; torchvision keeps it at 1280 for every depth multiplier.</summary>
    public const int HeadChannels = 1280;

    private readonly Sequential layers;
    private readonly Sequential? classifier;
    private readonly nn.Module<Tensor, Tensor>[] stem, separable, head;
    private readonly Sequential[] stacks;

    /// <summary>Builds MNASNet-B1 with depth multiplier <paramref name="alpha"/> (torchvision's <c>MNASNet(alpha)</c>).</summary>
    /// <param name="alpha">Depth (width) multiplier, &gt; 0: 0.5, 0.75, 1.0 and 1.3 are torchvision's variants.</param>
    /// <param name="numClasses">Classes of the head; 0 builds the feature extractor only.</param>
    /// <param name="dropRate">Dropout before the classifier (0.2 in torchvision).</param>
    /// <param name="bnMomentum">BatchNorm momentum; the reference is <see cref="ReferenceBnMomentum"/>.</param>
    public MnasNet(double alpha, int numClasses = 1000, double dropRate = 0.2, double bnMomentum = ReferenceBnMomentum)
        : base("MNASNet", numClasses)
    {
        Depths = GetDepths(alpha);
        if (bnMomentum <= 0 || bnMomentum > 1 || double.IsNaN(bnMomentum))
            throw new ArgumentException($"bnMomentum must be in (0, 1], got {bnMomentum}.", nameof(bnMomentum));
        Alpha = alpha;
        int[] d = Depths;

        // Stem: regular 3x3 conv, stride 2 (indices 0-2).
        stem =
        [
            nn.Conv2d(3, d[0], 3, stride: 2, padding: 1, bias: false),
            nn.BatchNorm2d(d[0], momentum: bnMomentum),
            nn.ReLU(inplace: true),
        ];
        // "SepConv 3x3": depthwise 3x3 then linear 1x1 projection, no skip (indices 3-7).
        separable =
        [
            nn.Conv2d(d[0], d[0], 3, padding: 1, groups: d[0], bias: false),
            nn.BatchNorm2d(d[0], momentum: bnMomentum),
            nn.ReLU(inplace: true),
            nn.Conv2d(d[0], d[1], 1, bias: false),
            nn.BatchNorm2d(d[1], momentum: bnMomentum),
        ];
        // MBConv stacks (indices 8-13).
        stacks = new Sequential[StackConfig.Length];
        long inChannels = d[1];
        for (int i = 0; i < StackConfig.Length; i++)
        {
            var (t, k, s, n) = StackConfig[i];
            stacks[i] = Stack(inChannels, d[i + 2], k, s, t, n, bnMomentum);
            inChannels = d[i + 2];
        }
        // Final 1x1 mapping to the classifier input (indices 14-16).
        head =
        [
            nn.Conv2d(inChannels, HeadChannels, 1, bias: false),
            nn.BatchNorm2d(HeadChannels, momentum: bnMomentum),
            nn.ReLU(inplace: true),
        ];

        var all = stem.Concat(separable).Concat(stacks).Concat(head).Select((m, i) => (i.ToString(), m)).ToList();
        layers = nn.Sequential(all);
        register_module("layers", layers);
        if (numClasses > 0)
        {
            classifier = TorchvisionLayout.DropoutLinear(HeadChannels, numClasses, dropRate);
            register_module("classifier", classifier);
        }

        TorchvisionLayout.Initialize(this);
        // torchvision initialises MNASNet's Linear with Kaiming-uniform (fan-out, gain 1) rather than N(0, 0.01).
        if (classifier is not null)
        {
            using var _ = no_grad();
            foreach (var linear in classifier.modules().OfType<Linear>())
                nn.init.kaiming_uniform_(linear.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.Sigmoid);
        }
    }

    /// <summary>The depth multiplier.</summary>
    public double Alpha { get; }

    /// <summary>Channel counts after scaling: stem, separable conv, the six stacks (torchvision's <c>_get_depths</c>).</summary>
    public int[] Depths { get; }

    /// <inheritdoc />
    public override int FeatureDim => HeadChannels;

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => classifier;

    /// <inheritdoc />
    /// <remarks>
    /// Groups are Sequentials (not ModuleLists): TorchSharp's ModuleList registers its items lazily, so a fresh
    /// ModuleList reports no parameters. The groups are views; the model's own names stay torchvision's.
    /// </remarks>
    public override IReadOnlyList<nn.Module> Stages =>
        [nn.Sequential(stem), nn.Sequential(separable), .. stacks, nn.Sequential(head)];

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input) =>
        // torchvision pools with a mean over H and W (same as global average pooling + flatten).
        layers.call(input).mean([2, 3]);

    /// <inheritdoc />
    /// <remarks>The mean over H and W is written as GlobalAveragePool + Flatten (same values, [N, C]).</remarks>
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input) =>
        g.Flatten(g.Op("GlobalAveragePool", g.Export(layers, input)));

    /// <summary>
    /// torchvision's <c>_get_depths</c>: each base depth times <paramref name="alpha"/>, rounded to a multiple of 8
    /// without going below 90% of the scaled value (the "0.9 round-up bias").
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="alpha"/> is not a positive finite number.</exception>
    public static int[] GetDepths(double alpha)
    {
        Multipliers.RequirePositive(alpha, "alpha (depth multiplier)");
        return BaseDepths.Select(depth => Multipliers.MakeDivisible(depth * alpha, 8)).ToArray();
    }

    /// <summary>torchvision's <c>_stack</c>: the first block strides and changes width (no skip), the rest keep both.</summary>
    private static Sequential Stack(long inChannels, long outChannels, int kernel, int stride, int expansion, int repeats, double bnMomentum)
    {
        var blocks = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("0", new InvertedResidual(inChannels, outChannels, kernel, stride, expansion, bnMomentum)),
        };
        for (int i = 1; i < repeats; i++)
            blocks.Add((i.ToString(), new InvertedResidual(outChannels, outChannels, kernel, 1, expansion, bnMomentum)));
        return nn.Sequential(blocks);
    }

    /// <summary>
    /// MBConv (MobileNetV2's inverted residual): 1x1 expansion → BN → ReLU → kxk depthwise → BN → ReLU → linear 1x1
    /// projection → BN, with an identity skip when stride is 1 and the width is kept. torchvision's
    /// <c>_InvertedResidual</c>: one Sequential <c>layers</c> with children "0"-"7".
    /// </summary>
    public sealed class InvertedResidual : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential layers;

        /// <summary>Creates the block.</summary>
        public InvertedResidual(long inChannels, long outChannels, int kernelSize, int stride, int expansion, double bnMomentum)
            : base(nameof(InvertedResidual))
        {
            if (stride is not (1 or 2)) throw new ArgumentException($"stride must be 1 or 2, got {stride}.", nameof(stride));
            if (kernelSize is not (3 or 5)) throw new ArgumentException($"kernelSize must be 3 or 5, got {kernelSize}.", nameof(kernelSize));
            long mid = inChannels * expansion;
            UsesResidual = inChannels == outChannels && stride == 1;
            layers = nn.Sequential(
                ("0", nn.Conv2d(inChannels, mid, 1, bias: false)),
                ("1", nn.BatchNorm2d(mid, momentum: bnMomentum)),
                ("2", nn.ReLU(inplace: true)),
                ("3", nn.Conv2d(mid, mid, kernelSize, stride: stride, padding: kernelSize / 2, groups: mid, bias: false)),
                ("4", nn.BatchNorm2d(mid, momentum: bnMomentum)),
                ("5", nn.ReLU(inplace: true)),
                ("6", nn.Conv2d(mid, outChannels, 1, bias: false)),
                ("7", nn.BatchNorm2d(outChannels, momentum: bnMomentum)));
            RegisterComponents();
        }

        /// <summary>True when the block adds its input to its output (stride 1, same width).</summary>
        public bool UsesResidual { get; }

        /// <inheritdoc />
        public override Tensor forward(Tensor input) =>
            UsesResidual ? layers.call(input) + input : layers.call(input);

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            string y = g.Export(layers, input);
            return UsesResidual ? g.Op("Add", y, input) : y;
        }
    }

    static int IBackboneFamily.ListingOrder => 5; // MnasNet (Tan et al. 2018)

    /// <summary>
    /// Registered variants. B1: torchvision's weights metadata (exact <c>num_params</c>, <c>_ops</c> GFLOPS = GMACs to
    /// 3 digits). A1: paper Table 1 / Figure 7(a) (3.9M params, 312M mult-adds), exact params from timm's
    /// <c>semnasnet_100</c> module layout.
    /// </summary>
    static IEnumerable<BackboneVariant> IBackboneFamily.Variants()
    {
        // torchvision MNASNet{0_5,0_75,1_0,1_3}_Weights meta: num_params and "_ops" (GFLOPS, i.e. GMACs).
        // Our exact MACs at 224 px are in the Source strings (ZooTests checks them within 2% of the reference).
        yield return B1("mnasnet_b1_0.5", 0.5, 2_218_512, 104_000_000,
            "torchvision mnasnet0_5 (2,218,512 params, 0.104 GFLOPS); ours 104,455,968 MACs");
        yield return B1("mnasnet_b1_0.75", 0.75, 3_170_208, 215_000_000,
            "torchvision mnasnet0_75 (3,170,208 params, 0.215 GFLOPS); ours 215,493,104 MACs");
        yield return B1("mnasnet_b1_1.0", 1.0, 4_383_312, 314_000_000,
            "torchvision mnasnet1_0 (4,383,312 params, 0.314 GFLOPS); ours 314,415,872 MACs");
        yield return B1("mnasnet_b1_1.3", 1.3, 6_282_256, 526_000_000,
            "torchvision mnasnet1_3 (6,282,256 params, 0.526 GFLOPS); ours 526,362,432 MACs");
        yield return new("mnasnet_a1", "MnasNet", 224,
            o => new MnasNetA1(1.0, o.NumClasses, o.DropRate ?? 0.2),
            new PaperReference(3_887_038, 312_000_000, 224,
                "Tan et al. 2019 Table 1 / Figure 7(a): MnasNet-A1 3.9M params, 312M mult-adds (ours 311,579,072 MACs incl. SE); "
                + "params exact: timm semnasnet_100 layout, 3,887,038 (also osmr/imgclsmob mnasnet_a1; timm lists 3.89M)"));
    }

    private static BackboneVariant B1(string name, double alpha, long parameters, long macs, string source) =>
        new(name, "MnasNet", 224,
            o => new MnasNet(alpha, o.NumClasses, o.DropRate ?? 0.2),
            new PaperReference(parameters, macs, 224, source));
}

/// <summary>
/// MNASNet-A1 (Tan et al. 2019, Figure 7(a)): the searched network with squeeze-and-excitation in three stages.
/// Module names follow timm's <c>semnasnet_100</c> (alias <c>mnasnet_a1</c>): <c>conv_stem</c>, <c>bn1</c>,
/// <c>blocks.i.j.*</c>, <c>conv_head</c>, <c>bn2</c>, <c>classifier</c> (built by <see cref="MbConvNetwork"/>).
/// </summary>
public sealed class MnasNetA1 : MbConvNetwork
{
    /// <summary>One stage of Figure 7(a) (timm's arch_def string in the comment).</summary>
    /// <param name="Kind">SepConv (depthwise separable) or MBConv (inverted residual).</param>
    /// <param name="Repeats">Number of blocks.</param>
    /// <param name="Kernel">Depthwise kernel size.</param>
    /// <param name="Stride">Stride of the first block.</param>
    /// <param name="Expansion">MBConv expansion ratio (1 for SepConv).</param>
    /// <param name="Channels">Output channels before the width multiplier.</param>
    /// <param name="SeRatio">Squeeze ratio relative to the block input, 0 for no squeeze-and-excitation.</param>
    public sealed record StageSpec(string Kind, int Repeats, int Kernel, int Stride, int Expansion, int Channels, double SeRatio);

    /// <summary>Figure 7(a) of the paper, top to bottom (after the 3x3 stem conv with 32 channels).</summary>
    public static readonly IReadOnlyList<StageSpec> Architecture =
    [
        new("SepConv", 1, 3, 1, 1, 16, 0),     // ds_r1_k3_s1_e1_c16_noskip   112x112
        new("MBConv", 2, 3, 2, 6, 24, 0),      // ir_r2_k3_s2_e6_c24          112 → 56
        new("MBConv", 3, 5, 2, 3, 40, 0.25),   // ir_r3_k5_s2_e3_c40_se0.25   56 → 28
        new("MBConv", 4, 3, 2, 6, 80, 0),      // ir_r4_k3_s2_e6_c80          28 → 14
        new("MBConv", 2, 3, 1, 6, 112, 0.25),  // ir_r2_k3_s1_e6_c112_se0.25  14 → 14
        new("MBConv", 3, 5, 2, 6, 160, 0.25),  // ir_r3_k5_s2_e6_c160_se0.25  14 → 7
        new("MBConv", 1, 3, 1, 6, 320, 0),     // ir_r1_k3_s1_e6_c320         7 → 7
    ];

    /// <summary>Width of the 1x1 head conv; timm's MNASNet-A1 keeps 1280 for every width multiplier.</summary>
    public const int HeadChannels = 1280;

    /// <summary>Width of the 3x3 stem conv before the width multiplier.</summary>
    private const int StemChannels = 32;

    /// <summary>Builds MNASNet-A1 with timm's channel multiplier <paramref name="widthMultiplier"/> (1.0 in the paper).</summary>
    /// <param name="widthMultiplier">Channel multiplier, &gt; 0; channels are rounded to multiples of 8 (timm's round_channels).</param>
    /// <param name="numClasses">Classes of the head; 0 builds the feature extractor only.</param>
    /// <param name="dropRate">Dropout before the classifier (0.2 in the TF reference).</param>
    public MnasNetA1(double widthMultiplier = 1.0, int numClasses = 1000, double dropRate = 0.2)
        : base("MnasNetA1", Round(StemChannels, widthMultiplier),
            Architecture.Select(s => s with { Channels = Round(s.Channels, widthMultiplier) }).ToList(),
            HeadChannels, numClasses, dropRate)
    {
    }

    /// <summary>timm's round_channels: <paramref name="channels"/> times the multiplier, rounded to a multiple of 8.</summary>
    private static int Round(int channels, double widthMultiplier)
    {
        Multipliers.RequirePositive(widthMultiplier, nameof(widthMultiplier));
        return Multipliers.MakeDivisible(channels * widthMultiplier, 8);
    }

    /// <summary>
    /// Squeeze-and-Excitation as timm names it (<c>conv_reduce</c>, <c>conv_expand</c>): mean over H, W → 1x1 conv
    /// reduce → ReLU → 1x1 conv expand → sigmoid gate × input. (Blocks/SqueezeExcitation uses torchvision's fc1/fc2.)
    /// </summary>
    public sealed class SqueezeExcite : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Conv2d conv_reduce;
        private readonly ReLU act1;
        private readonly Conv2d conv_expand;
        private readonly Sigmoid gate;

        /// <summary>Creates the block on <paramref name="channels"/> channels squeezed to <paramref name="reducedChannels"/>.</summary>
        public SqueezeExcite(long channels, long reducedChannels) : base(nameof(SqueezeExcite))
        {
            if (reducedChannels < 1)
                throw new ArgumentException($"reducedChannels must be >= 1, got {reducedChannels}.", nameof(reducedChannels));
            conv_reduce = nn.Conv2d(channels, reducedChannels, 1);
            act1 = nn.ReLU(inplace: true);
            conv_expand = nn.Conv2d(reducedChannels, channels, 1);
            gate = nn.Sigmoid();
            RegisterComponents();
        }

        /// <summary>Channels of the squeezed vector.</summary>
        public long ReducedChannels => conv_reduce.out_channels;

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            var scale = x.mean([2, 3], keepdim: true);
            scale = conv_expand.call(act1.call(conv_reduce.call(scale)));
            return x * gate.call(scale);
        }

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            // mean over H, W with keepdim is GlobalAveragePool ([N, C, 1, 1]).
            string scale = g.Export(act1, g.Export(conv_reduce, g.Op("GlobalAveragePool", input)));
            scale = g.Export(gate, g.Export(conv_expand, scale));
            return g.Op("Mul", input, scale);
        }
    }

    /// <summary>
    /// The paper's "SepConv": depthwise kxk → BN → ReLU → linear 1x1 → BN (timm's DepthwiseSeparableConv:
    /// <c>conv_dw</c>, <c>bn1</c>, <c>conv_pw</c>, <c>bn2</c>). MNASNet-A1 uses it without skip ("noskip").
    /// </summary>
    public sealed class SepConv : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Conv2d conv_dw;
        private readonly BatchNorm2d bn1;
        private readonly ReLU act;
        private readonly Conv2d conv_pw;
        private readonly BatchNorm2d bn2;

        /// <summary>Creates the block.</summary>
        public SepConv(long inChannels, long outChannels, int kernelSize, int stride) : base(nameof(SepConv))
        {
            conv_dw = nn.Conv2d(inChannels, inChannels, kernelSize, stride: stride, padding: kernelSize / 2, groups: inChannels, bias: false);
            bn1 = nn.BatchNorm2d(inChannels);
            act = nn.ReLU(inplace: true);
            conv_pw = nn.Conv2d(inChannels, outChannels, 1, bias: false);
            bn2 = nn.BatchNorm2d(outChannels);
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x) => bn2.call(conv_pw.call(act.call(bn1.call(conv_dw.call(x)))));

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input) =>
            g.ExportConvBn(conv_pw, bn2, g.Export(act, g.ExportConvBn(conv_dw, bn1, input)));
    }

    /// <summary>
    /// The paper's "MBConv" (inverted residual), with optional squeeze-and-excitation after the depthwise conv:
    /// 1x1 expand → BN → ReLU → kxk depthwise → BN → ReLU → [SE] → linear 1x1 → BN, skip when stride 1 and same width.
    /// timm's InvertedResidual names: <c>conv_pw</c>, <c>bn1</c>, <c>conv_dw</c>, <c>bn2</c>, <c>se</c>, <c>conv_pwl</c>, <c>bn3</c>.
    /// </summary>
    public sealed class MBConv : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Conv2d conv_pw;
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv_dw;
        private readonly BatchNorm2d bn2;
        private readonly ReLU act;
        private readonly SqueezeExcite? se;
        private readonly Conv2d conv_pwl;
        private readonly BatchNorm2d bn3;

        /// <summary>Creates the block; <paramref name="seRatio"/> is relative to the block input (0 = no SE).</summary>
        public MBConv(long inChannels, long outChannels, int kernelSize, int stride, int expansion, double seRatio)
            : base(nameof(MBConv))
        {
            long mid = Multipliers.MakeDivisible(inChannels * (double)expansion, 8);
            UsesResidual = inChannels == outChannels && stride == 1;
            conv_pw = nn.Conv2d(inChannels, mid, 1, bias: false);
            bn1 = nn.BatchNorm2d(mid);
            conv_dw = nn.Conv2d(mid, mid, kernelSize, stride: stride, padding: kernelSize / 2, groups: mid, bias: false);
            bn2 = nn.BatchNorm2d(mid);
            act = nn.ReLU(inplace: true);
            if (seRatio > 0)
            {
                // timm (se_from_exp=False): the ratio is taken of the block input, i.e. mid · (ratio / expansion),
                // rounded half-to-even like Python's round().
                double ratio = seRatio / expansion;
                se = new SqueezeExcite(mid, (long)Math.Round(mid * ratio, MidpointRounding.ToEven));
            }
            conv_pwl = nn.Conv2d(mid, outChannels, 1, bias: false);
            bn3 = nn.BatchNorm2d(outChannels);
            RegisterComponents();
        }

        /// <summary>True when the block adds its input to its output (stride 1, same width).</summary>
        public bool UsesResidual { get; }

        /// <summary>The squeeze-and-excitation module, or null when the stage has none.</summary>
        public SqueezeExcite? SE => se;

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            var y = act.call(bn1.call(conv_pw.call(x)));
            y = act.call(bn2.call(conv_dw.call(y)));
            if (se is not null) y = se.call(y);
            y = bn3.call(conv_pwl.call(y));
            return UsesResidual ? y + x : y;
        }

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            string y = g.Export(act, g.ExportConvBn(conv_pw, bn1, input));
            y = g.Export(act, g.ExportConvBn(conv_dw, bn2, y));
            if (se is not null) y = g.Export(se, y);
            y = g.ExportConvBn(conv_pwl, bn3, y);
            return UsesResidual ? g.Op("Add", y, input) : y;
        }
    }
}
