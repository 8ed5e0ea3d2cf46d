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
    public static InvertedResidualNames TorchvisionMobileNetV2 { get; } =
        TorchvisionSequential("conv", squeezeExcitation: false, projectionIsOneUnit: false, inputFirstInSum: true);

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
    public static InvertedResidualNames TorchvisionEfficientNet { get; } =
        TorchvisionSequential("block", squeezeExcitation: true, projectionIsOneUnit: true, inputFirstInSum: false);

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

    /// <summary>
    /// torchvision's numbered Sequential <paramref name="container"/>: [expand Conv2dNormActivation], depthwise
    /// Conv2dNormActivation, [SqueezeExcitation], then the projection as one Conv2dNormActivation or as a conv and a BN child.
    /// </summary>
    private static InvertedResidualNames TorchvisionSequential(string container, bool squeezeExcitation, bool projectionIsOneUnit, bool inputFirstInSum) =>
        new((part, expands) =>
        {
            int depthwise = expands ? 1 : 0, afterDepthwise = depthwise + 1, projection = squeezeExcitation ? afterDepthwise + 1 : afterDepthwise;
            return part switch
            {
                InvertedResidualPart.ExpandConv => $"{container}.0.0",
                InvertedResidualPart.ExpandNorm => $"{container}.0.1",
                InvertedResidualPart.ExpandActivation => $"{container}.0.2",
                InvertedResidualPart.DepthwiseConv => $"{container}.{depthwise}.0",
                InvertedResidualPart.DepthwiseNorm => $"{container}.{depthwise}.1",
                InvertedResidualPart.DepthwiseActivation => $"{container}.{depthwise}.2",
                InvertedResidualPart.SqueezeExcitation when squeezeExcitation => $"{container}.{afterDepthwise}",
                InvertedResidualPart.ProjectConv => projectionIsOneUnit ? $"{container}.{projection}.0" : $"{container}.{projection}",
                InvertedResidualPart.ProjectNorm => projectionIsOneUnit ? $"{container}.{projection}.1" : $"{container}.{projection + 1}",
                _ => throw new ArgumentOutOfRangeException(nameof(part), part, $"torchvision's {container} layout has no such part."),
            };
        }, SqueezeExcitationNames.Torchvision, inputFirstInSum);
}
