namespace EfficientCnn.Backbones.Architectures;

/// <summary>One stage of an <see cref="MbConvNetwork"/>: a row of MNASNet-A1's Figure 7(a) or of a searched architecture.</summary>
/// <param name="Kind">SepConv (depthwise separable) or MBConv (inverted residual).</param>
/// <param name="Repeats">Number of blocks.</param>
/// <param name="Kernel">Depthwise kernel size.</param>
/// <param name="Stride">Stride of the first block.</param>
/// <param name="Expansion">MBConv expansion ratio (1 for SepConv).</param>
/// <param name="Channels">Output channels before the width multiplier.</param>
/// <param name="SeRatio">Squeeze ratio relative to the block input, 0 for no squeeze-and-excitation.</param>
public sealed record MbConvStage(string Kind, int Repeats, int Kernel, int Stride, int Expansion, int Channels, double SeRatio);
