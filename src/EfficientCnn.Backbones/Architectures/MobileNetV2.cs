using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// MobileNetV2 (Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks", Table 2):
/// a 3x3 stem, 17 <see cref="InvertedResidual"/> blocks, a 1x1 convolution to 1280 channels, global pooling and
/// a dropout + linear classifier. Module names and shapes equal torchvision's <c>mobilenet_v2</c> state dict
/// (<c>features.0.0.weight</c>, <c>features.1.conv.0.0.weight</c>, <c>features.18.0.weight</c>, <c>classifier.1.weight</c>).
/// </summary>
/// <remarks>
/// The width multiplier α scales every layer with <see cref="Multipliers.MakeDivisible"/>(c·α, 8) (torchvision's and
/// TF-slim's rounding); the last 1x1 convolution keeps 1280 channels unless α &gt; 1 (paper section 6.1:
/// "we do not apply the width multiplier to the last convolutional layer" for α &lt; 1).
/// </remarks>
public sealed class MobileNetV2 : Backbone, IBackboneFamily
{
    /// <summary>
    /// Paper Table 2 body: expansion factor t, output channels c, repeats n, stride s of the first repeat.
    /// </summary>
    public static readonly IReadOnlyList<(int T, int C, int N, int S)> InvertedResidualConfig =
    [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];

    /// <summary>Stem output channels at α = 1 (Table 2, first row).</summary>
    public const int StemChannels = 32;

    /// <summary>Channels of the last 1x1 convolution at α ≤ 1 (Table 2).</summary>
    public const int LastChannels = 1280;

    private readonly Sequential features;
    private readonly Sequential? classifier;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly IReadOnlyList<nn.Module> stages;

    /// <summary>Builds MobileNetV2 with width multiplier <paramref name="widthMultiplier"/> (α).</summary>
    /// <param name="widthMultiplier">α &gt; 0; 1 is the base network.</param>
    /// <param name="numClasses">Classifier outputs; 0 builds the feature extractor only.</param>
    /// <param name="dropRate">Dropout before the classifier (torchvision: 0.2).</param>
    /// <exception cref="ArgumentException">α is not a positive finite number.</exception>
    public MobileNetV2(double widthMultiplier = 1.0, int numClasses = 1000, double dropRate = 0.2)
        : base("MobileNetV2", numClasses)
    {
        Multipliers.RequirePositive(widthMultiplier, "widthMultiplier (α)");
        WidthMultiplier = widthMultiplier;

        int inChannels = Multipliers.MakeDivisible(StemChannels * widthMultiplier, 8);
        int lastChannels = Multipliers.MakeDivisible(LastChannels * Math.Max(1.0, widthMultiplier), 8);
        var blocks = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("0", ConvNormActivation.Create(3, inChannels, kernelSize: 3, stride: 2, activation: Activation.ReLU6)),
        };
        var stageEnds = new List<int>();
        foreach (var (t, c, n, s) in InvertedResidualConfig)
        {
            int outChannels = Multipliers.MakeDivisible(c * widthMultiplier, 8);
            for (int i = 0; i < n; i++)
            {
                blocks.Add((blocks.Count.ToString(), CreateBlock(inChannels, outChannels, i == 0 ? s : 1, t)));
                inChannels = outChannels;
            }
            stageEnds.Add(blocks.Count - 1);
        }
        blocks.Add((blocks.Count.ToString(), ConvNormActivation.Create(inChannels, lastChannels, kernelSize: 1, activation: Activation.ReLU6)));
        features = nn.Sequential(blocks);
        avgpool = nn.AdaptiveAvgPool2d(1);
        FeatureDim = lastChannels;
        if (numClasses > 0) classifier = TorchvisionLayout.DropoutLinear(lastChannels, numClasses, dropRate);
        RegisterComponents();
        TorchvisionLayout.Initialize(this);

        // Stages: the stem, then one per row of Table 2; the final 1x1 convolution joins the last row.
        var modules = blocks.Select(b => (nn.Module)b.Item2).ToList();
        stageEnds[^1] = modules.Count - 1;
        var list = new List<nn.Module> { modules[0] };
        int start = 1;
        foreach (int end in stageEnds)
        {
            list.Add(StageGroup.Of(modules.Skip(start).Take(end - start + 1)));
            start = end + 1;
        }
        stages = list;
    }

    /// <summary>The width multiplier α this network was built with.</summary>
    public double WidthMultiplier { get; }

    /// <inheritdoc />
    public override int FeatureDim { get; }

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => classifier;

    /// <inheritdoc />
    public override IReadOnlyList<nn.Module> Stages => stages;

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input) => avgpool.call(features.call(input)).flatten(1);

    /// <inheritdoc />
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input) =>
        g.Flatten(g.Export(avgpool, g.Export(features, input)));

    /// <summary>
    /// Inverted residual with linear bottleneck (paper Table 1, Figure 3b): 1x1 expansion by t + BN + ReLU6
    /// (omitted when t = 1), 3x3 depthwise + BN + ReLU6, 1x1 linear projection + BN with no activation. The input
    /// is added to the output only when the block keeps both resolution and width (stride 1, in = out).
    /// The hidden width is in·t, as torchvision; parts are named as torchvision's <c>conv</c> Sequential.
    /// </summary>
    /// <exception cref="ArgumentException">A channel count or t is below 1, or the stride is not 1 or 2.</exception>
    public static InvertedResidual CreateBlock(long inChannels, long outChannels, int stride, int expandRatio)
    {
        if (expandRatio < 1) throw new ArgumentException($"expandRatio must be >= 1, got {expandRatio}.", nameof(expandRatio));
        return new InvertedResidual(new InvertedResidualConfig(inChannels, inChannels * expandRatio, outChannels, 3, stride, Activation.ReLU6),
            InvertedResidualNames.TorchvisionMobileNetV2);
    }

    static int IBackboneFamily.ListingOrder => 3; // MobileNetV2 (Sandler et al. 2018)

    /// <summary>
    /// Registered variants. 1.0: torchvision's <c>mobilenet_v2</c> (3,504,872 params exact; its 0.30 GFLOPS is
    /// too rounded, so the paper's 300M mult-adds of Table 4 is used — the exact count of this network is 300.8M).
    /// Other widths: the TF-slim README table (research/slim/nets/mobilenet/README.md), whose checkpoints the
    /// paper's Table 6 / Figure 5 report; its parameter figures are rounded to 10k and count 1001 classes and
    /// BN without γ, so they are paper-rounded (ExactParams = false).
    /// </summary>
    static IEnumerable<BackboneVariant> IBackboneFamily.Variants()
    {
        const string family = "MobileNetV2";
        const string readme = "TF-slim mobilenet/README.md";
        yield return new("mobilenet_v2_1.0", family, 224,
            o => new MobileNetV2(1.0, o.NumClasses, o.DropRate ?? 0.2),
            new PaperReference(3_504_872, 300_000_000, 224,
                "torchvision mobilenet_v2 (3,504,872 params, 0.30 GFLOPS); paper Table 4: 300M mult-adds, 3.4M params"));
        yield return Variant("mobilenet_v2_0.35", 0.35, 1_660_000, 59_000_000, $"{readme}: 59M MACs, 1.66M params");
        yield return Variant("mobilenet_v2_0.5", 0.5, 1_950_000, 97_000_000, $"{readme}: 97M MACs, 1.95M params");
        yield return Variant("mobilenet_v2_0.75", 0.75, 2_610_000, 209_000_000, $"{readme}: 209M MACs, 2.61M params");
        yield return Variant("mobilenet_v2_1.4", 1.4, 6_060_000, 582_000_000, $"{readme}: 582M MACs, 6.06M params (paper Table 4: 585M)");

        static BackboneVariant Variant(string name, double alpha, long parameters, long macs, string source) =>
            new(name, family, 224,
                o => new MobileNetV2(alpha, o.NumClasses, o.DropRate ?? 0.2),
                new PaperReference(parameters, macs, 224, source, ExactParams: false));
    }
}
