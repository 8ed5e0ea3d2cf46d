using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// MobileNetV1 (Howard et al. 2017, "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
/// Applications", Table 1): a 3x3 stem convolution followed by 13 depthwise-separable blocks, global average
/// pooling and a linear classifier.
/// </summary>
/// <remarks>
/// <para>
/// The width multiplier α (paper section 3.3) thins every layer. Channels follow the TF-slim reference
/// (tensorflow/models research/slim/nets/mobilenet_v1.py, <c>depth = max(int(d * depth_multiplier), min_depth)</c>
/// with <c>min_depth = 8</c>): truncate c·α, but never below 8. For the published α (1, 0.75, 0.5, 0.25) every
/// channel count is a multiple of 8, so this equals timm's <c>make_divisible</c> rounding.
/// The resolution multiplier ρ (section 3.4) is the input size itself: the network is fully convolutional,
/// the variants only differ in their default resolution.
/// </para>
/// <para>
/// torchvision has no MobileNetV1. Module names follow torchvision's MobileNetV2 conventions so the two read
/// alike: <c>features.0</c> is the stem (<c>Conv2dNormActivation</c>: <c>features.0.0</c> conv, <c>features.0.1</c> BN),
/// <c>features.1</c>…<c>features.13</c> are <see cref="DepthwiseSeparableConv"/> blocks with children
/// <c>depthwise</c> and <c>pointwise</c> (each conv "0", BN "1", ReLU "2"), and <c>classifier</c> is
/// Sequential(Dropout "0", Linear "1"). They do not load timm's <c>mobilenetv1_100</c> checkpoints
/// (<c>conv_stem</c>/<c>blocks.i.j.conv_dw</c> names) without a key mapping.
/// </para>
/// <para>
/// Activations are ReLU as in the paper (Figure 3); TF-slim's checkpoints use ReLU6, which changes no count.
/// The classifier is a Linear layer (TF-slim's 1x1 conv over the pooled vector is the same operation).
/// </para>
/// </remarks>
public sealed class MobileNetV1 : Backbone, IBackboneFamily
{
    /// <summary>
    /// Paper Table 1 body after the stem: (output channels, stride) of each depthwise-separable block.
    /// The stem is a full 3x3 convolution to <see cref="StemChannels"/> channels with stride 2.
    /// </summary>
    public static readonly IReadOnlyList<(int Channels, int Stride)> BlockConfig =
    [
        (64, 1),
        (128, 2), (128, 1),
        (256, 2), (256, 1),
        (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
        (1024, 2), (1024, 1),
    ];

    /// <summary>Output channels of the stem convolution at α = 1 (paper Table 1, first row).</summary>
    public const int StemChannels = 32;

    /// <summary>Smallest channel count α may produce (TF-slim's <c>min_depth</c>).</summary>
    public const int MinChannels = 8;

    private readonly Sequential features;
    private readonly Sequential? classifier;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly IReadOnlyList<nn.Module> stages;

    /// <summary>Builds MobileNetV1 with width multiplier <paramref name="widthMultiplier"/> (α).</summary>
    /// <param name="widthMultiplier">α &gt; 0; 1 is the base network.</param>
    /// <param name="numClasses">Classifier outputs; 0 builds the feature extractor only.</param>
    /// <param name="dropRate">Dropout before the classifier (TF-slim's default keep probability 0.999 is 0.001).</param>
    /// <exception cref="ArgumentException">α is not a positive finite number.</exception>
    public MobileNetV1(double widthMultiplier = 1.0, int numClasses = 1000, double dropRate = 0.001)
        : base("MobileNetV1", numClasses)
    {
        Multipliers.RequirePositive(widthMultiplier, "widthMultiplier (α)");
        WidthMultiplier = widthMultiplier;

        int inChannels = ScaleChannels(StemChannels, widthMultiplier);
        var blocks = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("0", ConvNormActivation.Create(3, inChannels, kernelSize: 3, stride: 2, activation: Activation.ReLU)),
        };
        foreach (var (channels, stride) in BlockConfig)
        {
            int outChannels = ScaleChannels(channels, widthMultiplier);
            blocks.Add((blocks.Count.ToString(), new DepthwiseSeparableConv(inChannels, outChannels, stride)));
            inChannels = outChannels;
        }
        features = nn.Sequential(blocks);
        avgpool = nn.AdaptiveAvgPool2d(1);
        FeatureDim = inChannels;
        if (numClasses > 0) classifier = TorchvisionLayout.DropoutLinear(inChannels, numClasses, dropRate);
        RegisterComponents();
        TorchvisionLayout.Initialize(this);

        // Stages split where the resolution halves: stem, then blocks 1, 2-3, 4-5, 6-11, 12-13.
        var modules = blocks.Select(b => (nn.Module)b.Item2).ToList();
        stages = [modules[0], Group(modules, 1, 1), Group(modules, 2, 3), Group(modules, 4, 5), Group(modules, 6, 11), Group(modules, 12, 13)];
    }

    /// <summary>The width multiplier α this network was built with.</summary>
    public double WidthMultiplier { get; }

    /// <summary>
    /// Channels of a layer with <paramref name="channels"/> at α = 1, thinned by α:
    /// <c>max(floor(channels·α), 8)</c> (TF-slim's <c>depth</c> function).
    /// </summary>
    public static int ScaleChannels(int channels, double widthMultiplier) =>
        Math.Max((int)(channels * widthMultiplier), MinChannels);

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

    private static nn.Module Group(List<nn.Module> modules, int first, int last) =>
        StageGroup.Of(modules.Skip(first).Take(last - first + 1));

    /// <summary>
    /// Depthwise-separable convolution (paper Figure 3, right): a 3x3 depthwise convolution (one filter per
    /// input channel, <c>groups = channels</c>) + BN + ReLU, then a 1x1 pointwise convolution that mixes channels
    /// + BN + ReLU. Costs 1/N + 1/9 of a standard 3x3 convolution (section 3.1).
    /// </summary>
    public sealed class DepthwiseSeparableConv : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential depthwise;
        private readonly Sequential pointwise;

        /// <summary>Creates the block; the stride is applied by the depthwise convolution.</summary>
        /// <exception cref="ArgumentException">A channel count is below 1 or the stride is not 1 or 2.</exception>
        public DepthwiseSeparableConv(long inChannels, long outChannels, long stride) : base(nameof(DepthwiseSeparableConv))
        {
            if (inChannels < 1) throw new ArgumentException($"inChannels must be >= 1, got {inChannels}.", nameof(inChannels));
            if (outChannels < 1) throw new ArgumentException($"outChannels must be >= 1, got {outChannels}.", nameof(outChannels));
            if (stride is not (1 or 2)) throw new ArgumentException($"stride must be 1 or 2, got {stride}.", nameof(stride));
            depthwise = ConvNormActivation.Create(inChannels, inChannels, kernelSize: 3, stride: stride, groups: inChannels, activation: Activation.ReLU);
            pointwise = ConvNormActivation.Create(inChannels, outChannels, kernelSize: 1, activation: Activation.ReLU);
            RegisterComponents();
        }

        /// <summary>The 3x3 depthwise convolution (<c>depthwise.0</c>).</summary>
        public Conv2d DepthwiseConv => (Conv2d)depthwise[0];

        /// <summary>The 1x1 pointwise convolution (<c>pointwise.0</c>).</summary>
        public Conv2d PointwiseConv => (Conv2d)pointwise[0];

        /// <inheritdoc />
        public override Tensor forward(Tensor x) => pointwise.call(depthwise.call(x));

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input) => g.Export(pointwise, g.Export(depthwise, input));
    }

    static int IBackboneFamily.ListingOrder => 1; // MobileNetV1 (Howard et al. 2017)

    /// <summary>
    /// Registered variants. MACs: paper Table 6 (width multiplier, 224 px) and Table 7 (resolution multiplier,
    /// α = 1); the paper's 1.0-224 figure (569M) equals TF-slim's per-layer table in mobilenet_v1.py
    /// (567,716,352 body MACs + 1,024,000 classifier). Params: the TF-slim README (research/slim/nets/mobilenet_v1.md)
    /// gives two decimals (4.24/2.59/1.34/0.47M) where the paper rounds to one (4.2/2.6/1.3/0.5M); the paper's
    /// 0.5M for α = 0.25 is a rounding of 0.47M and lies 6% from the exact count, so the README figures are used.
    /// Counts are paper-rounded (no exact reference: torchvision has no MobileNetV1, and TF-slim's BN has no γ).
    /// </summary>
    static IEnumerable<BackboneVariant> IBackboneFamily.Variants()
    {
        const string family = "MobileNetV1";
        const string readme = "TF-slim mobilenet_v1.md";
        yield return Variant("mobilenet_v1_1.0", 1.0, 224, 4_240_000, 569_000_000, $"paper Table 6/8: 569M mult-adds, 4.2M params; {readme}: 4.24M");
        yield return Variant("mobilenet_v1_0.75", 0.75, 224, 2_590_000, 325_000_000, $"paper Table 6: 325M mult-adds, 2.6M params; {readme}: 2.59M");
        yield return Variant("mobilenet_v1_0.5", 0.5, 224, 1_340_000, 149_000_000, $"paper Table 6: 149M mult-adds, 1.3M params; {readme}: 1.34M");
        yield return Variant("mobilenet_v1_0.25", 0.25, 224, 470_000, 41_000_000, $"paper Table 6: 41M mult-adds, 0.5M params; {readme}: 0.47M");
        yield return Variant("mobilenet_v1_1.0_192", 1.0, 192, 4_240_000, 418_000_000, $"paper Table 7: 418M mult-adds, 4.2M params; {readme}: 4.24M");
        yield return Variant("mobilenet_v1_1.0_160", 1.0, 160, 4_240_000, 290_000_000, $"paper Table 7: 290M mult-adds, 4.2M params; {readme}: 4.24M");
        yield return Variant("mobilenet_v1_1.0_128", 1.0, 128, 4_240_000, 186_000_000, $"paper Table 7: 186M mult-adds, 4.2M params; {readme}: 4.24M");

        static BackboneVariant Variant(string name, double alpha, int resolution, long parameters, long macs, string source) =>
            new(name, family, resolution,
                o => new MobileNetV1(alpha, o.NumClasses, o.DropRate ?? 0.001),
                new PaperReference(parameters, macs, resolution, source, ExactParams: false));
    }
}
