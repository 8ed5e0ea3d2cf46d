using TorchSharp;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones;

/// <summary>
/// A CNN split the way transfer learning needs it: a feature extractor that ends in a pooled vector
/// of <see cref="FeatureDim"/> values, and a separate classifier <see cref="Head"/>.
/// Submodules keep torchvision's (or timm's) names so that PyTorch state dicts load by name.
/// </summary>
/// <remarks>
/// Subclasses must invoke submodules with <c>module.call(x)</c>, not <c>forward</c>, so that forward hooks
/// (used by <see cref="Profiling.ModelProfiler"/>) see every layer.
/// </remarks>
public abstract class Backbone : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the backbone; <paramref name="name"/> is the module name used by TorchSharp.</summary>
    protected Backbone(string name, int numClasses) : base(name)
    {
        if (numClasses < 0)
            throw new ArgumentException($"numClasses must be >= 0 (0 means no classifier head), got {numClasses}.", nameof(numClasses));
        NumClasses = numClasses;
    }

    /// <summary>Length of the pooled feature vector that <see cref="ForwardFeatures"/> returns.</summary>
    public abstract int FeatureDim { get; }

    /// <summary>Number of classes of <see cref="Head"/>; 0 when the backbone has no head.</summary>
    public int NumClasses { get; }

    /// <summary>Smallest input height/width the network's strides accept (the last feature map is at least 1x1).</summary>
    public virtual int MinInputSize => 32;

    /// <summary>The classifier (dropout + linear layer, as the paper/torchvision), or null when <see cref="NumClasses"/> is 0.</summary>
    public abstract nn.Module<Tensor, Tensor>? Head { get; }

    /// <summary>
    /// The feature extractor's stages in forward order (stem first). Fine-tuning "the last N stages"
    /// trains the parameters of the last N entries; the head is not part of this list.
    /// </summary>
    public abstract IReadOnlyList<nn.Module> Stages { get; }

    /// <summary>Runs the feature extractor and global pooling: [N,3,H,W] → [N,<see cref="FeatureDim"/>].</summary>
    public Tensor ForwardFeatures(Tensor input)
    {
        ValidateInput(input);
        return ExtractFeatures(input);
    }

    /// <summary>Feature extractor and pooling, without input validation.</summary>
    protected abstract Tensor ExtractFeatures(Tensor input);

    /// <summary>Features, then the head when there is one: [N,3,H,W] → [N,NumClasses] (or features).</summary>
    /// <remarks>Families whose head is a bare Linear (torchvision's <c>fc</c>) override this to apply dropout first.</remarks>
    public override Tensor forward(Tensor input)
    {
        var features = ForwardFeatures(input);
        return Head is null ? features : Head.call(features);
    }

    /// <summary>
    /// Writes the feature extractor (eval mode, up to the pooled [N,<see cref="FeatureDim"/>] vector) into an ONNX graph
    /// and returns the name of the features tensor. Families override it with a few lines: <c>g.Export(child, x)</c> per
    /// stage (custom blocks implement <see cref="Onnx.IOnnxExportable"/>), then global pooling and flatten.
    /// </summary>
    /// <exception cref="NotSupportedException">The family has no ONNX export yet (the default).</exception>
    protected internal virtual string ExportFeatures(Onnx.OnnxGraphBuilder g, string input) =>
        throw new NotSupportedException($"{GetType().Name} has no ONNX export yet: override Backbone.ExportFeatures.");

    /// <summary>Writes <see cref="Head"/> applied to the features tensor (dropout is the identity at inference) and returns the logits' name.</summary>
    protected internal virtual string ExportHead(Onnx.OnnxGraphBuilder g, string features) =>
        Head is null ? throw new InvalidOperationException($"{GetType().Name} has no head to export.") : g.Export(Head, features);

    /// <summary>Throws an <see cref="ArgumentException"/> when <paramref name="input"/> is not an image batch the network accepts.</summary>
    public void ValidateInput(Tensor input)
    {
        if (input.dim() != 4 || input.shape[1] != 3)
            throw new ArgumentException(
                $"input must be a [N,3,H,W] image batch, got [{string.Join(",", input.shape)}].", nameof(input));
        long h = input.shape[2], w = input.shape[3];
        if (h < MinInputSize || w < MinInputSize)
            throw new ArgumentException(
                $"input resolution {h}x{w} is too small for {GetName()}: its strides need at least {MinInputSize}x{MinInputSize}.",
                nameof(input));
    }
}
