using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using static EfficientCnn.Backbones.Onnx.OnnxTensors;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>
/// Channel shuffle (Zhang et al. 2018, ShuffleNet, Section 3.1 and Figure 1): the C = g·n channels of a
/// [N,C,H,W] tensor are reshaped into (g, n), transposed to (n, g) and flattened, so that every group of the next
/// group convolution receives channels from every group of the previous one.
/// Output channel i therefore comes from input channel (i mod g)·n + ⌊i / g⌋; shuffling again with n groups
/// restores the original order. It has no parameters, so it never appears in a state dict.
/// </summary>
public sealed class ChannelShuffle : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>Creates the shuffle for <paramref name="groups"/> groups (must be >= 1).</summary>
    public ChannelShuffle(long groups) : base(nameof(ChannelShuffle))
    {
        if (groups < 1) throw new ArgumentException($"groups must be >= 1, got {groups}.", nameof(groups));
        Groups = groups;
    }

    /// <summary>Number of groups g the channels are split into before the transpose.</summary>
    public long Groups { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => Shuffle(input, Groups);

    /// <summary>
    /// Shuffles the channels (dimension 1) of a [N,C,H,W] tensor: reshape to [N,g,C/g,H,W], swap the two channel
    /// axes, flatten back (torchvision's <c>channel_shuffle</c>).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="groups"/> is below 1 or does not divide the channel count.</exception>
    public static Tensor Shuffle(Tensor input, long groups)
    {
        if (input.dim() != 4)
            throw new ArgumentException($"input must be a [N,C,H,W] tensor, got [{string.Join(",", input.shape)}].", nameof(input));
        long n = input.shape[0], channels = input.shape[1], h = input.shape[2], w = input.shape[3];
        if (groups < 1 || channels % groups != 0)
            throw new ArgumentException($"groups must be >= 1 and divide the {channels} channels, got {groups}.", nameof(groups));
        if (groups == 1) return input;
        return input.view(n, groups, channels / groups, h, w).transpose(1, 2).contiguous().view(n, channels, h, w);
    }

    /// <inheritdoc />
    public string ExportOnnx(OnnxGraphBuilder g, string input) => ExportShuffle(g, input, Groups);

    /// <summary>
    /// Writes the shuffle of <paramref name="input"/> ([N,C,H,W]) with <paramref name="groups"/> groups into an ONNX
    /// graph: Reshape to [N,g,C/g,H,W] → Transpose(0,2,1,3,4) → Reshape back to the input's shape. Returns the output's name.
    /// </summary>
    /// <remarks>
    /// The same three data-movement ops as the definition (and as torch.onnx writes torchvision's channel_shuffle), so
    /// the result is bit-exact and runtimes that pattern-match a shuffle see one. N, H and W stay symbolic: the first
    /// target shape is [0, g, -1] (0 copies N, -1 infers C/g) concatenated with H, W read by <c>Shape(start=2)</c>,
    /// and the last target is <c>Shape(input)</c> itself. C never has to be known when writing the graph, unlike a
    /// Gather with a C-long permutation table or a 1x1 conv with a C×C permutation matrix.
    /// </remarks>
    public static string ExportShuffle(OnnxGraphBuilder g, string input, long groups)
    {
        if (groups < 1) throw new ArgumentException($"groups must be >= 1, got {groups}.", nameof(groups));
        if (groups == 1) return input;
        string spatial = g.Op("Shape", [input], Attr("start", 2L));
        string grouped = g.Op("Concat", [g.AddConstant([0, groups, -1], "shuffle.groups"), spatial], Attr("axis", 0L));
        string transposed = g.Op("Transpose", [g.Op("Reshape", input, grouped)], Attr("perm", new long[] { 0, 2, 1, 3, 4 }));
        return g.Op("Reshape", transposed, g.Op("Shape", input));
    }
}
