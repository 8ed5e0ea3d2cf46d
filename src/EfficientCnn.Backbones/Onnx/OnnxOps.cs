using System.Text;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EfficientCnn.Backbones.Onnx;

/// <summary>One node being executed: its attributes, input tensors (null where an optional input is absent), opset and mode.</summary>
internal sealed class OnnxNodeContext
{
    private readonly Dictionary<string, AttributeProto> attributes;

    public OnnxNodeContext(NodeProto node, Tensor?[] inputs, long opset, bool training)
    {
        Node = node;
        Inputs = inputs;
        Opset = opset;
        Training = training;
        attributes = node.Attribute.GroupBy(a => a.Name).ToDictionary(a => a.Key, a => a.Last());
    }

    public NodeProto Node { get; }
    public Tensor?[] Inputs { get; }
    public long Opset { get; }
    public bool Training { get; }

    public Tensor X => In(0);

    public Tensor In(int i) => i < Inputs.Length && Inputs[i] is { } t
        ? t : throw new InvalidDataException($"{Describe()}: required input {i} is missing.");

    public Tensor? Optional(int i) => i < Inputs.Length ? Inputs[i] : null;

    public bool Has(string name) => attributes.ContainsKey(name);

    public long Int(string name, long fallback) => attributes.TryGetValue(name, out var a) ? a.I : fallback;

    public float Float(string name, float fallback) => attributes.TryGetValue(name, out var a) ? a.F : fallback;

    public string Str(string name, string fallback) =>
        attributes.TryGetValue(name, out var a) ? Encoding.UTF8.GetString(a.S.ToByteArray()) : fallback;

    public long[]? Ints(string name) => attributes.TryGetValue(name, out var a) ? a.Ints.ToArray() : null;

    public float[]? Floats(string name) => attributes.TryGetValue(name, out var a) ? a.Floats.ToArray() : null;

    public TensorProto? TensorAttr(string name) => attributes.TryGetValue(name, out var a) ? a.T : null;

    public string Describe() => $"{Node.OpType} node '{Node.Name}'";
}

/// <summary>TorchSharp implementations of the ONNX operators the importer executes (2-D image networks).</summary>
internal static class OnnxOps
{
    private delegate Tensor[] Handler(OnnxNodeContext c);

    private static readonly Dictionary<string, Handler> handlers = new(StringComparer.Ordinal)
    {
        ["Conv"] = c => [Conv(c)],
        ["BatchNormalization"] = c => [BatchNorm(c)],
        ["Relu"] = c => [F.relu(c.X)],
        ["LeakyRelu"] = c => [F.leaky_relu(c.X, c.Float("alpha", 0.01f))],
        ["Sigmoid"] = c => [c.X.sigmoid()],
        ["Tanh"] = c => [c.X.tanh()],
        ["Erf"] = c => [c.X.erf()],
        ["Sqrt"] = c => [c.X.sqrt()],
        ["HardSigmoid"] = c => [(c.X * c.Float("alpha", 0.2f) + c.Float("beta", 0.5f)).clamp(0f, 1f)],
        ["HardSwish"] = c => [F.hardswish(c.X)],
        ["Clip"] = c => [Clip(c)],
        ["Add"] = c => Binary(c, (a, b) => a + b),
        ["Sub"] = c => Binary(c, (a, b) => a - b),
        ["Mul"] = c => Binary(c, (a, b) => a * b),
        ["Div"] = c => Binary(c, (a, b) => a.is_floating_point() || b.is_floating_point() ? a / b : a.div(b, RoundingMode.trunc)),
        ["Concat"] = c => [cat(c.Inputs.Where(t => t is not null).Select(t => t!).ToList(), c.Int("axis", 0))],
        ["Reshape"] = c => [Reshape(c)],
        ["Flatten"] = c => [Flatten(c.X, c.Int("axis", 1))],
        ["Transpose"] = c => [c.X.permute(c.Ints("perm") ?? Enumerable.Range(0, (int)c.X.dim()).Reverse().Select(i => (long)i).ToArray())],
        ["Gemm"] = c => [Gemm(c)],
        ["MatMul"] = c => [matmul(c.In(0), c.In(1))],
        ["GlobalAveragePool"] = c => [c.X.mean(SpatialDims(c.X), keepdim: true)],
        ["GlobalMaxPool"] = c => [c.X.amax(SpatialDims(c.X), keepdim: true)],
        ["AveragePool"] = c => [AveragePool(c)],
        ["MaxPool"] = c => [MaxPool(c)],
        ["ReduceMean"] = c => [ReduceMean(c)],
        ["Pad"] = c => [Pad(c)],
        ["Split"] = Split,
        ["Slice"] = c => [Slice(c)],
        ["Squeeze"] = c => [Squeeze(c)],
        ["Unsqueeze"] = c => [Unsqueeze(c)],
        ["Shape"] = c => [Shape(c)],
        ["Gather"] = c => [Gather(c)],
        ["Constant"] = c => [ConstantValue(c)],
        ["ConstantOfShape"] = c => [ConstantOfShape(c)],
        ["Cast"] = c => [c.X.to_type(ScalarTypeOf((int)c.Int("to", OnnxTensors.Float), c.Describe()))],
        ["Dropout"] = c => [Dropout(c)],
        ["Identity"] = c => [c.X.alias()],
        ["Softmax"] = c => [Softmax(c)],
    };

    /// <summary>Operators the importer executes, sorted.</summary>
    public static IReadOnlyList<string> Supported { get; } = handlers.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();

    public static bool IsSupported(NodeProto node) =>
        node.Domain is "" or "ai.onnx" && handlers.ContainsKey(node.OpType);

    /// <summary>The exception for an operator the importer cannot execute.</summary>
    public static NotSupportedException Unsupported(NodeProto node) => new(
        $"ONNX operator '{(node.Domain is "" or "ai.onnx" ? node.OpType : node.Domain + "." + node.OpType)}' (node '{node.Name}') is not supported by the importer. " +
        $"Supported operators: {string.Join(", ", Supported)}. Cut the graph before this node (cut point option) if it is part of the head.");

    public static Tensor[] Run(OnnxNodeContext c)
    {
        if (!IsSupported(c.Node)) throw Unsupported(c.Node);
        return handlers[c.Node.OpType](c);
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    private static long[] SpatialDims(Tensor x) => Enumerable.Range(2, (int)x.dim() - 2).Select(i => (long)i).ToArray();

    internal static long[] Longs(Tensor t)
    {
        using var c = t.cpu().to_type(ScalarType.Int64).contiguous();
        return c.data<long>().ToArray();
    }

    private static float Scalar(Tensor t)
    {
        using var c = t.cpu().to_type(ScalarType.Float32);
        return c.flatten().data<float>()[0];
    }

    /// <summary>Moves the CPU operand to the other's device (int64 shape constants live on the CPU).</summary>
    private static (Tensor, Tensor) Align(Tensor a, Tensor b)
    {
        if (a.device_type == b.device_type) return (a, b);
        return a.device_type == DeviceType.CPU ? (a.to(b.device), b) : (a, b.to(a.device));
    }

    private static Tensor[] Binary(OnnxNodeContext c, Func<Tensor, Tensor, Tensor> op)
    {
        var (a, b) = Align(c.In(0), c.In(1));
        return [op(a, b)];
    }

    internal static ScalarType ScalarTypeOf(int onnxType, string where) => onnxType switch
    {
        OnnxTensors.Float => ScalarType.Float32,
        OnnxTensors.Double => ScalarType.Float64,
        OnnxTensors.Float16 => ScalarType.Float16,
        OnnxTensors.Int64 => ScalarType.Int64,
        OnnxTensors.Int32 => ScalarType.Int32,
        OnnxTensors.Int8 => ScalarType.Int8,
        OnnxTensors.UInt8 => ScalarType.Byte,
        OnnxTensors.Bool => ScalarType.Bool,
        _ => throw new NotSupportedException($"{where}: ONNX element type {onnxType} is not supported."),
    };

    private static long[] Two(long[]? v, long fallback) => v is null || v.Length == 0 ? [fallback, fallback] : v.Length == 1 ? [v[0], v[0]] : v;

    private static void Require2D(OnnxNodeContext c)
    {
        if (c.X.dim() != 4)
            throw new NotSupportedException($"{c.Describe()}: only 2-D (4-D tensor) convolution and pooling are supported, got a {c.X.dim()}-D input.");
    }

    /// <summary>ONNX pads [top, left, bottom, right], from auto_pad when it is not NOTSET.</summary>
    private static long[] Pads(OnnxNodeContext c, long[] k, long[] s, long[] d)
    {
        string autoPad = c.Str("auto_pad", "NOTSET");
        switch (autoPad)
        {
            case "NOTSET":
            case "":
                var p = c.Ints("pads");
                return p is null || p.Length == 0 ? [0, 0, 0, 0] : p.Length == 4 ? p
                    : throw new InvalidDataException($"{c.Describe()}: pads must have 4 values for a 2-D op, got {p.Length}.");
            case "VALID":
                return [0, 0, 0, 0];
            case "SAME_UPPER":
            case "SAME_LOWER":
                var pads = new long[4];
                for (int i = 0; i < 2; i++)
                {
                    long size = c.X.shape[2 + i];
                    long outSize = (size + s[i] - 1) / s[i];
                    long total = Math.Max(0, (outSize - 1) * s[i] + (k[i] - 1) * d[i] + 1 - size);
                    long small = total / 2, big = total - small;
                    (pads[i], pads[i + 2]) = autoPad == "SAME_UPPER" ? (small, big) : (big, small);
                }
                return pads;
            default:
                throw new InvalidDataException($"{c.Describe()}: unknown auto_pad '{autoPad}'.");
        }
    }

    private static bool Symmetric(long[] pads) => pads[0] == pads[2] && pads[1] == pads[3];

    /// <summary>Explicit F.pad of H/W by ONNX pads [top, left, bottom, right].</summary>
    private static Tensor PadHW(Tensor x, long[] pads, double value) =>
        F.pad(x, [pads[1], pads[3], pads[0], pads[2]], PaddingModes.Constant, value);

    // ---- operators -----------------------------------------------------------------------------------------------

    private static Tensor Conv(OnnxNodeContext c)
    {
        Require2D(c);
        var w = c.In(1);
        if (w.dim() != 4) throw new NotSupportedException($"{c.Describe()}: only 2-D convolution weights are supported.");
        long[] k = c.Ints("kernel_shape") ?? [w.shape[2], w.shape[3]];
        long[] s = Two(c.Ints("strides"), 1), d = Two(c.Ints("dilations"), 1);
        long[] pads = Pads(c, k, s, d);
        var x = c.X;
        if (!Symmetric(pads))
        {
            x = PadHW(x, pads, 0);
            pads = [0, 0, 0, 0];
        }
        return F.conv2d(x, w, c.Optional(2), strides: s, padding: [pads[0], pads[1]], dilation: d, groups: c.Int("group", 1));
    }

    private static Tensor BatchNorm(OnnxNodeContext c)
    {
        if (c.Int("spatial", 1) != 1)
            throw new NotSupportedException($"{c.Describe()}: BatchNormalization with spatial=0 (per-activation statistics) is not supported.");
        // ONNX momentum weights the old running value (0.9); PyTorch's weights the new batch value (0.1).
        double momentum = 1.0 - c.Float("momentum", 0.9f);
        return F.batch_norm(c.X, c.In(3), c.In(4), c.In(1), c.In(2), c.Training, momentum, c.Float("epsilon", 1e-5f));
    }

    private static Tensor Clip(OnnxNodeContext c)
    {
        float? min, max;
        if (c.Opset < 11)
        {
            min = c.Has("min") ? c.Float("min", float.MinValue) : null;
            max = c.Has("max") ? c.Float("max", float.MaxValue) : null;
        }
        else
        {
            min = c.Optional(1) is { } lo ? Scalar(lo) : null;
            max = c.Optional(2) is { } hi ? Scalar(hi) : null;
        }
        var x = c.X;
        if (min is { } a && max is { } b) return x.clamp(a, b);
        if (min is { } a2) return x.clamp_min(a2);
        if (max is { } b2) return x.clamp_max(b2);
        return x.alias();
    }

    private static Tensor Reshape(OnnxNodeContext c)
    {
        var x = c.X;
        long[] shape = Longs(c.In(1));
        bool allowZero = c.Int("allowzero", 0) != 0;
        for (int i = 0; i < shape.Length; i++)
            if (shape[i] == 0 && !allowZero) shape[i] = x.shape[i];
        return x.reshape(shape);
    }

    internal static Tensor Flatten(Tensor x, long axis)
    {
        if (axis < 0) axis += x.dim();
        long outer = x.shape.Take((int)axis).Aggregate(1L, (a, b) => a * b);
        return x.reshape(outer, -1);
    }

    private static Tensor Gemm(OnnxNodeContext c)
    {
        var a = c.In(0);
        var b = c.In(1);
        if (c.Int("transA", 0) != 0) a = a.t();
        if (c.Int("transB", 0) != 0) b = b.t();
        var y = matmul(a, b);
        float alpha = c.Float("alpha", 1f), beta = c.Float("beta", 1f);
        if (alpha != 1f) y = y * alpha;
        if (c.Optional(2) is { } bias) y = y + (beta == 1f ? bias : bias * beta);
        return y;
    }

    private static Tensor AveragePool(OnnxNodeContext c)
    {
        Require2D(c);
        long[] k = Two(c.Ints("kernel_shape"), 1), s = Two(c.Ints("strides"), 1);
        long[] pads = Pads(c, k, s, [1, 1]);
        bool ceil = c.Int("ceil_mode", 0) != 0, includePad = c.Int("count_include_pad", 0) != 0;
        var x = c.X;
        if (Symmetric(pads) && pads[0] * 2 <= k[0] && pads[1] * 2 <= k[1])
            return F.avg_pool2d(x, k, s, [pads[0], pads[1]], ceil, includePad);
        // Asymmetric (or over-wide) padding: pad explicitly, then divide window sums by the count of counted pixels.
        var padded = PadHW(x, pads, 0);
        if (includePad) return F.avg_pool2d(padded, k, s, [0, 0], ceil, true);
        var sums = F.avg_pool2d(padded, k, s, [0, 0], ceil, true, divisor_override: 1);
        using var mask = PadHW(ones(1, 1, x.shape[2], x.shape[3], dtype: x.dtype, device: x.device), pads, 0);
        using var counts = F.avg_pool2d(mask, k, s, [0, 0], ceil, true, divisor_override: 1);
        return sums / counts;
    }

    private static Tensor MaxPool(OnnxNodeContext c)
    {
        Require2D(c);
        long[] k = Two(c.Ints("kernel_shape"), 1), s = Two(c.Ints("strides"), 1), d = Two(c.Ints("dilations"), 1);
        long[] pads = Pads(c, k, s, d);
        bool ceil = c.Int("ceil_mode", 0) != 0;
        var x = c.X;
        if (!(Symmetric(pads) && pads[0] * 2 <= k[0] && pads[1] * 2 <= k[1]))
        {
            x = PadHW(x, pads, double.NegativeInfinity);
            pads = [0, 0, 0, 0];
        }
        return F.max_pool2d(x, k, s, [pads[0], pads[1]], d, ceil);
    }

    private static long[] Axes(OnnxNodeContext c, int inputIndex)
    {
        if (c.Ints("axes") is { } a) return a;
        return c.Optional(inputIndex) is { } t ? Longs(t) : [];
    }

    private static Tensor ReduceMean(OnnxNodeContext c)
    {
        var x = c.X;
        long[] axes = Axes(c, 1);
        if (axes.Length == 0)
        {
            if (c.Int("noop_with_empty_axes", 0) != 0) return x.alias();
            axes = Enumerable.Range(0, (int)x.dim()).Select(i => (long)i).ToArray();
        }
        return x.mean(axes.Select(a => a < 0 ? a + x.dim() : a).ToArray(), keepdim: c.Int("keepdims", 1) != 0);
    }

    private static Tensor Pad(OnnxNodeContext c)
    {
        var x = c.X;
        long[] pads = c.Opset < 11 ? (c.Ints("pads") ?? c.Ints("paddings") ?? []) : Longs(c.In(1));
        double value = c.Opset < 11 ? c.Float("value", 0f) : c.Optional(2) is { } v && v.numel() > 0 ? Scalar(v) : 0.0;
        if (c.Optional(3) is not null) throw new NotSupportedException($"{c.Describe()}: Pad with an axes input is not supported.");
        int rank = (int)x.dim();
        if (pads.Length != 2 * rank) throw new InvalidDataException($"{c.Describe()}: pads has {pads.Length} values for a rank-{rank} input.");
        // torch wants (last dim begin, end, previous dim begin, end, ...), only as far as the outermost padded dim.
        int outermost = Enumerable.Range(0, rank).FirstOrDefault(i => pads[i] != 0 || pads[i + rank] != 0, rank - 1);
        var torchPads = new List<long>();
        for (int i = rank - 1; i >= outermost; i--) { torchPads.Add(pads[i]); torchPads.Add(pads[i + rank]); }
        var mode = c.Str("mode", "constant") switch
        {
            "constant" => PaddingModes.Constant,
            "reflect" => PaddingModes.Reflect,
            "edge" => PaddingModes.Replicate,
            var m => throw new NotSupportedException($"{c.Describe()}: Pad mode '{m}' is not supported."),
        };
        return F.pad(x, torchPads.ToArray(), mode, value);
    }

    private static Tensor[] Split(OnnxNodeContext c)
    {
        var x = c.X;
        long axis = c.Int("axis", 0);
        if (axis < 0) axis += x.dim();
        long[]? sizes = c.Ints("split") ?? (c.Optional(1) is { } s ? Longs(s) : null);
        if (sizes is null || sizes.Length == 0)
        {
            int n = c.Node.Output.Count;
            long chunk = (x.shape[axis] + n - 1) / n;
            return x.split(chunk, (int)axis);
        }
        return x.split(sizes, axis);
    }

    private static Tensor Slice(OnnxNodeContext c)
    {
        var x = c.X;
        long[] starts, ends, axes, steps;
        if (c.Opset < 10)
        {
            starts = c.Ints("starts") ?? [];
            ends = c.Ints("ends") ?? [];
            axes = c.Ints("axes") ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps = Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        else
        {
            starts = Longs(c.In(1));
            ends = Longs(c.In(2));
            axes = c.Optional(3) is { } a ? Longs(a) : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps = c.Optional(4) is { } st ? Longs(st) : Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        for (int i = 0; i < starts.Length; i++)
        {
            long axis = axes[i] < 0 ? axes[i] + x.dim() : axes[i];
            long size = x.shape[axis];
            if (steps[i] <= 0) throw new NotSupportedException($"{c.Describe()}: Slice with step {steps[i]} is not supported (positive steps only).");
            long start = starts[i] < 0 ? starts[i] + size : starts[i];
            long end = ends[i] < 0 ? ends[i] + size : ends[i];
            start = Math.Clamp(start, 0, size);
            end = Math.Clamp(end, start, size);
            x = x.slice(axis, start, end, steps[i]);
        }
        return x;
    }

    private static Tensor Squeeze(OnnxNodeContext c)
    {
        var x = c.X;
        long[] axes = Axes(c, 1);
        if (axes.Length == 0) return x.squeeze();
        foreach (var a in axes.Select(a => a < 0 ? a + x.dim() : a).OrderByDescending(a => a).ToList())
            x = x.squeeze(a);
        return x;
    }

    private static Tensor Unsqueeze(OnnxNodeContext c)
    {
        var x = c.X;
        long[] axes = Axes(c, 1);
        long rank = x.dim() + axes.Length;
        foreach (var a in axes.Select(a => a < 0 ? a + rank : a).OrderBy(a => a).ToList())
            x = x.unsqueeze(a);
        return x;
    }

    private static Tensor Shape(OnnxNodeContext c)
    {
        long[] shape = c.X.shape;
        long rank = shape.Length;
        long start = c.Int("start", 0), end = c.Int("end", rank);
        if (start < 0) start += rank;
        if (end < 0) end += rank;
        start = Math.Clamp(start, 0, rank);
        end = Math.Clamp(end, start, rank);
        return tensor(shape[(int)start..(int)end]);
    }

    private static Tensor Gather(OnnxNodeContext c)
    {
        var data = c.X;
        var indices = c.In(1).to_type(ScalarType.Int64);
        long axis = c.Int("axis", 0);
        if (axis < 0) axis += data.dim();
        long size = data.shape[axis];
        var idx = where(indices < 0, indices + size, indices).to(data.device);
        var picked = data.index_select(axis, idx.flatten());
        var shape = data.shape.Take((int)axis).Concat(indices.shape).Concat(data.shape.Skip((int)axis + 1)).ToArray();
        return picked.reshape(shape);
    }

    private static Tensor ConstantValue(OnnxNodeContext c)
    {
        if (c.TensorAttr("value") is { } t) return OnnxTensors.ToTorch(t);
        if (c.Has("value_float")) return tensor(c.Float("value_float", 0f));
        if (c.Floats("value_floats") is { } fs) return tensor(fs);
        if (c.Has("value_int")) return tensor(c.Int("value_int", 0));
        if (c.Ints("value_ints") is { } ls) return tensor(ls);
        throw new NotSupportedException($"{c.Describe()}: only value, value_float(s) and value_int(s) Constant attributes are supported.");
    }

    private static Tensor ConstantOfShape(OnnxNodeContext c)
    {
        long[] shape = Longs(c.In(0));
        if (c.TensorAttr("value") is { } t)
        {
            using var v = OnnxTensors.ToTorch(t);
            return v.flatten()[0].expand(shape).contiguous();
        }
        return zeros(shape);
    }

    private static Tensor Dropout(OnnxNodeContext c)
    {
        if (!c.Training) return c.X.alias();
        double ratio = c.Opset < 12 ? c.Float("ratio", 0.5f) : c.Optional(1) is { } r ? Scalar(r) : 0.5;
        return F.dropout(c.X, ratio, training: true);
    }

    private static Tensor Softmax(OnnxNodeContext c)
    {
        var x = c.X;
        if (c.Opset >= 13) return F.softmax(x, c.Int("axis", -1));
        // Before opset 13 Softmax flattened the input to 2-D at `axis` (default 1) and normalised the second dim.
        long axis = c.Int("axis", 1);
        return F.softmax(Flatten(x, axis), 1).reshape(x.shape);
    }
}
