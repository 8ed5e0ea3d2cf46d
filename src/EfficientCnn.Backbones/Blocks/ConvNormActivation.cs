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

/// <summary>Factories for the layers every family shares, named as torchvision names them.</summary>
public static class Layers
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

    /// <summary>
    /// torchvision's <c>Conv2dNormActivation</c>: conv (no bias, "same" padding for odd kernels) → BatchNorm → activation,
    /// as a Sequential whose children are named "0", "1", "2".
    /// </summary>
    public static Sequential ConvNormActivation(long inChannels, long outChannels, long kernelSize = 3, long stride = 1,
        long groups = 1, Activation activation = Activation.ReLU, double bnMomentum = 0.1, double bnEps = 1e-5)
    {
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("0", nn.Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: (kernelSize - 1) / 2, groups: groups, bias: false)),
            ("1", nn.BatchNorm2d(outChannels, eps: bnEps, momentum: bnMomentum)),
        };
        if (Create(activation) is { } act) modules.Add(("2", act));
        return nn.Sequential(modules);
    }

    /// <summary>
    /// Rounds a channel count to the nearest multiple of <paramref name="divisor"/> without going below 90% of it
    /// (torchvision's <c>_make_divisible</c>, from the TensorFlow MobileNet reference).
    /// </summary>
    public static int MakeDivisible(double value, int divisor = 8, int? minValue = null)
    {
        int min = minValue ?? divisor;
        int rounded = Math.Max(min, (int)(value + divisor / 2.0) / divisor * divisor);
        if (rounded < 0.9 * value) rounded += divisor;
        return rounded;
    }

    /// <summary>
    /// Groups existing modules into one stage for <see cref="Backbone.Stages"/> (children named "0", "1", …).
    /// A fresh TorchSharp ModuleList registers its items lazily and reports no parameters, so it cannot serve here.
    /// The group is not registered in the model, so the model's state-dict names are unchanged.
    /// </summary>
    public static nn.Module Group(IEnumerable<nn.Module> modules) => new ModuleGroup(modules);

    private sealed class ModuleGroup : nn.Module
    {
        public ModuleGroup(IEnumerable<nn.Module> modules) : base("Stage")
        {
            int index = 0;
            foreach (var module in modules) register_module((index++).ToString(), module);
        }
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming <paramref name="name"/> unless <paramref name="value"/> is finite and &gt; 0.</summary>
    /// <param name="value">A width, depth or scale multiplier.</param>
    /// <param name="name">The option's name, used as ParamName and in the message (e.g. "widthMultiplier (α)").</param>
    public static void RequirePositiveMultiplier(double value, string name)
    {
        if (!double.IsFinite(value) || value <= 0)
            throw new ArgumentException($"{name} must be a finite number > 0, got {value}.", name.Split(' ')[0]);
    }

    /// <summary>torchvision's classifier head: Sequential("0": Dropout, "1": Linear).</summary>
    public static Sequential DropoutLinear(long inFeatures, long numClasses, double dropRate) =>
        nn.Sequential(("0", nn.Dropout(dropRate)), ("1", nn.Linear(inFeatures, numClasses)));

    /// <summary>
    /// torchvision's initialisation for efficient CNNs: Kaiming-normal (fan-out) convs, BN weight 1 / bias 0,
    /// Linear N(0, 0.01) with zero bias.
    /// </summary>
    public static void InitializeTorchvisionStyle(nn.Module root)
    {
        using var _ = no_grad();
        foreach (var (_, m) in root.named_modules())
        {
            switch (m)
            {
                case Conv2d conv:
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut);
                    if (conv.bias is not null) nn.init.zeros_(conv.bias);
                    break;
                case BatchNorm2d bn:
                    if (bn.weight is not null) nn.init.ones_(bn.weight);
                    if (bn.bias is not null) nn.init.zeros_(bn.bias);
                    break;
                case Linear linear:
                    nn.init.normal_(linear.weight, 0, 0.01);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                    break;
            }
        }
    }
}
