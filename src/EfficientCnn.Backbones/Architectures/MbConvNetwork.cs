using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// The network MNASNet-A1 and every network of its search space share (timm's generic builder for
/// <c>semnasnet_100</c>): 3x3 stride-2 stem conv → stages of <see cref="SepConv"/> /
/// <see cref="InvertedResidual"/> blocks (timm's names) → 1x1 head conv → mean over H, W → dropout → Linear classifier.
/// Module names are timm's: <c>conv_stem</c>, <c>bn1</c>, <c>blocks.i.j.*</c>, <c>conv_head</c>, <c>bn2</c>,
/// <c>classifier</c>; initialisation is timm's as well.
/// </summary>
/// <remarks>Subclasses say which stages to build: <see cref="MnasNetA1"/> (Figure 7(a)) and the search's networks (any spec).</remarks>
public abstract class MbConvNetwork : Backbone
{
    private readonly Conv2d conv_stem;
    private readonly BatchNorm2d bn1;
    private readonly ReLU act1;
    private readonly Sequential blocks;
    private readonly Conv2d conv_head;
    private readonly BatchNorm2d bn2;
    private readonly ReLU act2;
    private readonly Linear? classifier;
    private readonly Sequential[] stages;
    private readonly double dropRate;

    /// <summary>Builds the network from stage descriptions whose channel counts are final (already width-scaled).</summary>
    /// <param name="name">TorchSharp module name.</param>
    /// <param name="stemChannels">Width of the stem conv.</param>
    /// <param name="stageSpecs">The stages, input side first; <see cref="MbConvStage.Kind"/> "SepConv" builds
    /// <see cref="SepConv"/> blocks, any other kind <see cref="InvertedResidual"/> blocks.</param>
    /// <param name="headChannels">Width of the 1x1 head conv, which is the feature dimension.</param>
    /// <param name="numClasses">Classes of the head; 0 builds the feature extractor only.</param>
    /// <param name="dropRate">Dropout before the classifier.</param>
    private protected MbConvNetwork(string name, int stemChannels, IReadOnlyList<MbConvStage> stageSpecs,
        int headChannels, int numClasses, double dropRate)
        : base(name, numClasses)
    {
        this.dropRate = dropRate;
        FeatureDim = headChannels;
        conv_stem = nn.Conv2d(3, stemChannels, 3, stride: 2, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(stemChannels);
        act1 = nn.ReLU(inplace: true);

        long inChannels = stemChannels;
        stages = new Sequential[stageSpecs.Count];
        for (int s = 0; s < stages.Length; s++)
        {
            var spec = stageSpecs[s];
            var stage = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int i = 0; i < spec.Repeats; i++)
            {
                int stride = i == 0 ? spec.Stride : 1;
                nn.Module<Tensor, Tensor> block = spec.Kind == "SepConv"
                    ? new SepConv(inChannels, spec.Channels, spec.Kernel, stride)
                    : CreateBlock(inChannels, spec.Channels, spec.Kernel, stride, spec.Expansion, spec.SeRatio);
                stage.Add((i.ToString(), block));
                inChannels = spec.Channels;
            }
            stages[s] = nn.Sequential(stage);
        }
        blocks = nn.Sequential(stages.Select((m, i) => (i.ToString(), (nn.Module<Tensor, Tensor>)m)));

        conv_head = nn.Conv2d(inChannels, headChannels, 1, bias: false);
        bn2 = nn.BatchNorm2d(headChannels);
        act2 = nn.ReLU(inplace: true);
        if (numClasses > 0) classifier = nn.Linear(headChannels, numClasses);
        // TorchSharp registers fields declared on base classes too, in declaration order (the state dict's order).
        RegisterComponents();
        InitializeTimmStyle(this);
    }

    /// <inheritdoc />
    public override int FeatureDim { get; }

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => classifier;

    /// <inheritdoc />
    /// <remarks>Stem and head groups are Sequential views (a fresh TorchSharp ModuleList reports no parameters).</remarks>
    public override IReadOnlyList<nn.Module> Stages =>
        [nn.Sequential(conv_stem, bn1, act1), .. stages, nn.Sequential(conv_head, bn2, act2)];

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input)
    {
        var x = act1.call(bn1.call(conv_stem.call(input)));
        x = blocks.call(x);
        x = act2.call(bn2.call(conv_head.call(x)));
        return x.mean([2, 3]);
    }

    /// <inheritdoc />
    /// <remarks>timm's attribute names (conv then its BN as separate fields) are written as folded conv-BN pairs.</remarks>
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input)
    {
        string x = g.Export(act1, g.ExportConvBn(conv_stem, bn1, input));
        x = g.Export(blocks, x);
        x = g.Export(act2, g.ExportConvBn(conv_head, bn2, x));
        return g.Flatten(g.Op("GlobalAveragePool", x));
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        // timm's classifier is a bare Linear; dropout is applied functionally before it.
        var features = ForwardFeatures(input);
        if (classifier is null) return features;
        return classifier.call(nn.functional.dropout(features, dropRate, training));
    }

    /// <summary>
    /// The paper's "MBConv" (inverted residual), with optional squeeze-and-excitation after the depthwise conv, as timm's
    /// InvertedResidual: <c>conv_pw</c>, <c>bn1</c>, <c>conv_dw</c>, <c>bn2</c>, <c>se</c>, <c>conv_pwl</c>, <c>bn3</c> and one
    /// <c>act</c> (ReLU); the expansion is always there, its width rounded to a multiple of 8.
    /// </summary>
    /// <param name="inChannels">Input width.</param>
    /// <param name="outChannels">Output width.</param>
    /// <param name="kernelSize">Depthwise kernel size.</param>
    /// <param name="stride">Depthwise stride.</param>
    /// <param name="expansion">Expansion ratio.</param>
    /// <param name="seRatio">Squeeze ratio relative to the block input; 0 for no squeeze-and-excitation.</param>
    private static InvertedResidual CreateBlock(long inChannels, long outChannels, int kernelSize, int stride, int expansion, double seRatio)
    {
        long mid = Multipliers.MakeDivisible(inChannels * (double)expansion, 8);
        long squeeze = 0;
        if (seRatio > 0)
        {
            // timm (se_from_exp=False): the ratio is taken of the block input, i.e. mid · (ratio / expansion),
            // rounded half-to-even like Python's round().
            double ratio = seRatio / expansion;
            squeeze = (long)Math.Round(mid * ratio, MidpointRounding.ToEven);
            if (squeeze < 1) throw new ArgumentException($"squeeze-and-excitation width must be >= 1, got {squeeze}.", nameof(seRatio));
        }
        return new InvertedResidual(new InvertedResidualConfig(inChannels, mid, outChannels, kernelSize, stride, Activation.ReLU)
            { Expands = true, SqueezeChannels = squeeze }, InvertedResidualNames.Timm);
    }

    /// <summary>
    /// timm's <c>_init_weight_goog</c> (TF reference): conv N(0, sqrt(2 / fan_out)) with fan_out = k·k·out / groups,
    /// BN weight 1 / bias 0, Linear U(±1/sqrt(out_features)).
    /// </summary>
    private static void InitializeTimmStyle(nn.Module root)
    {
        using var _ = no_grad();
        foreach (var (_, m) in root.named_modules())
        {
            switch (m)
            {
                case Conv2d conv:
                    long fanOut = conv.kernel_size.Aggregate(1L, (a, b) => a * b) * conv.out_channels / conv.groups;
                    nn.init.normal_(conv.weight, 0, Math.Sqrt(2.0 / fanOut));
                    if (conv.bias is not null) nn.init.zeros_(conv.bias);
                    break;
                case BatchNorm2d bn:
                    nn.init.ones_(bn.weight!);
                    nn.init.zeros_(bn.bias!);
                    break;
                case Linear linear:
                    double range = 1.0 / Math.Sqrt(linear.out_features);
                    nn.init.uniform_(linear.weight, -range, range);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                    break;
            }
        }
    }
}
