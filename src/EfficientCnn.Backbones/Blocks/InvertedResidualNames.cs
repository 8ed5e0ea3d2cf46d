namespace EfficientCnn.Backbones.Blocks;

/// <summary>A part of an <see cref="InvertedResidual"/> block, in forward order.</summary>
public enum InvertedResidualPart
{
    /// <summary>1x1 expansion conv.</summary>
    ExpandConv,
    /// <summary>BatchNorm after the expansion.</summary>
    ExpandNorm,
    /// <summary>Activation after the expansion.</summary>
    ExpandActivation,
    /// <summary>kxk depthwise conv.</summary>
    DepthwiseConv,
    /// <summary>BatchNorm after the depthwise conv.</summary>
    DepthwiseNorm,
    /// <summary>Activation after the depthwise conv.</summary>
    DepthwiseActivation,
    /// <summary>Squeeze-and-excitation.</summary>
    SqueezeExcitation,
    /// <summary>1x1 linear projection conv.</summary>
    ProjectConv,
    /// <summary>BatchNorm after the projection.</summary>
    ProjectNorm,
}

/// <summary>
/// Where a library's checkpoints keep each part of an inverted residual block (dotted state-dict paths relative to
/// the block), so that one <see cref="InvertedResidual"/> serves every family. The paths also name the ONNX nodes,
/// and the sum's operand order is part of the graph, so each family's export stays byte for byte what it was.
/// </summary>
/// <param name="PathOf">The path of a part, given whether the block has an expansion (torchvision numbers its
/// Sequential children, so the indices shift when the expansion is absent).</param>
/// <param name="SqueezeExcitation">The names inside the squeeze-and-excitation part.</param>
/// <param name="InputFirstInSum">Whether the residual sum is written input + branch (torchvision's MobileNetV2) rather than branch + input.</param>
public sealed record InvertedResidualNames(Func<InvertedResidualPart, bool, string> PathOf, SqueezeExcitationNames SqueezeExcitation, bool InputFirstInSum = false)
{
    /// <summary>torchvision's MobileNetV2: <c>conv</c> = [expand Conv2dNormActivation], depthwise Conv2dNormActivation, projection conv, projection BN.</summary>
    public static InvertedResidualNames TorchvisionMobileNetV2 { get; } = new((part, expands) =>
    {
        int e = expands ? 1 : 0;
        return part switch
        {
            InvertedResidualPart.ExpandConv => "conv.0.0",
            InvertedResidualPart.ExpandNorm => "conv.0.1",
            InvertedResidualPart.ExpandActivation => "conv.0.2",
            InvertedResidualPart.DepthwiseConv => $"conv.{e}.0",
            InvertedResidualPart.DepthwiseNorm => $"conv.{e}.1",
            InvertedResidualPart.DepthwiseActivation => $"conv.{e}.2",
            InvertedResidualPart.ProjectConv => $"conv.{e + 1}",
            InvertedResidualPart.ProjectNorm => $"conv.{e + 2}",
            _ => throw new ArgumentOutOfRangeException(nameof(part), part, "torchvision's MobileNetV2 block has no such part."),
        };
    }, SqueezeExcitationNames.Torchvision, InputFirstInSum: true);

    /// <summary>torchvision's MNASNet <c>_InvertedResidual</c>: one flat Sequential <c>layers</c> with children "0"–"7" (always expanding).</summary>
    public static InvertedResidualNames TorchvisionMnasNet { get; } = new((part, expands) =>
    {
        if (!expands) throw new ArgumentException("torchvision's MNASNet block always expands.", nameof(expands));
        return part switch
        {
            InvertedResidualPart.ExpandConv => "layers.0",
            InvertedResidualPart.ExpandNorm => "layers.1",
            InvertedResidualPart.ExpandActivation => "layers.2",
            InvertedResidualPart.DepthwiseConv => "layers.3",
            InvertedResidualPart.DepthwiseNorm => "layers.4",
            InvertedResidualPart.DepthwiseActivation => "layers.5",
            InvertedResidualPart.ProjectConv => "layers.6",
            InvertedResidualPart.ProjectNorm => "layers.7",
            _ => throw new ArgumentOutOfRangeException(nameof(part), part, "torchvision's MNASNet block has no such part."),
        };
    }, SqueezeExcitationNames.Torchvision);

    /// <summary>torchvision's EfficientNet <c>MBConv</c>: <c>block</c> = [expand Conv2dNormActivation], depthwise Conv2dNormActivation, SqueezeExcitation, projection Conv2dNormActivation.</summary>
    public static InvertedResidualNames TorchvisionEfficientNet { get; } = new((part, expands) =>
    {
        int e = expands ? 1 : 0;
        return part switch
        {
            InvertedResidualPart.ExpandConv => "block.0.0",
            InvertedResidualPart.ExpandNorm => "block.0.1",
            InvertedResidualPart.ExpandActivation => "block.0.2",
            InvertedResidualPart.DepthwiseConv => $"block.{e}.0",
            InvertedResidualPart.DepthwiseNorm => $"block.{e}.1",
            InvertedResidualPart.DepthwiseActivation => $"block.{e}.2",
            InvertedResidualPart.SqueezeExcitation => $"block.{e + 1}",
            InvertedResidualPart.ProjectConv => $"block.{e + 2}.0",
            InvertedResidualPart.ProjectNorm => $"block.{e + 2}.1",
            _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
        };
    }, SqueezeExcitationNames.Torchvision);

    /// <summary>timm's <c>InvertedResidual</c> (MNASNet-A1 and the search space): named fields, one <c>act</c> module for both activations.</summary>
    public static InvertedResidualNames Timm { get; } = new((part, _) => part switch
    {
        InvertedResidualPart.ExpandConv => "conv_pw",
        InvertedResidualPart.ExpandNorm => "bn1",
        InvertedResidualPart.ExpandActivation or InvertedResidualPart.DepthwiseActivation => "act",
        InvertedResidualPart.DepthwiseConv => "conv_dw",
        InvertedResidualPart.DepthwiseNorm => "bn2",
        InvertedResidualPart.SqueezeExcitation => "se",
        InvertedResidualPart.ProjectConv => "conv_pwl",
        InvertedResidualPart.ProjectNorm => "bn3",
        _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
    }, SqueezeExcitationNames.Timm);
}
