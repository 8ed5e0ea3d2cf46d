using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Profiling;

/// <summary>Cost of one layer for one image.</summary>
/// <param name="Name">Module path, e.g. <c>features.3.conv.1.0</c>.</param>
/// <param name="Kind">Module type (Conv2d, Linear).</param>
/// <param name="OutputShape">Output shape for one image.</param>
/// <param name="Params">The layer's own parameters.</param>
/// <param name="Macs">Multiply-accumulates for one image.</param>
public sealed record LayerProfile(string Name, string Kind, long[] OutputShape, long Params, long Macs);

/// <summary>Size and cost of a model at one input resolution.</summary>
/// <param name="Params">All trainable and frozen parameters (not buffers such as BN running statistics).</param>
/// <param name="Macs">Multiply-accumulates for one image, summed over convolutions and linear layers.</param>
/// <param name="Resolution">Input height and width used.</param>
/// <param name="Layers">Per-layer costs in execution order.</param>
public sealed record ModelProfile(long Params, long Macs, int Resolution, IReadOnlyList<LayerProfile> Layers);

/// <summary>
/// Counts parameters and multiply-accumulates from the modules themselves, by running one image through the
/// network with forward hooks on every convolution and linear layer. MACs follow the papers' "mult-adds"
/// convention (and fvcore's, which torchvision reports): conv = out elements × (in channels / groups) × kH × kW,
/// linear = out features × in features; biases, normalisation, activations, pooling and element-wise ops are not counted.
/// </summary>
public static class ModelProfiler
{
    /// <summary>Profiles <paramref name="model"/> on a 1×<paramref name="inputChannels"/>×<paramref name="resolution"/>² input.</summary>
    public static ModelProfile Profile(nn.Module<Tensor, Tensor> model, int resolution, int inputChannels = 3)
    {
        if (resolution < 1) throw new ArgumentException($"resolution must be >= 1, got {resolution}.", nameof(resolution));
        var layers = new List<LayerProfile>();
        var removers = new List<nn.HookableModule<Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>, Func<nn.Module<Tensor, Tensor>, Tensor, Tensor, Tensor>>.HookRemover>();
        bool wasTraining = model.training;
        try
        {
            // named_modules() leaves out the root, which may itself be a Conv2d/Linear.
            foreach (var (name, module) in model.named_modules().Prepend((string.Empty, (nn.Module)model)))
            {
                string layerName = name;
                switch (module)
                {
                    case Conv2d conv:
                        removers.Add(conv.register_forward_hook((m, input, output) =>
                        {
                            long perOutput = conv.in_channels / conv.groups * conv.kernel_size.Aggregate(1L, (a, b) => a * b);
                            layers.Add(Layer(layerName, "Conv2d", output, conv, output.numel() / output.shape[0] * perOutput));
                            return output;
                        }));
                        break;
                    case Linear linear:
                        removers.Add(linear.register_forward_hook((m, input, output) =>
                        {
                            layers.Add(Layer(layerName, "Linear", output, linear, output.numel() / output.shape[0] * linear.in_features));
                            return output;
                        }));
                        break;
                }
            }
            model.eval();
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                model.call(zeros(1, inputChannels, resolution, resolution));
            }
        }
        finally
        {
            foreach (var r in removers) r.remove();
            model.train(wasTraining);
        }
        long parameters = model.parameters().Sum(p => p.numel());
        return new ModelProfile(parameters, layers.Sum(l => l.Macs), resolution, layers);
    }

    /// <summary>Number of parameters of <paramref name="model"/> (trainable or not).</summary>
    public static long CountParameters(nn.Module model) => model.parameters().Sum(p => p.numel());

    private static LayerProfile Layer(string name, string kind, Tensor output, nn.Module module, long macs) =>
        new(name, kind, output.shape.Skip(1).ToArray(), module.parameters(recurse: false).Sum(p => p.numel()), macs);
}
