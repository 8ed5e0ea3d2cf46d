using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>
/// A k×k convolution factorized by a Tucker-2 decomposition of its kernel (Kim et al., ICLR 2016, "Compression of Deep
/// Convolutional Neural Networks for Fast and Low Power Mobile Applications", §3.1): a 1×1 convolution to
/// <see cref="InputRank"/> channels (<c>reduce</c>), the k×k core between the two ranks (<c>core</c>, with the original
/// stride and padding) and a 1×1 convolution back to the output width (<c>restore</c>). For a C_in→C_out kernel the
/// weights fall from C_out·C_in·k² to C_in·R_in + R_out·R_in·k² + R_out·C_out.
/// </summary>
/// <remarks>
/// <see cref="Decompose"/> sets the three kernels from a trained convolution by higher-order SVD (the ranks' leading
/// singular vectors of the kernel's mode-0 and mode-1 unfoldings, core = the kernel projected onto them), so the block
/// starts as the closest rank-(R_out, R_in) approximation of what the teacher learnt, not from random weights.
/// </remarks>
public sealed class Tucker2Conv : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv2d reduce, core, restore;

    /// <summary>Creates the factorized convolution (random weights; see <see cref="Decompose"/>).</summary>
    public Tucker2Conv(long inChannels, long outChannels, long kernelSize, long stride, long padding, int inputRank, int outputRank)
        : base(nameof(Tucker2Conv))
    {
        if (inputRank < 1 || inputRank > inChannels)
            throw new ArgumentOutOfRangeException(nameof(inputRank), $"input rank must be in 1..{inChannels}, got {inputRank}.");
        if (outputRank < 1 || outputRank > outChannels)
            throw new ArgumentOutOfRangeException(nameof(outputRank), $"output rank must be in 1..{outChannels}, got {outputRank}.");
        InputRank = inputRank;
        OutputRank = outputRank;
        reduce = nn.Conv2d(inChannels, inputRank, 1, bias: false);
        core = nn.Conv2d(inputRank, outputRank, kernelSize, stride: stride, padding: padding, bias: false);
        restore = nn.Conv2d(outputRank, outChannels, 1, bias: false);
        RegisterComponents();
    }

    /// <summary>R_in: channels after the first 1×1 convolution.</summary>
    public int InputRank { get; }

    /// <summary>R_out: channels out of the k×k core.</summary>
    public int OutputRank { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => restore.call(core.call(reduce.call(x)));

    /// <summary>
    /// Sets the three kernels to the higher-order SVD of <paramref name="kernel"/> ([C_out, C_in, k, k], the weight of the
    /// convolution this block replaces) and returns the fraction of the kernel's squared norm the approximation keeps.
    /// </summary>
    /// <exception cref="ArgumentException">The kernel's shape is not this block's.</exception>
    public double Decompose(Tensor kernel)
    {
        long outC = restore.weight.shape[0], inC = reduce.weight.shape[1], k = core.weight.shape[2];
        if (!kernel.shape.SequenceEqual(new[] { outC, inC, k, k }))
            throw new ArgumentException($"kernel shape [{string.Join(",", kernel.shape)}] does not match this Tucker-2 block ([{outC},{inC},{k},{k}]).", nameof(kernel));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = kernel.detach().to_type(ScalarType.Float64);
        var uOut = LeadingVectors(w.reshape(outC, -1), OutputRank);                       // [C_out, R_out]
        var uIn = LeadingVectors(w.permute(1, 0, 2, 3).reshape(inC, -1), InputRank);      // [C_in, R_in]
        // core[r, s, :, :] = Σ_o Σ_i uOut[o, r] · w[o, i, :, :] · uIn[i, s]
        var projected = einsum("oikl,or,is->rskl", w, uOut, uIn);
        reduce.weight.copy_(uIn.t().reshape(InputRank, inC, 1, 1).to_type(reduce.weight.dtype));
        core.weight.copy_(projected.to_type(core.weight.dtype));
        restore.weight.copy_(uOut.reshape(outC, OutputRank, 1, 1).to_type(restore.weight.dtype));
        var approximation = einsum("rskl,or,is->oikl", projected, uOut, uIn);
        return 1 - (w - approximation).pow(2).sum().item<double>() / w.pow(2).sum().item<double>();
    }

    /// <summary>
    /// Initialises <paramref name="factorized"/> from <paramref name="whole"/>, the same network with whole convolutions:
    /// parameters and buffers with the same name and shape are copied, and each <see cref="Tucker2Conv"/> named N is
    /// <see cref="Decompose"/>d from the whole network's <c>N.weight</c>. Returns each factorized layer's kept energy.
    /// </summary>
    /// <exception cref="ArgumentException">A parameter or buffer of <paramref name="factorized"/> has no counterpart.</exception>
    public static IReadOnlyDictionary<string, double> InitialiseFrom(nn.Module whole, nn.Module factorized)
    {
        var source = whole.state_dict();
        var factorizedLayers = factorized.named_modules().Where(m => m.module is Tucker2Conv).ToDictionary(m => m.name, m => (Tucker2Conv)m.module);
        var kept = new Dictionary<string, double>();
        using (no_grad())
        {
            foreach (var (name, value) in factorized.state_dict())
            {
                if (factorizedLayers.Keys.Any(layer => name.StartsWith(layer + ".", StringComparison.Ordinal))) continue;
                if (!source.TryGetValue(name, out var from) || !from.shape.SequenceEqual(value.shape))
                    throw new ArgumentException($"'{name}' [{string.Join(",", value.shape)}] has no counterpart of that shape in the whole network.", nameof(whole));
                value.copy_(from);
            }
        }
        foreach (var (name, layer) in factorizedLayers)
            kept[name] = source.TryGetValue(name + ".weight", out var kernel)
                ? layer.Decompose(kernel)
                : throw new ArgumentException($"the whole network has no convolution '{name}.weight' to factorize.", nameof(whole));
        return kept;
    }

    private static Tensor LeadingVectors(Tensor unfolding, int rank)
    {
        var (u, _, _) = linalg.svd(unfolding, fullMatrices: false);
        return u.narrow(1, 0, rank);
    }

    /// <inheritdoc />
    public string ExportOnnx(OnnxGraphBuilder g, string input) => ExportWithNorm(g, null, input);

    /// <summary>Writes the three convolutions, with <paramref name="norm"/> (when not null) folded into the last one as <see cref="OnnxGraphBuilder.ExportConvBn"/> does.</summary>
    public string ExportWithNorm(OnnxGraphBuilder g, BatchNorm2d? norm, string input) =>
        g.ExportConvBn(restore, norm, g.ExportConvBn(core, null, g.ExportConvBn(reduce, null, input)));
}
