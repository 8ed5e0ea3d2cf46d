using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>
/// Squeeze-and-Excitation (Hu et al. 2018), torchvision's layout: global average pool → <c>fc1</c> (1x1 conv, reduce)
/// → activation → <c>fc2</c> (1x1 conv, expand) → sigmoid → channel-wise scale of the input.
/// </summary>
public sealed class SqueezeExcitation : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Conv2d fc1;
    private readonly Conv2d fc2;
    private readonly nn.Module<Tensor, Tensor> activation;
    private readonly nn.Module<Tensor, Tensor> scale_activation;

    /// <summary>Creates the block for <paramref name="inputChannels"/> channels squeezed to <paramref name="squeezeChannels"/>.</summary>
    public SqueezeExcitation(long inputChannels, long squeezeChannels, Activation activation = Activation.ReLU)
        : base(nameof(SqueezeExcitation))
    {
        if (squeezeChannels < 1)
            throw new ArgumentException($"squeezeChannels must be >= 1, got {squeezeChannels}.", nameof(squeezeChannels));
        avgpool = nn.AdaptiveAvgPool2d(1);
        fc1 = nn.Conv2d(inputChannels, squeezeChannels, 1);
        fc2 = nn.Conv2d(squeezeChannels, inputChannels, 1);
        this.activation = Activations.Create(activation) ?? nn.Identity();
        scale_activation = nn.Sigmoid();
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var scale = scale_activation.call(fc2.call(activation.call(fc1.call(avgpool.call(input)))));
        return input * scale;
    }

    /// <inheritdoc />
    public string ExportOnnx(OnnxGraphBuilder g, string input)
    {
        var squeezed = g.Export(activation, g.Export(fc1, g.Export(avgpool, input)));
        var scale = g.Export(scale_activation, g.Export(fc2, squeezed));
        return g.Op("Mul", input, scale);
    }
}
