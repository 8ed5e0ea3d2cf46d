using EfficientCnn.Backbones.Onnx;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Checkpoints;

/// <summary>
/// Copies the convolution and batch-norm weights of an ONNX image model into a zoo network of the same architecture,
/// so a network trained elsewhere (e.g. ML.NET's ImageNet ResNet18, exported from CNTK with node names like
/// <c>Convolution249</c>) becomes a native, resolution-free TorchSharp backbone that can be factorized, distilled and
/// exported. There are no shared names to match, so layers are paired by the order they run in: the ONNX graph's
/// (topologically sorted) Conv and BatchNormalization nodes against the order a probe forward pass calls the zoo
/// network's <see cref="Conv2d"/> and <see cref="BatchNorm2d"/> modules; every pair must agree in kind and shape.
/// </summary>
public static class OnnxWeightTransfer
{
    private sealed record Layer(string Kind, string Name, Tensor[] Values);

    /// <summary>
    /// Copies every Conv and BatchNormalization of <paramref name="onnxPath"/> into <paramref name="target"/> and returns
    /// how many layers were copied.
    /// </summary>
    /// <exception cref="InvalidDataException">The two networks' layer sequences differ (the first difference is named); nothing is copied.</exception>
    public static int Copy(string onnxPath, nn.Module<Tensor, Tensor> target, int probeResolution = 64)
    {
        using var scope = NewDisposeScope();
        var source = ReadLayers(OnnxModelReader.Read(onnxPath));
        var modules = ExecutionOrder(target, probeResolution);
        if (source.Count != modules.Count)
            throw new InvalidDataException($"{onnxPath}: {source.Count} Conv/BatchNormalization layers, but the target network runs {modules.Count}: not the same architecture.");
        var copies = new List<(Tensor To, Tensor From)>();
        for (int i = 0; i < source.Count; i++)
        {
            var (layer, (name, module)) = (source[i], modules[i]);
            var to = module switch
            {
                Conv2d c => c.bias is null ? new[] { c.weight } : [c.weight, c.bias],
                BatchNorm2d b => new[] { b.weight!, b.bias!, b.running_mean!, b.running_var! },
                _ => throw new InvalidOperationException(),
            };
            string kind = module is Conv2d ? "Conv" : "BatchNormalization";
            if (layer.Kind != kind || to.Length != layer.Values.Length || to.Zip(layer.Values).Any(p => !p.First.shape.SequenceEqual(p.Second.shape)))
                throw new InvalidDataException($"{onnxPath}: layer {i + 1}, {layer.Kind} node '{layer.Name}' ({Shapes(layer.Values)}) does not match the target's " +
                                               $"'{name}' ({module.GetType().Name} {Shapes(to)}): not the same architecture.");
            copies.AddRange(to.Zip(layer.Values));
        }
        using (no_grad())
            foreach (var (to, from) in copies) to.copy_(from);
        return source.Count;
    }

    /// <summary>
    /// A basic-block ResNet (He et al. 2016) with the weights of the ONNX ResNet at <paramref name="onnxPath"/>: the stage
    /// depths are read off the graph (3x3 convolutions per output width, two per block), so ML.NET's "ResNet18", which
    /// has three blocks in its last stage, is rebuilt as it is. With <paramref name="tuckerRanks"/> the 3x3 convolutions of
    /// each stage are Tucker-2 factorized (<see cref="Blocks.Tucker2Conv.InitialiseFrom"/>). No head (features only).
    /// </summary>
    /// <exception cref="InvalidDataException">The graph is not a four-stage basic-block ResNet.</exception>
    public static Architectures.ResNet ResNetFromOnnx(string onnxPath, double[]? tuckerRanks = null)
    {
        var model = OnnxModelReader.Read(onnxPath);
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name, t => t);
        var widths = model.Graph.Node
            .Where(n => n.OpType == "Conv" && n.Input.Count > 1 && initializers.TryGetValue(n.Input[1], out var w) && w.Dims.Count == 4 && w.Dims[2] == 3 && w.Dims[3] == 3)
            .Select(n => initializers[n.Input[1]].Dims[0]).ToList();
        var stages = widths.Distinct().ToList();
        if (stages.Count != 4 || stages.Any(c => widths.Count(w => w == c) % 2 != 0))
            throw new InvalidDataException($"{onnxPath}: not a basic-block ResNet (3x3 convolution widths {string.Join(",", widths)}).");
        int[] depths = stages.Select(c => widths.Count(w => w == c) / 2).ToArray();
        var whole = new Architectures.ResNet(Architectures.ResNet.BlockKind.Basic, depths, numClasses: 0, width: (int)stages[0]);
        Copy(onnxPath, whole);
        if (tuckerRanks is null || tuckerRanks.All(r => r == 0)) return whole;
        var factorized = new Architectures.ResNet(Architectures.ResNet.BlockKind.Basic, depths, numClasses: 0, width: (int)stages[0], tuckerRanks: tuckerRanks);
        Blocks.Tucker2Conv.InitialiseFrom(whole, factorized);
        whole.Dispose();
        return factorized;
    }

    private static string Shapes(IEnumerable<Tensor> values) => string.Join(" ", values.Select(v => $"[{string.Join(",", v.shape)}]"));

    private static List<Layer> ReadLayers(ModelProto model)
    {
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name, t => t);
        Tensor Value(NodeProto node, int input) =>
            initializers.TryGetValue(node.Input[input], out var t)
                ? OnnxTensors.ToTorch(t)
                : throw new InvalidDataException($"node '{node.Name}' ({node.OpType}): input {input} ('{node.Input[input]}') is not a constant weight.");
        var layers = new List<Layer>();
        foreach (var node in model.Graph.Node)
        {
            if (node.OpType == "Conv")
                layers.Add(new Layer("Conv", node.Name, Enumerable.Range(1, node.Input.Count - 1).Where(i => node.Input[i].Length > 0).Select(i => Value(node, i)).ToArray()));
            else if (node.OpType == "BatchNormalization")
                layers.Add(new Layer("BatchNormalization", node.Name, Enumerable.Range(1, 4).Select(i => Value(node, i)).ToArray()));
        }
        return layers;
    }

    /// <summary>The Conv2d and BatchNorm2d modules of <paramref name="target"/> in the order one forward pass calls them.</summary>
    private static List<(string Name, nn.Module Module)> ExecutionOrder(nn.Module<Tensor, Tensor> target, int resolution)
    {
        var order = new List<(string, nn.Module)>();
        var removers = new List<Action>();
        bool wasTraining = target.training;
        try
        {
            foreach (var (name, module) in target.named_modules())
            {
                if (module is Conv2d conv)
                    removers.Add(conv.register_forward_hook((m, input, output) => { order.Add((name, conv)); return output; }).remove);
                else if (module is BatchNorm2d bn)
                    removers.Add(bn.register_forward_hook((m, input, output) => { order.Add((name, bn)); return output; }).remove);
            }
            target.eval();
            using var _ = no_grad();
            target.call(zeros(1, 3, resolution, resolution)).Dispose();
        }
        finally
        {
            foreach (var remove in removers) remove();
            target.train(wasTraining);
        }
        return order;
    }
}
