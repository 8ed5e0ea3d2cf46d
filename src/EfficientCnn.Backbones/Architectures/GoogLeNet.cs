using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// GoogLeNet / Inception-V1 (Szegedy et al. 2014, "Going Deeper with Convolutions", Table 1), laid out exactly as
/// torchvision's <c>googlenet</c>: BatchNorm after every convolution (<see cref="BasicConv2d"/>), ceil-mode max pools,
/// module names conv1 … inception5b, avgpool, dropout, fc, and the optional auxiliary classifiers aux1/aux2.
/// </summary>
/// <remarks>
/// <para>Like torchvision (pytorch/vision issue 906), the "5x5" branch of each <see cref="Inception"/> module uses a
/// 3x3 convolution; this keeps the state dict loadable from torchvision and gives its 6,624,904 parameters.</para>
/// <para>torchvision's <c>transform_input</c> (re-normalisation for its TensorFlow-ported weights) is not implemented:
/// it is off for untrained models, which is all this zoo builds.</para>
/// </remarks>
public sealed class GoogLeNet : Backbone, IBackboneFamily
{
    /// <summary>
    /// Paper Table 1, one row per Inception module: name, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
    /// Input channels are the previous module's output (sum of #1x1, #3x3, #5x5, pool proj).
    /// </summary>
    private static readonly (string Name, int C1x1, int C3x3Red, int C3x3, int C5x5Red, int C5x5, int PoolProj)[] InceptionTable =
    [
        ("inception3a", 64, 96, 128, 16, 32, 32),
        ("inception3b", 128, 128, 192, 32, 96, 64),
        ("inception4a", 192, 96, 208, 16, 48, 64),
        ("inception4b", 160, 112, 224, 24, 64, 64),
        ("inception4c", 128, 128, 256, 24, 64, 64),
        ("inception4d", 112, 144, 288, 32, 64, 64),
        ("inception4e", 256, 160, 320, 32, 128, 128),
        ("inception5a", 256, 160, 320, 32, 128, 128),
        ("inception5b", 384, 192, 384, 48, 128, 128),
    ];

    private readonly BasicConv2d conv1, conv2, conv3;
    private readonly MaxPool2d maxpool1, maxpool2, maxpool3, maxpool4;
    private readonly Inception inception3a, inception3b, inception4a, inception4b, inception4c, inception4d, inception4e, inception5a, inception5b;
    private readonly InceptionAux? aux1, aux2;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Dropout dropout;
    private readonly Linear? fc;

    /// <summary>Builds GoogLeNet.</summary>
    /// <param name="numClasses">Classes of <c>fc</c> (and of the auxiliary heads); 0 builds the feature extractor only.</param>
    /// <param name="dropRate">Dropout before <c>fc</c>; torchvision uses 0.2.</param>
    /// <param name="auxLogits">Adds the two auxiliary classifiers (after inception4a and inception4d) used in training;
    /// read them with <see cref="ForwardWithAux"/>. torchvision's pretrained model and its 6,624,904 parameters are without them.</param>
    /// <param name="widthMultiplier">Scales every channel count of Table 1 (1.0 = the paper); small values give tiny test models.</param>
    public GoogLeNet(int numClasses = 1000, double dropRate = 0.2, bool auxLogits = false, double widthMultiplier = 1.0)
        : base("GoogLeNet", numClasses)
    {
        if (!(widthMultiplier > 0) || double.IsInfinity(widthMultiplier))
            throw new ArgumentException($"widthMultiplier must be a positive finite number, got {widthMultiplier}.", nameof(widthMultiplier));
        if (dropRate < 0 || dropRate >= 1 || double.IsNaN(dropRate))
            throw new ArgumentException($"dropRate must be in [0, 1), got {dropRate}.", nameof(dropRate));
        if (auxLogits && numClasses == 0)
            throw new ArgumentException("auxLogits needs a classifier: numClasses must be > 0 when the auxiliary heads are on.", nameof(auxLogits));
        int W(int channels) => Math.Max(1, (int)Math.Round(channels * widthMultiplier));

        conv1 = new BasicConv2d(3, W(64), 7, stride: 2, padding: 3);
        // torchvision's pools use ceil_mode=True (Caffe's rounding), so odd sizes round up: 112 → 56 → 28 → 14 → 7.
        maxpool1 = nn.MaxPool2d(3, stride: 2, ceil_mode: true);
        conv2 = new BasicConv2d(W(64), W(64), 1);
        conv3 = new BasicConv2d(W(64), W(192), 3, padding: 1);
        maxpool2 = nn.MaxPool2d(3, stride: 2, ceil_mode: true);

        long channels = W(192);
        var modules = new Inception[InceptionTable.Length];
        var stageInputs = new Dictionary<string, long>();
        for (int i = 0; i < InceptionTable.Length; i++)
        {
            var r = InceptionTable[i];
            stageInputs[r.Name] = channels;
            modules[i] = new Inception(channels, W(r.C1x1), W(r.C3x3Red), W(r.C3x3), W(r.C5x5Red), W(r.C5x5), W(r.PoolProj));
            channels = modules[i].OutChannels;
        }
        (inception3a, inception3b, inception4a, inception4b, inception4c, inception4d, inception4e, inception5a, inception5b) =
            (modules[0], modules[1], modules[2], modules[3], modules[4], modules[5], modules[6], modules[7], modules[8]);
        maxpool3 = nn.MaxPool2d(3, stride: 2, ceil_mode: true);
        maxpool4 = nn.MaxPool2d(2, stride: 2, ceil_mode: true);

        if (auxLogits)
        {
            // aux1 reads inception4a's output (= inception4b's input), aux2 reads inception4d's (= inception4e's input).
            aux1 = new InceptionAux(stageInputs["inception4b"], numClasses, W(128), W(1024));
            aux2 = new InceptionAux(stageInputs["inception4e"], numClasses, W(128), W(1024));
        }
        avgpool = nn.AdaptiveAvgPool2d(1);
        dropout = nn.Dropout(dropRate);
        FeatureDim = (int)channels;
        if (numClasses > 0) fc = nn.Linear(channels, numClasses);
        RegisterComponents();
        InitializeWeights();
    }

    /// <inheritdoc />
    public override int FeatureDim { get; }

    /// <summary>
    /// 15 px: the smallest input for which every ceil-mode pool still sees at least one pixel
    /// (15 → conv1 8 → 4 → 2 → 1 → maxpool4 1). ceil_mode lets the later pools cover a partial window,
    /// so the net accepts far less than its nominal stride of 32.
    /// </summary>
    public override int MinInputSize => 15;

    /// <summary>True when the auxiliary classifiers exist (constructor flag <c>auxLogits</c>).</summary>
    public bool HasAuxLogits => aux1 is not null;

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => fc;

    /// <inheritdoc />
    /// <remarks>Stem (conv1…maxpool2), inception3, inception4 (with maxpool3), inception5 (with maxpool4).
    /// The auxiliary heads are training-only classifiers and belong to no stage.</remarks>
    public override IReadOnlyList<nn.Module> Stages =>
    [
        StageGroup.Of([conv1, maxpool1, conv2, conv3, maxpool2]),
        StageGroup.Of([inception3a, inception3b]),
        StageGroup.Of([maxpool3, inception4a, inception4b, inception4c, inception4d, inception4e]),
        StageGroup.Of([maxpool4, inception5a, inception5b]),
    ];

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input) => Features(input, computeAux: false, out _, out _);

    /// <inheritdoc />
    /// <remarks>The inference path only: the auxiliary heads are training-only classifiers and are not exported.
    /// The ceil-mode max pools map to ONNX's <c>ceil_mode</c>, so H and W stay symbolic.</remarks>
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input)
    {
        var x = input;
        foreach (var m in new nn.Module[] { conv1, maxpool1, conv2, conv3, maxpool2, inception3a, inception3b, maxpool3,
                     inception4a, inception4b, inception4c, inception4d, inception4e, maxpool4, inception5a, inception5b, avgpool })
            x = g.Export(m, x);
        return g.Flatten(x);
    }

    /// <inheritdoc />
    /// <remarks>As torchvision: dropout, then the bare linear layer <c>fc</c>. Auxiliary logits are never returned here.</remarks>
    public override Tensor forward(Tensor input) => ForwardWithAux(input).Logits;

    /// <summary>
    /// Main logits plus the auxiliary logits ([N, NumClasses] each). The auxiliary heads run only when they exist
    /// and the module is in training mode (as torchvision); otherwise Aux1 and Aux2 are null.
    /// Training loss in the paper: main + 0.3 × (aux1 + aux2).
    /// </summary>
    public (Tensor Logits, Tensor? Aux1, Tensor? Aux2) ForwardWithAux(Tensor input)
    {
        ValidateInput(input);
        var features = Features(input, computeAux: training && HasAuxLogits, out var a1, out var a2);
        var logits = fc is null ? features : fc.call(dropout.call(features));
        return (logits, a1, a2);
    }

    private Tensor Features(Tensor input, bool computeAux, out Tensor? auxOut1, out Tensor? auxOut2)
    {
        auxOut1 = auxOut2 = null;
        var x = maxpool1.call(conv1.call(input));
        x = maxpool2.call(conv3.call(conv2.call(x)));
        x = maxpool3.call(inception3b.call(inception3a.call(x)));
        x = inception4a.call(x);
        if (computeAux) auxOut1 = aux1!.call(x);
        x = inception4d.call(inception4c.call(inception4b.call(x)));
        if (computeAux) auxOut2 = aux2!.call(x);
        x = maxpool4.call(inception4e.call(x));
        x = inception5b.call(inception5a.call(x));
        return avgpool.call(x).flatten(1);
    }

    /// <summary>torchvision's init: conv and linear weights truncated normal (std 0.01, cut at ±2 std), BN 1/0.</summary>
    private void InitializeWeights()
    {
        using var _ = no_grad();
        foreach (var (_, m) in named_modules())
        {
            switch (m)
            {
                case Conv2d c: TruncatedNormal(c.weight, 0.01); break;
                case Linear l: TruncatedNormal(l.weight, 0.01); break;
                case BatchNorm2d b: nn.init.ones_(b.weight!); nn.init.zeros_(b.bias!); break;
            }
        }
    }

    /// <summary>
    /// Fills <paramref name="weight"/> with N(0, std²) truncated to ±2 std by inverse-CDF sampling (PyTorch's algorithm).
    /// Written out because TorchSharp 0.107's <c>nn.init.trunc_normal_</c> fills the tensor with a constant.
    /// </summary>
    private static void TruncatedNormal(Tensor weight, double std)
    {
        // Φ(±2) = 0.5 ± 0.4772499; uniform in [2Φ(-2) - 1, 2Φ(2) - 1], then erfinv, scale by std·√2.
        const double half = 0.4772498680518208;
        weight.uniform_(-2 * half, 2 * half).erfinv_().mul_(std * Math.Sqrt(2.0)).clamp_(-2 * std, 2 * std);
    }

    /// <summary>torchvision's <c>BasicConv2d</c>: convolution without bias → BatchNorm (eps 0.001) → ReLU.</summary>
    public sealed class BasicConv2d : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Conv2d conv;
        private readonly BatchNorm2d bn;
        private readonly ReLU relu;

        /// <summary>Creates the layer.</summary>
        public BasicConv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0) : base(nameof(BasicConv2d))
        {
            conv = nn.Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: padding, bias: false);
            bn = nn.BatchNorm2d(outChannels, eps: 0.001);
            relu = nn.ReLU(inplace: true);
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x) => relu.call(bn.call(conv.call(x)));

        /// <inheritdoc />
        /// <remarks>One Conv (BN folded when the builder folds) and a Relu.</remarks>
        public string ExportOnnx(OnnxGraphBuilder g, string input) => g.Export(relu, g.ExportConvBn(conv, bn, input));
    }

    /// <summary>
    /// The Inception module (paper Fig. 2b): 1x1 | 1x1 → 3x3 | 1x1 → "5x5" | 3x3 max pool → 1x1, concatenated on channels.
    /// branch3's second conv is 3x3, as in torchvision (pytorch/vision issue 906), not the paper's 5x5.
    /// </summary>
    public sealed class Inception : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly BasicConv2d branch1;
        private readonly Sequential branch2, branch3, branch4;

        /// <summary>Creates the module with the channel counts of one row of Table 1.</summary>
        public Inception(long inChannels, long ch1x1, long ch3x3Red, long ch3x3, long ch5x5Red, long ch5x5, long poolProj) : base(nameof(Inception))
        {
            branch1 = new BasicConv2d(inChannels, ch1x1, 1);
            branch2 = nn.Sequential(("0", new BasicConv2d(inChannels, ch3x3Red, 1)), ("1", new BasicConv2d(ch3x3Red, ch3x3, 3, padding: 1)));
            branch3 = nn.Sequential(("0", new BasicConv2d(inChannels, ch5x5Red, 1)), ("1", new BasicConv2d(ch5x5Red, ch5x5, 3, padding: 1)));
            branch4 = nn.Sequential(("0", nn.MaxPool2d(3, stride: 1, padding: 1, ceil_mode: true)), ("1", new BasicConv2d(inChannels, poolProj, 1)));
            OutChannels = ch1x1 + ch3x3 + ch5x5 + poolProj;
            RegisterComponents();
        }

        /// <summary>Channels of the concatenated output.</summary>
        public long OutChannels { get; }

        /// <inheritdoc />
        public override Tensor forward(Tensor x) =>
            cat([branch1.call(x), branch2.call(x), branch3.call(x), branch4.call(x)], 1);

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input) =>
            g.Op("Concat", [g.Export(branch1, input), g.Export(branch2, input), g.Export(branch3, input), g.Export(branch4, input)],
                OnnxTensors.Attr("axis", 1L));
    }

    /// <summary>
    /// Auxiliary classifier (paper section 5, torchvision's <c>InceptionAux</c>): 4x4 adaptive average pool → 1x1 conv (128)
    /// → fc1 (2048 → 1024) → ReLU → dropout 0.7 → fc2.
    /// </summary>
    public sealed class InceptionAux : nn.Module<Tensor, Tensor>
    {
        private readonly BasicConv2d conv;
        private readonly Linear fc1, fc2;

        /// <summary>Creates the head; <paramref name="convChannels"/> (128) and <paramref name="hidden"/> (1024) are Table/section 5's sizes.</summary>
        public InceptionAux(long inChannels, long numClasses, long convChannels = 128, long hidden = 1024) : base(nameof(InceptionAux))
        {
            conv = new BasicConv2d(inChannels, convChannels, 1);
            fc1 = nn.Linear(convChannels * 16, hidden);
            fc2 = nn.Linear(hidden, numClasses);
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            x = conv.call(nn.functional.adaptive_avg_pool2d(x, [4, 4])).flatten(1);
            x = nn.functional.relu(fc1.call(x));
            return fc2.call(nn.functional.dropout(x, 0.7, training));
        }
    }

    static int IBackboneFamily.ListingOrder => 9; // reference point: GoogLeNet

    /// <summary>Registered variant. Reference: torchvision's googlenet docs (6,624,904 params, 1.50 GFLOPS).</summary>
    static IEnumerable<BackboneVariant> IBackboneFamily.Variants()
    {
        yield return new("googlenet", "GoogLeNet", 224,
            o => new GoogLeNet(o.NumClasses, o.DropRate ?? 0.2),
            new PaperReference(6_624_904, 1_500_000_000, 224,
                "torchvision googlenet (6,624,904 params without aux heads, 1.50 GFLOPS); Szegedy et al. 2014 Table 1: 6.8M params, 1.5G mult-adds (5x5 branch; torchvision uses 3x3)"));
    }
}
