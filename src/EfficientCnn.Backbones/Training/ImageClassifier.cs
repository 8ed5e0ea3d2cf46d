using EfficientCnn.Backbones.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

/// <summary>
/// A feature extractor (any <see cref="Backbone"/>, from the zoo, a checkpoint or an imported ONNX file) with a new
/// classifier head for the user's classes: dropout + linear, as torchvision's fine-tuning recipes replace the last layer.
/// State-dict names: <c>backbone.*</c> and <c>head.1.weight</c>/<c>head.1.bias</c>. Exports to ONNX like any backbone
/// (outputs <c>features</c> and <c>logits</c>).
/// </summary>
public sealed class ImageClassifier : Backbone
{
    private readonly Backbone backbone;
    private readonly Sequential head;

    /// <summary>Puts a new <paramref name="numClasses"/>-way head on <paramref name="featureExtractor"/>.</summary>
    /// <param name="featureExtractor">The backbone; its own head, if any, is ignored (it is not trained and not exported).</param>
    /// <param name="numClasses">Classes of the new head (at least 2).</param>
    /// <param name="dropRate">Dropout before the linear layer during training.</param>
    public ImageClassifier(Backbone featureExtractor, int numClasses, double dropRate = 0.2) : base("ImageClassifier", numClasses)
    {
        ArgumentNullException.ThrowIfNull(featureExtractor);
        if (numClasses < 2) throw new ArgumentException($"A classifier needs at least 2 classes, got {numClasses}.", nameof(numClasses));
        if (!(dropRate >= 0 && dropRate < 1)) throw new ArgumentException($"dropRate must be in [0, 1), got {dropRate}.", nameof(dropRate));
        backbone = featureExtractor;
        head = TorchvisionLayout.DropoutLinear(featureExtractor.FeatureDim, numClasses, dropRate);
        RegisterComponents();
        using var _ = no_grad();
        // Small weights, zero bias: the new head starts near uniform probabilities (as torchvision's Linear init for heads).
        var linear = (Linear)head[1];
        nn.init.normal_(linear.weight, 0, 0.01);
        nn.init.zeros_(linear.bias!);
    }

    /// <summary>The feature extractor being fine-tuned.</summary>
    public Backbone FeatureExtractor => backbone;

    /// <inheritdoc />
    public override int FeatureDim => backbone.FeatureDim;

    /// <inheritdoc />
    public override int MinInputSize => backbone.MinInputSize;

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> Head => head;

    /// <inheritdoc />
    public override IReadOnlyList<nn.Module> Stages => backbone.Stages;

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input) => backbone.ForwardFeatures(input);

    /// <inheritdoc />
    protected internal override string ExportFeatures(Onnx.OnnxGraphBuilder g, string input) => backbone.ExportFeatures(g, input);
}
