using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>
/// Stochastic depth (Huang et al. 2016) in torchvision's "row" mode: during training each sample's residual branch is
/// dropped with probability <see cref="P"/> and kept branches are scaled by 1/(1−p) so the expectation is unchanged;
/// in evaluation it is the identity.
/// </summary>
public sealed class StochasticDepth : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>Creates the module with drop probability <paramref name="p"/> in [0, 1].</summary>
    public StochasticDepth(double p) : base(nameof(StochasticDepth))
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"p must be in [0, 1], got {p}.", nameof(p));
        P = p;
    }

    /// <summary>Probability of dropping a sample's branch.</summary>
    public double P { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (!training || P == 0) return input;
        double survival = 1 - P;
        var shape = new long[input.dim()];
        Array.Fill(shape, 1L);
        shape[0] = input.shape[0];
        var noise = empty(shape, input.dtype, input.device).bernoulli_(survival);
        if (survival > 0) noise.div_(survival);
        return input * noise;
    }

    /// <inheritdoc />
    /// <remarks>Inference graphs are in evaluation mode, where stochastic depth is the identity.</remarks>
    public string ExportOnnx(OnnxGraphBuilder g, string input) => input;
}
