using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// EfficientNet (Tan &amp; Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks").
/// B0 is the searched baseline of the paper's Table 1; B1–B7 are B0 scaled by a width and a depth multiplier
/// (compound scaling, section 3.3) applied in code, exactly as torchvision's <c>efficientnet_b0</c> … <c>efficientnet_b7</c>.
/// Module names equal torchvision's state dict: <c>features.0</c> stem, <c>features.1</c>…<c>features.7</c> MBConv stages,
/// <c>features.8</c> 1x1 head conv, <c>avgpool</c>, <c>classifier</c> (Dropout + Linear).
/// </summary>
public sealed class EfficientNet : Backbone, IBackboneFamily
{
    /// <summary>
    /// One row of the paper's Table 1 (stages 2–8): an MBConv stage of B0 before scaling.
    /// </summary>
    /// <param name="ExpandRatio">Expansion of the inverted bottleneck (MBConv1 or MBConv6).</param>
    /// <param name="Kernel">Depthwise kernel size.</param>
    /// <param name="Stride">Stride of the stage's first block.</param>
    /// <param name="InputChannels">Channels entering the stage.</param>
    /// <param name="OutChannels">Channels leaving the stage.</param>
    /// <param name="NumLayers">Number of MBConv blocks.</param>
    public sealed record StageConfig(int ExpandRatio, int Kernel, int Stride, int InputChannels, int OutChannels, int NumLayers)
    {
        /// <summary>
        /// The stage under compound scaling: channels <c>MakeDivisible(c·width, 8)</c>, layers <c>ceil(n·depth)</c>
        /// (torchvision's <c>MBConvConfig.adjust_channels</c>/<c>adjust_depth</c>, from the TF reference's <c>round_filters</c>/<c>round_repeats</c>).
        /// </summary>
        public StageConfig Scale(double widthMultiplier, double depthMultiplier) => this with
        {
            InputChannels = Multipliers.MakeDivisible(InputChannels * widthMultiplier),
            OutChannels = Multipliers.MakeDivisible(OutChannels * widthMultiplier),
            NumLayers = ScaleDepth(NumLayers, depthMultiplier),
        };
    }

    /// <summary>
    /// EfficientNet-B0, paper Table 1 (stages 2–8; stage 1 is the 3x3 stem conv with 32 channels, stage 9 the 1x1 conv
    /// to 1280 = 4 × 320 channels, pooling and FC).
    /// <code>
    ///  Stage  Operator          Resolution  Channels  Layers
    ///  1      Conv3x3           224x224     32        1
    ///  2      MBConv1, k3x3     112x112     16        1
    ///  3      MBConv6, k3x3     112x112     24        2
    ///  4      MBConv6, k5x5     56x56       40        2
    ///  5      MBConv6, k3x3     28x28       80        3
    ///  6      MBConv6, k5x5     14x14       112       3
    ///  7      MBConv6, k5x5     14x14       192       4
    ///  8      MBConv6, k3x3     7x7         320       1
    ///  9      Conv1x1 &amp; Pool &amp; FC 7x7    1280      1
    /// </code>
    /// </summary>
    public static readonly IReadOnlyList<StageConfig> B0Stages =
    [
        new(1, 3, 1, 32, 16, 1),
        new(6, 3, 2, 16, 24, 2),
        new(6, 5, 2, 24, 40, 2),
        new(6, 3, 2, 40, 80, 3),
        new(6, 5, 1, 80, 112, 3),
        new(6, 5, 2, 112, 192, 4),
        new(6, 3, 1, 192, 320, 1),
    ];

    /// <summary>Stochastic depth rate of the last block in torchvision and the TF reference (drop_connect_rate 0.2).</summary>
    public const double DefaultStochasticDepthProb = 0.2;

    private readonly Sequential features;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Sequential? classifier;

    /// <summary>
    /// Builds B0 scaled by <paramref name="widthMultiplier"/> (channels) and <paramref name="depthMultiplier"/> (blocks per stage).
    /// </summary>
    /// <param name="widthMultiplier">Channel multiplier (paper's β^φ); must be finite and &gt; 0.</param>
    /// <param name="depthMultiplier">Depth multiplier (paper's α^φ); must be finite and &gt; 0.</param>
    /// <param name="dropRate">Dropout before the classifier, in [0, 1).</param>
    /// <param name="numClasses">Classes of the head; 0 = no head.</param>
    /// <param name="stochasticDepthProb">Stochastic-depth rate of the last block, in [0, 1]; block i of N uses p·i/N.</param>
    /// <param name="bnEps">BatchNorm epsilon (1e-5 for B0–B4, 1e-3 for torchvision's B5–B7, which carry TF weights).</param>
    /// <param name="bnMomentum">BatchNorm momentum in PyTorch's convention (0.1; 0.01 for B5–B7).</param>
    public EfficientNet(double widthMultiplier = 1.0, double depthMultiplier = 1.0, double dropRate = 0.2, int numClasses = 1000,
        double stochasticDepthProb = DefaultStochasticDepthProb, double bnEps = 1e-5, double bnMomentum = 0.1)
        : base("EfficientNet", numClasses)
    {
        Multipliers.RequirePositive(widthMultiplier, nameof(widthMultiplier));
        Multipliers.RequirePositive(depthMultiplier, nameof(depthMultiplier));
        if (!(dropRate >= 0 && dropRate < 1))
            throw new ArgumentException($"dropRate must be in [0, 1), got {dropRate}.", nameof(dropRate));
        if (!(stochasticDepthProb >= 0 && stochasticDepthProb <= 1))
            throw new ArgumentException($"stochasticDepthProb must be in [0, 1], got {stochasticDepthProb}.", nameof(stochasticDepthProb));
        if (!(bnEps > 0)) throw new ArgumentException($"bnEps must be > 0, got {bnEps}.", nameof(bnEps));
        if (!(bnMomentum > 0 && bnMomentum <= 1)) throw new ArgumentException($"bnMomentum must be in (0, 1], got {bnMomentum}.", nameof(bnMomentum));

        WidthMultiplier = widthMultiplier;
        DepthMultiplier = depthMultiplier;
        var stages = B0Stages.Select(s => s.Scale(widthMultiplier, depthMultiplier)).ToList();

        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("0", ConvNormActivation.Create(3, stages[0].InputChannels, 3, stride: 2, activation: Activation.SiLU, bnMomentum: bnMomentum, bnEps: bnEps)),
        };
        // Stochastic depth grows linearly with the block's index over the whole network (torchvision, TF drop_connect).
        int totalBlocks = stages.Sum(s => s.NumLayers), blockId = 0;
        foreach (var stage in stages)
        {
            var blocks = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int i = 0; i < stage.NumLayers; i++)
            {
                // Only a stage's first block changes channels and stride; the rest are residual.
                var cfg = i == 0 ? stage : stage with { InputChannels = stage.OutChannels, Stride = 1 };
                double p = stochasticDepthProb * blockId / totalBlocks;
                blocks.Add((i.ToString(), CreateBlock(cfg, p, bnEps, bnMomentum)));
                blockId++;
            }
            layers.Add((layers.Count.ToString(), nn.Sequential(blocks)));
        }
        int lastIn = stages[^1].OutChannels;
        FeatureDim = 4 * lastIn;   // 1280 for B0: the head conv widens 4x (torchvision's last_channel = None)
        layers.Add((layers.Count.ToString(), ConvNormActivation.Create(lastIn, FeatureDim, 1, activation: Activation.SiLU, bnMomentum: bnMomentum, bnEps: bnEps)));
        features = nn.Sequential(layers);
        avgpool = nn.AdaptiveAvgPool2d(1);
        if (numClasses > 0) classifier = TorchvisionLayout.DropoutLinear(FeatureDim, numClasses, dropRate);
        RegisterComponents();

        TorchvisionLayout.Initialize(this);
        // torchvision's EfficientNet initialises its Linear layer uniformly in ±1/sqrt(out_features), not N(0, 0.01).
        using var _ = no_grad();
        foreach (var (_, m) in named_modules())
        {
            if (m is Linear linear)
            {
                double range = 1.0 / Math.Sqrt(linear.out_features);
                nn.init.uniform_(linear.weight, -range, range);
            }
        }
    }

    /// <summary>
    /// Builds a compound-scaled EfficientNet for any multipliers, e.g. those compound scaling computes (CompoundScaling.Scale in Scaling/).
    /// </summary>
    /// <param name="widthMultiplier">Channel multiplier (β^φ), &gt; 0.</param>
    /// <param name="depthMultiplier">Depth multiplier (α^φ), &gt; 0.</param>
    /// <param name="dropRate">Dropout before the classifier, in [0, 1).</param>
    /// <param name="numClasses">Classes of the head; 0 = no head.</param>
    /// <param name="stochasticDepthProb">Stochastic-depth rate of the last block, in [0, 1].</param>
    /// <exception cref="ArgumentException">A multiplier is not finite and positive, or a rate is out of range; ParamName names it.</exception>
    public static EfficientNet FromMultipliers(double widthMultiplier, double depthMultiplier, double dropRate = 0.2, int numClasses = 1000,
        double stochasticDepthProb = DefaultStochasticDepthProb) =>
        new(widthMultiplier, depthMultiplier, dropRate, numClasses, stochasticDepthProb);

    /// <summary>Channel multiplier this network was built with.</summary>
    public double WidthMultiplier { get; }

    /// <summary>Depth multiplier this network was built with.</summary>
    public double DepthMultiplier { get; }

    /// <inheritdoc />
    public override int FeatureDim { get; }

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => classifier;

    /// <summary>features.0 (stem), features.1–7 (MBConv stages), features.8 (1x1 head conv).</summary>
    public override IReadOnlyList<nn.Module> Stages => features.children().ToList();

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input) => avgpool.call(features.call(input)).flatten(1);

    /// <inheritdoc />
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input) =>
        g.Flatten(g.Export(avgpool, g.Export(features, input)));

    /// <summary><c>ceil(n·depth)</c>: the TF reference's <c>round_repeats</c>, never fewer than one block.</summary>
    public static int ScaleDepth(int layers, double depthMultiplier) => (int)Math.Ceiling(layers * depthMultiplier);

    /// <summary>
    /// Mobile inverted bottleneck (Sandler et al. 2018, with Squeeze-and-Excitation as in MnasNet), torchvision's layout:
    /// <c>block</c> = [1x1 expand conv-BN-SiLU (absent when the expansion is 1)], kxk depthwise conv-BN-SiLU,
    /// SqueezeExcitation (squeeze to input/4, SiLU), 1x1 project conv-BN (linear bottleneck); identity shortcut with
    /// <see cref="StochasticDepth"/> when stride is 1 and channels are unchanged.
    /// </summary>
    /// <param name="config">One (scaled) stage row.</param>
    /// <param name="stochasticDepthProb">This block's drop rate.</param>
    /// <param name="bnEps">BatchNorm epsilon.</param>
    /// <param name="bnMomentum">BatchNorm momentum.</param>
    public static InvertedResidual CreateBlock(StageConfig config, double stochasticDepthProb, double bnEps = 1e-5, double bnMomentum = 0.1)
    {
        int expanded = Multipliers.MakeDivisible(config.InputChannels * (double)config.ExpandRatio);
        return new InvertedResidual(new InvertedResidualConfig(config.InputChannels, expanded, config.OutChannels, config.Kernel, config.Stride, Activation.SiLU)
        {
            // The squeeze width follows the block's input channels, not the expanded ones (paper/TF se_ratio 0.25 of input).
            SqueezeChannels = Math.Max(1, config.InputChannels / 4),
            StochasticDepthProb = stochasticDepthProb,
            BnEps = bnEps,
            BnMomentum = bnMomentum,
        }, InvertedResidualNames.TorchvisionEfficientNet);
    }

    static int IBackboneFamily.ListingOrder => 6; // EfficientNet (Tan & Le 2019)

    /// <summary>
    /// Registered variants B0–B7: (width, depth, resolution, dropout) of the TF reference's <c>efficientnet_params</c>,
    /// which torchvision uses. Params are exact torchvision counts; MACs (torchvision "GFLOPS") are from torchvision's
    /// model docs at torchvision's evaluation crop, which equals the paper's resolution except for B2 (288 vs 260).
    /// </summary>
    static IEnumerable<BackboneVariant> IBackboneFamily.Variants()
    {
        // name, width, depth, resolution (paper), dropout, torchvision params, MACs reference, MACs resolution, source
        (string Name, double W, double D, int Res, double Drop, long Params, long Macs, int MacsRes, string Source)[] table =
        [
            ("efficientnet_b0", 1.0, 1.0, 224, 0.2, 5_288_548, 390_000_000, 224,
                "torchvision efficientnet_b0 (5,288,548 params, 0.39 GFLOPS at 224); paper Table 2: 0.39B FLOPs"),
            ("efficientnet_b1", 1.0, 1.1, 240, 0.2, 7_794_184, 690_000_000, 240,
                "torchvision efficientnet_b1 (7,794,184 params, 0.69 GFLOPS at 240); paper Table 2: 0.70B FLOPs"),
            ("efficientnet_b2", 1.1, 1.2, 260, 0.3, 9_109_994, 1_000_000_000, 260,
                "paper Table 2: 1.0B FLOPs at 260 (torchvision efficientnet_b2: 9,109,994 params, 1.09 GFLOPS at its 288 crop)"),
            ("efficientnet_b3", 1.2, 1.4, 300, 0.3, 12_233_232, 1_830_000_000, 300,
                "torchvision efficientnet_b3 (12,233,232 params, 1.83 GFLOPS at 300); paper Table 2: 1.8B FLOPs"),
            ("efficientnet_b4", 1.4, 1.8, 380, 0.4, 19_341_616, 4_390_000_000, 380,
                "torchvision efficientnet_b4 (19,341,616 params, 4.39 GFLOPS at 380); paper Table 2: 4.2B FLOPs"),
            ("efficientnet_b5", 1.6, 2.2, 456, 0.4, 30_389_784, 10_270_000_000, 456,
                "torchvision efficientnet_b5 (30,389,784 params, 10.27 GFLOPS at 456); paper Table 2: 9.9B FLOPs"),
            ("efficientnet_b6", 1.8, 2.6, 528, 0.5, 43_040_704, 19_070_000_000, 528,
                "torchvision efficientnet_b6 (43,040,704 params, 19.07 GFLOPS at 528); paper Table 2: 19B FLOPs"),
            ("efficientnet_b7", 2.0, 3.1, 600, 0.5, 66_347_960, 37_750_000_000, 600,
                "torchvision efficientnet_b7 (66,347,960 params, 37.75 GFLOPS at 600); paper Table 2: 37B FLOPs"),
        ];
        foreach (var v in table)
        {
            // torchvision's B5–B7 carry weights ported from TF, so they keep TF's BatchNorm (eps 1e-3, decay 0.99).
            bool tfBatchNorm = v.Name is "efficientnet_b5" or "efficientnet_b6" or "efficientnet_b7";
            var row = v;
            yield return new(row.Name, "EfficientNet", row.Res,
                o => new EfficientNet(row.W, row.D, o.DropRate ?? row.Drop, o.NumClasses, DefaultStochasticDepthProb,
                    bnEps: tfBatchNorm ? 1e-3 : 1e-5, bnMomentum: tfBatchNorm ? 0.01 : 0.1),
                new PaperReference(row.Params, row.Macs, row.MacsRes, row.Source));
        }
    }
}
