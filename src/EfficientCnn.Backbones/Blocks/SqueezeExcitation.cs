using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>
/// The state-dict names of a <see cref="SqueezeExcitation"/> block's parts, so that one block loads both libraries'
/// checkpoints. The names also name the ONNX nodes, so a family's exported graph stays byte for byte the same.
/// </summary>
/// <param name="Pool">The global-average-pool module, or null for a mean over H, W in the forward pass (no module).</param>
/// <param name="Reduce">The 1x1 conv to the squeezed width.</param>
/// <param name="Activation">The activation between the two convs.</param>
/// <param name="Expand">The 1x1 conv back to the input width.</param>
/// <param name="Gate">The sigmoid.</param>
public sealed record SqueezeExcitationNames(string? Pool, string Reduce, string Activation, string Expand, string Gate)
{
    /// <summary>torchvision's <c>SqueezeExcitation</c>: <c>avgpool</c>, <c>fc1</c>, <c>activation</c>, <c>fc2</c>, <c>scale_activation</c>.</summary>
    public static SqueezeExcitationNames Torchvision { get; } = new("avgpool", "fc1", "activation", "fc2", "scale_activation");

    /// <summary>timm's <c>SqueezeExcite</c>: a mean (no module), <c>conv_reduce</c>, <c>act1</c>, <c>conv_expand</c>, <c>gate</c>.</summary>
    public static SqueezeExcitationNames Timm { get; } = new(null, "conv_reduce", "act1", "conv_expand", "gate");
}

/// <summary>
/// Squeeze-and-Excitation (Hu et al. 2018): global average pool → 1x1 conv (reduce) → activation → 1x1 conv (expand)
/// → sigmoid → channel-wise scale of the input. Parts are named as <see cref="SqueezeExcitationNames"/> says
/// (torchvision's by default).
/// </summary>
public sealed class SqueezeExcitation : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    // Held in a plain record, not in module-typed fields: TorchSharp's field registration would add the parts a second
    // time under the field names; they are registered under the layout's names below.
    private readonly Parts parts;

    private sealed record Parts(AdaptiveAvgPool2d? Pool, Conv2d Reduce, nn.Module<Tensor, Tensor> Activation, Conv2d Expand, Sigmoid Gate);

    /// <summary>Creates the block for <paramref name="inputChannels"/> channels squeezed to <paramref name="squeezeChannels"/>.</summary>
    public SqueezeExcitation(long inputChannels, long squeezeChannels, Activation activation = Activation.ReLU, SqueezeExcitationNames? names = null)
        : base(nameof(SqueezeExcitation))
    {
        if (squeezeChannels < 1)
            throw new ArgumentException($"squeezeChannels must be >= 1, got {squeezeChannels}.", nameof(squeezeChannels));
        names ??= SqueezeExcitationNames.Torchvision;
        parts = new Parts(names.Pool is null ? null : nn.AdaptiveAvgPool2d(1), nn.Conv2d(inputChannels, squeezeChannels, 1),
            Activations.Create(activation) ?? nn.Identity(), nn.Conv2d(squeezeChannels, inputChannels, 1), nn.Sigmoid());
        // Registered in forward order; the parameters' order (reduce, then expand) is the same in both layouts.
        if (parts.Pool is not null) register_module(names.Pool!, parts.Pool);
        register_module(names.Reduce, parts.Reduce);
        register_module(names.Activation, parts.Activation);
        register_module(names.Expand, parts.Expand);
        register_module(names.Gate, parts.Gate);
    }

    /// <summary>Channels of the squeezed vector.</summary>
    public long SqueezeChannels => parts.Reduce.out_channels;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var (pool, reduce, activation, expand, gate) = parts;
        var pooled = pool is null ? input.mean([2, 3], keepdim: true) : pool.call(input);
        return input * gate.call(expand.call(activation.call(reduce.call(pooled))));
    }

    /// <inheritdoc />
    public string ExportOnnx(OnnxGraphBuilder g, string input)
    {
        var (pool, reduce, activation, expand, gate) = parts;
        // A mean over H, W with keepdim is GlobalAveragePool ([N, C, 1, 1]).
        string pooled = pool is null ? g.Op("GlobalAveragePool", input) : g.Export(pool, input);
        string scale = g.Export(gate, g.Export(expand, g.Export(activation, g.Export(reduce, pooled))));
        return g.Op("Mul", input, scale);
    }
}
