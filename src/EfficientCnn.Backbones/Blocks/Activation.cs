using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>Activation functions used across the zoo.</summary>
public enum Activation
{
    /// <summary>No activation (linear bottlenecks).</summary>
    None,
    /// <summary>max(0, x).</summary>
    ReLU,
    /// <summary>min(max(0, x), 6), MobileNetV2.</summary>
    ReLU6,
    /// <summary>x·sigmoid(x), EfficientNet's Swish.</summary>
    SiLU,
    /// <summary>GELU, NFNet.</summary>
    GELU,
}

/// <summary>The modules behind <see cref="Activation"/>.</summary>
public static class Activations
{
    /// <summary>Creates the activation module, or null for <see cref="Activation.None"/>.</summary>
    public static nn.Module<Tensor, Tensor>? Create(Activation activation) => activation switch
    {
        Activation.None => null,
        Activation.ReLU => nn.ReLU(inplace: true),
        Activation.ReLU6 => nn.ReLU6(inplace: true),
        Activation.SiLU => nn.SiLU(inplace: true),
        Activation.GELU => nn.GELU(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, null),
    };
}
