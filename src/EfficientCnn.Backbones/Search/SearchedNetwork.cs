using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Search;

/// <summary>
/// Builds any <see cref="ArchitectureSpec"/> from MNASNet-A1's own blocks (<see cref="MnasNetA1.SepConv"/>,
/// <see cref="MnasNetA1.MBConv"/> with <see cref="MnasNetA1.SqueezeExcite"/>), with timm's module names and
/// initialisation, so that <see cref="ArchitectureSpec.MnasNetA1"/> yields exactly the zoo's <c>mnasnet_a1</c>.
/// </summary>
public sealed class SearchedNetwork : Backbone
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

    /// <summary>Builds <paramref name="spec"/> (validated first).</summary>
    /// <param name="spec">The architecture.</param>
    /// <param name="numClasses">Classes of the head; 0 builds the feature extractor only.</param>
    /// <param name="dropRate">Dropout before the classifier (0.2 as MNASNet).</param>
    /// <exception cref="ArgumentException">The spec is invalid (ParamName names the field) or dropRate is outside [0, 1).</exception>
    public SearchedNetwork(ArchitectureSpec spec, int numClasses = 1000, double dropRate = 0.2) : base("SearchedNetwork", numClasses)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec.Validate();
        if (!(dropRate >= 0 && dropRate < 1)) throw new ArgumentException($"dropRate must be in [0, 1), got {dropRate}.", nameof(dropRate));
        this.dropRate = dropRate;

        conv_stem = nn.Conv2d(3, spec.StemChannels, 3, stride: 2, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(spec.StemChannels);
        act1 = nn.ReLU(inplace: true);
        long inChannels = spec.StemChannels;
        stages = new Sequential[spec.Stages.Count];
        for (int s = 0; s < stages.Length; s++)
        {
            var stage = spec.Stages[s];
            var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int i = 0; i < stage.Layers; i++)
            {
                int stride = i == 0 ? stage.Stride : 1;
                nn.Module<Tensor, Tensor> block = stage.Block == BlockType.SepConv
                    ? new MnasNetA1.SepConv(inChannels, stage.Channels, stage.Kernel, stride)
                    : new MnasNetA1.MBConv(inChannels, stage.Channels, stage.Kernel, stride, stage.Expansion,
                        stage.SqueezeExcite ? ArchitectureSpec.SqueezeRatio : 0);
                layers.Add((i.ToString(), block));
                inChannels = stage.Channels;
            }
            stages[s] = nn.Sequential(layers);
        }
        blocks = nn.Sequential(stages.Select((m, i) => (i.ToString(), (nn.Module<Tensor, Tensor>)m)));
        conv_head = nn.Conv2d(inChannels, spec.HeadChannels, 1, bias: false);
        bn2 = nn.BatchNorm2d(spec.HeadChannels);
        act2 = nn.ReLU(inplace: true);
        if (numClasses > 0) classifier = nn.Linear(spec.HeadChannels, numClasses);
        RegisterComponents();
        MnasNetA1.InitializeTimmStyle(this);
    }

    /// <summary>The architecture this network was built from.</summary>
    public ArchitectureSpec Spec { get; }

    /// <inheritdoc />
    public override int FeatureDim => Spec.HeadChannels;

    /// <inheritdoc />
    public override int MinInputSize => Spec.MinInputSize;

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => classifier;

    /// <inheritdoc />
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
        // As MnasNetA1 (timm): a bare Linear classifier with functional dropout before it.
        var features = ForwardFeatures(input);
        if (classifier is null) return features;
        return classifier.call(nn.functional.dropout(features, dropRate, training));
    }
}
