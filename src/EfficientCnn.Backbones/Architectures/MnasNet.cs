using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
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
            ("0", CreateBlock(inChannels, outChannels, kernel, stride, expansion, bnMomentum)),
        };
        for (int i = 1; i < repeats; i++)
            blocks.Add((i.ToString(), CreateBlock(outChannels, outChannels, kernel, 1, expansion, bnMomentum)));
        return nn.Sequential(blocks);
    }

    /// <summary>
    /// MBConv (MobileNetV2's inverted residual): 1x1 expansion → BN → ReLU → kxk depthwise → BN → ReLU → linear 1x1
    /// projection → BN, with an identity skip when stride is 1 and the width is kept. Parts are named as torchvision's
    /// <c>_InvertedResidual</c>: one Sequential <c>layers</c> with children "0"-"7".
    /// </summary>
    /// <exception cref="ArgumentException">The kernel is not 3 or 5, or the stride is not 1 or 2.</exception>
    public static InvertedResidual CreateBlock(long inChannels, long outChannels, int kernelSize, int stride, int expansion, double bnMomentum)
    {
        if (kernelSize is not (3 or 5)) throw new ArgumentException($"kernelSize must be 3 or 5, got {kernelSize}.", nameof(kernelSize));
        return new InvertedResidual(new InvertedResidualConfig(inChannels, inChannels * expansion, outChannels, kernelSize, stride, Activation.ReLU)
            { Expands = true, BnMomentum = bnMomentum }, InvertedResidualNames.TorchvisionMnasNet);
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
