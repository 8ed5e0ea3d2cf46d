using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>torchvision's conv → BatchNorm → activation unit.</summary>
public static class ConvNormActivation
{
    /// <summary>
    /// torchvision's <c>Conv2dNormActivation</c>: conv (no bias, "same" padding for odd kernels) → BatchNorm → activation,
    /// as a Sequential whose children are named "0", "1", "2".
    /// </summary>
    public static Sequential Create(long inChannels, long outChannels, long kernelSize = 3, long stride = 1,
        long groups = 1, Activation activation = Activation.ReLU, double bnMomentum = 0.1, double bnEps = 1e-5)
    {
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("0", nn.Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: (kernelSize - 1) / 2, groups: groups, bias: false)),
            ("1", nn.BatchNorm2d(outChannels, eps: bnEps, momentum: bnMomentum)),
        };
        if (Activations.Create(activation) is { } act) modules.Add(("2", act));
        return nn.Sequential(modules);
    }
}
