using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static EfficientCnn.Backbones.Onnx.OnnxTensors;

namespace EfficientCnn.Backbones.Onnx;

/// <summary>
/// A block that knows how to write itself into an ONNX graph. Implemented by the zoo's custom blocks
/// (ResNet's BasicBlock, SqueezeExcitation, ...); standard TorchSharp modules are handled by <see cref="OnnxGraphBuilder.Export"/>.
/// </summary>
public interface IOnnxExportable
{
    /// <summary>Adds the block's nodes for inference (eval mode) and returns the name of its output tensor.</summary>
    /// <param name="g">The graph being built; use <see cref="OnnxGraphBuilder.Export"/> for child modules.</param>
    /// <param name="input">Name of the block's input tensor.</param>
    string ExportOnnx(OnnxGraphBuilder g, string input);
}

/// <summary>
/// Builds an ONNX graph from TorchSharp modules in eval mode: unique names, initializers from tensors, nodes, and the
/// export of standard modules by type (Sequential, Conv2d, BatchNorm2d, activations, Linear, pooling, Flatten, Dropout).
/// Node and initializer names follow the modules' state-dict paths (e.g. <c>layer1.0.conv1.weight</c>).
/// </summary>
/// <remarks>
/// To export a custom block, implement <see cref="IOnnxExportable"/>: call <see cref="Export"/> on each child and
/// <see cref="Op(string, string[])"/> for the arithmetic between them. A Conv2d followed by its BatchNorm2d is
/// written with <see cref="ExportConvBn"/>, which folds the BN into the conv when <see cref="FoldBatchNorm"/> is set.
/// </remarks>
public sealed class OnnxGraphBuilder
{
    private readonly Dictionary<nn.Module, string> paths = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, string> initializerOf = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private readonly Stack<string> scopes = new();
    private readonly Dictionary<float, string> scalars = new();

    /// <summary>Starts an empty graph for <paramref name="root"/>, whose submodule paths name the nodes.</summary>
    /// <param name="root">The module being exported (its <c>named_modules()</c> give the names).</param>
    /// <param name="foldBatchNorm">Fold BatchNorm2d into the preceding Conv2d (one Conv node with bias) instead of a BatchNormalization node.</param>
    public OnnxGraphBuilder(nn.Module root, bool foldBatchNorm = true)
    {
        FoldBatchNorm = foldBatchNorm;
        foreach (var (name, module) in root.named_modules())
            paths.TryAdd(module, name);
        scopes.Push("");
    }

    /// <summary>The graph built so far (nodes and initializers; inputs/outputs are added by the exporter).</summary>
    public GraphProto Graph { get; } = new();

    /// <summary>Whether <see cref="ExportConvBn"/> folds the BatchNorm into the convolution.</summary>
    public bool FoldBatchNorm { get; }

    /// <summary>Reserves <paramref name="hint"/> as a tensor/node name, suffixed with _1, _2… when taken.</summary>
    public string UniqueName(string hint)
    {
        if (string.IsNullOrEmpty(hint)) hint = "t";
        string name = hint;
        for (int i = 1; !names.Add(name); i++) name = $"{hint}_{i}";
        return name;
    }

    /// <summary>Marks a name as used (the graph input).</summary>
    public void Reserve(string name) => names.Add(name);

    /// <summary>The state-dict path of <paramref name="module"/> in the exported root, or its type name when it is not a submodule.</summary>
    public string PathOf(nn.Module module) =>
        paths.TryGetValue(module, out var p) && p.Length > 0 ? p : module.GetType().Name;

    /// <summary>Adds an initializer holding a copy of <paramref name="value"/> (float32 or int64); the same tensor object is stored once.</summary>
    public string AddInitializer(Tensor value, string hint)
    {
        if (initializerOf.TryGetValue(value, out var existing)) return existing;
        string name = UniqueName(hint);
        Graph.Initializer.Add(ToProto(value, name));
        initializerOf[value] = name;
        return name;
    }

    /// <summary>Adds a 1-D int64 constant (shapes, axes, pads).</summary>
    public string AddConstant(long[] values, string hint)
    {
        string name = UniqueName(hint);
        using var t = tensor(values);
        Graph.Initializer.Add(ToProto(t, name));
        return name;
    }

    /// <summary>Adds a scalar float32 constant; equal values share one initializer (ReLU6's 0 and 6, GELU's constants).</summary>
    public string AddConstant(float value, string hint)
    {
        if (scalars.TryGetValue(value, out var existing)) return existing;
        string name = UniqueName(hint);
        using var t = tensor(value);
        Graph.Initializer.Add(ToProto(t, name));
        return scalars[value] = name;
    }

    /// <summary>Adds a node with one output named after the current module scope; returns the output's name.</summary>
    public string Op(string opType, string[] inputs, params AttributeProto[] attributes) =>
        OpMulti(opType, inputs, 1, attributes)[0];

    /// <summary>Adds a node without attributes; returns its output's name.</summary>
    public string Op(string opType, params string[] inputs) => OpMulti(opType, inputs, 1)[0];

    /// <summary>Adds a node with <paramref name="outputs"/> outputs; returns their names.</summary>
    public string[] OpMulti(string opType, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        string scope = scopes.Peek();
        string nodeName = UniqueName(scope.Length == 0 ? opType : $"{scope}/{opType}");
        var node = new NodeProto { OpType = opType, Name = nodeName };
        node.Input.AddRange(inputs);
        var outs = new string[outputs];
        for (int i = 0; i < outputs; i++) outs[i] = outputs == 1 ? nodeName : UniqueName($"{nodeName}:{i}");
        node.Output.AddRange(outs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return outs;
    }

    /// <summary>Adds an already-formed node (used when replaying an imported graph).</summary>
    public void AddNode(NodeProto node) => Graph.Node.Add(node);

    /// <summary>Renames a tensor everywhere in the graph (used to name the graph outputs <c>features</c>/<c>logits</c>).</summary>
    public void RenameTensor(string from, string to)
    {
        if (from == to) return;
        names.Add(to);
        foreach (var node in Graph.Node)
        {
            for (int i = 0; i < node.Input.Count; i++) if (node.Input[i] == from) node.Input[i] = to;
            for (int i = 0; i < node.Output.Count; i++) if (node.Output[i] == from) node.Output[i] = to;
        }
    }

    /// <summary>
    /// Writes <paramref name="module"/> applied to <paramref name="input"/> and returns the output tensor's name.
    /// <see cref="IOnnxExportable"/> blocks write themselves; standard modules are mapped by type.
    /// </summary>
    /// <exception cref="NotSupportedException">The module is neither standard nor <see cref="IOnnxExportable"/>.</exception>
    public string Export(nn.Module module, string input)
    {
        scopes.Push(PathOf(module));
        try { return ExportCore(module, input); }
        finally { scopes.Pop(); }
    }

    private string ExportCore(nn.Module module, string x)
    {
        string scope = scopes.Peek();
        switch (module)
        {
            case IOnnxExportable custom:
                return custom.ExportOnnx(this, x);
            case Sequential seq:
                var children = seq.children().ToList();
                for (int i = 0; i < children.Count; i++)
                {
                    if (children[i] is Conv2d conv && i + 1 < children.Count && children[i + 1] is BatchNorm2d bn)
                    {
                        x = ExportConvBn(conv, bn, x);
                        i++;
                    }
                    else x = Export(children[i], x);
                }
                return x;
            case Conv2d conv:
                return ExportConvBn(conv, null, x);
            case BatchNorm2d bn:
                return ExportBatchNorm(bn, x);
            case Linear linear:
                var gemmInputs = new List<string> { x, AddInitializer(linear.weight, scope + ".weight") };
                if (linear.bias is not null) gemmInputs.Add(AddInitializer(linear.bias, scope + ".bias"));
                return Op("Gemm", gemmInputs.ToArray(), Attr("transB", 1L));
            case ReLU:
                return Op("Relu", x);
            case ReLU6:
                return Op("Clip", x, AddConstant(0f, scope + ".min"), AddConstant(6f, scope + ".max"));
            case Hardtanh ht:
                return Op("Clip", x, AddConstant((float)ht.min_val, scope + ".min"), AddConstant((float)ht.max_val, scope + ".max"));
            case LeakyReLU lr:
                return Op("LeakyRelu", [x], Attr("alpha", (float)lr.negative_slope));
            case Sigmoid:
                return Op("Sigmoid", x);
            case Tanh:
                return Op("Tanh", x);
            case SiLU:
                return Op("Mul", x, Op("Sigmoid", x));
            case Hardswish:
                return Op("HardSwish", x);
            case Hardsigmoid:
                return Op("HardSigmoid", [x], Attr("alpha", 1f / 6f), Attr("beta", 0.5f));
            case GELU gelu:
                return Gelu(x, gelu.approximate == GELU.Approximate.tanh);
            case Dropout or Dropout2d or AlphaDropout or Identity:
                return x;   // inference graph: dropout is the identity
            case AdaptiveAvgPool2d pool:
                if (pool.output_size.Any(s => s != 1))
                    throw new NotSupportedException($"{scope}: AdaptiveAvgPool2d with output size [{string.Join(",", pool.output_size)}] has no ONNX export; only output size 1 (GlobalAveragePool) is supported.");
                return Op("GlobalAveragePool", x);
            case MaxPool2d mp:
                return Op("MaxPool", [x], Attr("kernel_shape", Pair(mp.kernel_size)), Attr("strides", Pair(mp.stride ?? mp.kernel_size)),
                    Attr("pads", Pads(mp.padding)), Attr("dilations", Pair(mp.dilation ?? [1])), Attr("ceil_mode", mp.ceil_mode ? 1L : 0L));
            case AvgPool2d ap:
                if (ap.divisor_override is not null)
                    throw new NotSupportedException($"{scope}: AvgPool2d with divisor_override has no ONNX export.");
                return Op("AveragePool", [x], Attr("kernel_shape", Pair(ap.kernel_size)), Attr("strides", Pair(ap.stride ?? ap.kernel_size)),
                    Attr("pads", Pads(ap.padding)), Attr("ceil_mode", ap.ceil_mode ? 1L : 0L), Attr("count_include_pad", ap.count_include_pad ? 1L : 0L));
            case Flatten fl:
                if (fl.end_dim != -1)
                    throw new NotSupportedException($"{scope}: Flatten with end_dim {fl.end_dim} has no ONNX export; only end_dim -1 is supported.");
                return Op("Flatten", [x], Attr("axis", fl.start_dim));
            default:
                throw new NotSupportedException(
                    $"{scope}: {module.GetType().FullName} has no ONNX export. Implement {nameof(IOnnxExportable)} on the block " +
                    "(a few lines: call g.Export on each child and g.Op for the arithmetic between them).");
        }
    }

    /// <summary>
    /// Writes <paramref name="conv"/> followed by <paramref name="bn"/> (when not null). With <see cref="FoldBatchNorm"/> the BN is
    /// folded into the conv's weight and bias in double precision (w·γ/√(σ²+ε), (b−μ)·γ/√(σ²+ε)+β); otherwise a
    /// BatchNormalization node follows the Conv.
    /// </summary>
    public string ExportConvBn(Conv2d conv, BatchNorm2d? bn, string input)
    {
        string path = PathOf(conv);
        scopes.Push(path);
        try
        {
            if (conv.padding_mode != PaddingModes.Zeros)
                throw new NotSupportedException($"{path}: Conv2d with padding_mode {conv.padding_mode} has no ONNX export (zeros only).");
            long[] k = Pair(conv.kernel_size), d = Pair(conv.dilation ?? [1]);
            long[] pads = conv.padding_type == Padding.Same ? SamePads(k, d) : Pads(conv.padding ?? [0]);
            var attrs = new[]
            {
                Attr("kernel_shape", k), Attr("strides", Pair(conv.stride ?? [1])), Attr("pads", pads),
                Attr("dilations", d), Attr("group", conv.groups),
            };
            string w, b;
            if (bn is not null && FoldBatchNorm)
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var (scale, shift) = BnAffine(bn);
                var weight = conv.weight.detach().to_type(ScalarType.Float64) * scale.view(-1, 1, 1, 1);
                var bias = (conv.bias is null ? zeros_like(shift) : conv.bias.detach().to_type(ScalarType.Float64)) * scale + shift;
                w = AddFolded(weight, path + ".weight");
                b = AddFolded(bias, path + ".bias");
                return Op("Conv", [input, w, b], attrs);
            }
            w = AddInitializer(conv.weight, path + ".weight");
            var inputs = conv.bias is null ? new[] { input, w } : [input, w, AddInitializer(conv.bias, path + ".bias")];
            string y = Op("Conv", inputs, attrs);
            return bn is null ? y : Export(bn, y);
        }
        finally { scopes.Pop(); }
    }

    /// <summary>Writes a BatchNormalization node (inference form: scale, bias, running mean, running variance).</summary>
    public string ExportBatchNorm(BatchNorm2d bn, string input)
    {
        string path = PathOf(bn);
        if (bn.running_mean is null || bn.running_var is null)
            throw new NotSupportedException($"{path}: BatchNorm2d without running statistics has no inference-mode ONNX export.");
        using var ones = torch.ones(bn.num_features);
        using var zeros = torch.zeros(bn.num_features);
        string scale = bn.weight is null ? AddInitializer(ones, path + ".weight") : AddInitializer(bn.weight, path + ".weight");
        string bias = bn.bias is null ? AddInitializer(zeros, path + ".bias") : AddInitializer(bn.bias, path + ".bias");
        return Op("BatchNormalization",
            [input, scale, bias, AddInitializer(bn.running_mean, path + ".running_mean"), AddInitializer(bn.running_var, path + ".running_var")],
            Attr("epsilon", (float)bn.eps));
    }

    /// <summary>Writes GELU: the exact form 0.5·x·(1+erf(x/√2)) (opset 17 has no Gelu op), or the tanh approximation.</summary>
    public string Gelu(string x, bool tanhApproximation = false)
    {
        string scope = scopes.Peek();
        string inner;
        if (tanhApproximation)
        {
            // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
            string cube = Op("Mul", x, Op("Mul", x, x));
            string poly = Op("Add", x, Op("Mul", cube, AddConstant(0.044715f, scope + ".c")));
            inner = Op("Tanh", Op("Mul", poly, AddConstant((float)Math.Sqrt(2 / Math.PI), scope + ".k")));
        }
        else inner = Op("Erf", Op("Div", x, AddConstant((float)Math.Sqrt(2), scope + ".sqrt2")));
        string onePlus = Op("Add", inner, AddConstant(1f, scope + ".one"));
        return Op("Mul", Op("Mul", x, onePlus), AddConstant(0.5f, scope + ".half"));
    }

    /// <summary>Writes Flatten(axis) — [N,C,1,1] → [N,C] after global pooling.</summary>
    public string Flatten(string x, long axis = 1) => Op("Flatten", [x], Attr("axis", axis));

    private string AddFolded(Tensor value64, string hint)
    {
        using var f = value64.to_type(ScalarType.Float32);
        string name = UniqueName(hint);
        Graph.Initializer.Add(ToProto(f, name));
        return name;
    }

    /// <summary>BN as y = x·scale + shift (float64): scale = γ/√(σ²+ε), shift = β − μ·scale.</summary>
    private static (Tensor Scale, Tensor Shift) BnAffine(BatchNorm2d bn)
    {
        if (bn.running_mean is null || bn.running_var is null)
            throw new NotSupportedException("BatchNorm2d without running statistics cannot be folded.");
        var mean = bn.running_mean.detach().to_type(ScalarType.Float64);
        var invStd = (bn.running_var.detach().to_type(ScalarType.Float64) + bn.eps).rsqrt();
        var gamma = bn.weight is null ? ones_like(mean) : bn.weight.detach().to_type(ScalarType.Float64);
        var beta = bn.bias is null ? zeros_like(mean) : bn.bias.detach().to_type(ScalarType.Float64);
        var scale = gamma * invStd;
        return (scale, beta - mean * scale);
    }

    private static long[] Pair(long[] v) => v.Length == 1 ? [v[0], v[0]] : v;

    /// <summary>TorchSharp's symmetric [pH, pW] → ONNX [top, left, bottom, right].</summary>
    private static long[] Pads(long[]? p)
    {
        var pair = Pair(p ?? [0]);
        return [pair[0], pair[1], pair[0], pair[1]];
    }

    /// <summary>PyTorch's padding='same' (stride 1): total d·(k−1), the odd pixel on the bottom/right.</summary>
    private static long[] SamePads(long[] k, long[] d)
    {
        long th = d[0] * (k[0] - 1), tw = d[1] * (k[1] - 1);
        return [th / 2, tw / 2, th - th / 2, tw - tw / 2];
    }
}
