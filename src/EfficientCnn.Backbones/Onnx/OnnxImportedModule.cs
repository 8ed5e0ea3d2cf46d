using System.Text.Json;
using System.Text.RegularExpressions;
using EfficientCnn.Backbones.Imaging;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Onnx;

/// <summary>Options of <see cref="OnnxImportedModule.Load(string, OnnxImportOptions?)"/>.</summary>
public sealed record OnnxImportOptions
{
    /// <summary>
    /// Where the feature extractor ends: a node name (its first output) or a tensor name. Default: the input of the
    /// last Gemm/MatMul with a constant weight (that layer becomes <see cref="Backbone.Head"/>), else the output of the
    /// last GlobalAveragePool, else the first graph output.
    /// </summary>
    public string? CutAt { get; init; }

    /// <summary>Input size used to measure the feature dimension when no head gives it and the model's H/W are symbolic (default: the metadata's, else 224).</summary>
    public int? ProbeResolution { get; init; }
}

/// <summary>
/// An ONNX image model as a trainable TorchSharp <see cref="Backbone"/>: the graph up to the cut point runs node by node
/// with TorchSharp operators; floating-point weights become <see cref="Parameter"/>s (BatchNorm running statistics and
/// scalar constants become buffers, integer shape constants stay plain constants), and the Gemm/MatMul after the cut
/// becomes <see cref="Head"/> (an <see cref="Linear"/>). Training mode uses batch statistics and dropout as PyTorch does.
/// </summary>
/// <remarks>
/// A model exported with a fixed batch of 1 (old opsets) runs any batch: the input's batch dim is not enforced and
/// Reshape targets that start with the batch 1 copy the input's batch instead. Fixed H/W are enforced.
/// <see cref="Stages"/> has one entry (all graph parameters).
/// </remarks>
public sealed partial class OnnxImportedModule : Backbone
{
    private readonly ParameterStore graph;
    private readonly Linear? head;
    private readonly List<NodeProto> plan;
    private readonly Dictionary<string, Tensor> constants;
    private readonly Dictionary<string, string> storeNames;
    private readonly List<string>[] freeAfter;
    private readonly long opset;
    private readonly int featureRank;

    private OnnxImportedModule(Analysis a) : base("OnnxImported", a.NumClasses)
    {
        plan = a.Plan;
        constants = a.Constants;
        opset = a.Opset;
        storeNames = new Dictionary<string, string>(StringComparer.Ordinal);
        InputName = a.InputName;
        FeatureTensorName = a.CutTensor;
        HeadOutputName = a.HeadOutput;
        InputHeight = a.Height;
        InputWidth = a.Width;
        SourceOpset = a.Opset;
        Metadata = a.Metadata;
        Preprocessing = a.Preprocessing;
        ClassLabels = a.Labels;
        Operators = plan.GroupBy(n => n.OpType).OrderByDescending(x => x.Count()).ToDictionary(x => x.Key, x => x.Count());

        graph = new ParameterStore();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, value) in a.Parameters)
            storeNames[name] = graph.AddParameter(UniqueStoreName(name, used), value);
        foreach (var (name, value) in a.Buffers)
            storeNames[name] = graph.AddBuffer(UniqueStoreName(name, used), value);
        register_module("graph", graph);

        if (a.HeadWeight is { } w)
        {
            head = nn.Linear(w.shape[1], w.shape[0], hasBias: a.HeadBias is not null);
            using (no_grad())
            {
                head.weight.copy_(w);
                if (a.HeadBias is { } b) head.bias!.copy_(b);
            }
            register_module("head", head);
            FeatureDim = (int)w.shape[1];
            featureRank = 2;
        }
        freeAfter = FreeSchedule(plan, FeatureTensorName);
        if (head is null)
        {
            // No head tells the feature size: run one image through the graph.
            eval();
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            int probe = a.ProbeSize;
            var y = Run(zeros(1, 3, InputHeight ?? probe, InputWidth ?? probe));
            featureRank = (int)y.dim();
            FeatureDim = (int)(y.numel());
            train();
        }
    }

    /// <summary>Reads an ONNX file and builds the module.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is empty, truncated, not ONNX, or its input is not [N,3,H,W] float.</exception>
    /// <exception cref="NotSupportedException">An operator before the cut point is not supported (the message lists the supported ones).</exception>
    public static OnnxImportedModule Load(string path, OnnxImportOptions? options = null)
    {
        var model = OnnxModelReader.Read(path);
        return FromModel(model, options, Path.GetFullPath(path));
    }

    /// <summary>Builds the module from ONNX bytes.</summary>
    public static OnnxImportedModule Load(byte[] bytes, OnnxImportOptions? options = null) =>
        FromModel(OnnxModelReader.Parse(bytes), options, "<bytes>");

    /// <summary>Builds the module from a parsed model; <paramref name="source"/> names it in error messages.</summary>
    public static OnnxImportedModule FromModel(ModelProto model, OnnxImportOptions? options = null, string source = "<model>")
    {
        ArgumentNullException.ThrowIfNull(model);
        using var scope = NewDisposeScope();
        var analysis = Analyze(model, options ?? new OnnxImportOptions(), source);
        var module = new OnnxImportedModule(analysis);
        // Tensors that the module keeps must outlive the scope.
        foreach (var t in module.constants.Values) t.MoveToOuterDisposeScope();
        foreach (var p in module.parameters()) p.MoveToOuterDisposeScope();
        foreach (var b in module.buffers()) b.MoveToOuterDisposeScope();
        return module;
    }

    /// <summary>Operators the importer executes.</summary>
    public static IReadOnlyList<string> SupportedOperators => OnnxOps.Supported;

    /// <inheritdoc />
    public override int FeatureDim { get; }

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => head;

    /// <inheritdoc />
    public override IReadOnlyList<nn.Module> Stages => [graph];

    /// <inheritdoc />
    /// <remarks>A fixed H/W gives its own limit; symbolic H/W use the exporter's <see cref="OnnxMetadataKeys.MinInputSize"/>
    /// (GoogLeNet's 15 px), else 32.</remarks>
    public override int MinInputSize =>
        InputHeight is { } h && InputWidth is { } w ? (int)Math.Min(h, w)
        : Metadata.TryGetValue(OnnxMetadataKeys.MinInputSize, out var v) && int.TryParse(v, System.Globalization.NumberStyles.Integer,
            System.Globalization.CultureInfo.InvariantCulture, out int min) && min > 0 ? min : 32;

    /// <summary>Name of the graph input in the source model.</summary>
    public string InputName { get; }

    /// <summary>Source tensor the features are read from (the cut point).</summary>
    public string FeatureTensorName { get; }

    /// <summary>Source tensor the head's logits correspond to (Gemm output, or the Add after a MatMul); null without head.</summary>
    public string? HeadOutputName { get; }

    /// <summary>Fixed input height of the source model, or null when symbolic.</summary>
    public long? InputHeight { get; }

    /// <summary>Fixed input width of the source model, or null when symbolic.</summary>
    public long? InputWidth { get; }

    /// <summary>Default-domain opset of the source model.</summary>
    public long SourceOpset { get; }

    /// <summary>The source model's metadata_props.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Preprocessing read from the metadata (null when the model has none).</summary>
    public PreprocessingSpec? Preprocessing { get; }

    /// <summary>Class labels read from the metadata (null when absent).</summary>
    public IReadOnlyList<string>? ClassLabels { get; }

    /// <summary>Node count per operator of the executed part (up to the cut point).</summary>
    public IReadOnlyDictionary<string, int> Operators { get; }

    /// <summary>The registered parameter/buffer name that holds the source initializer <paramref name="onnxName"/>, or null.</summary>
    public string? StoreNameOf(string onnxName) => storeNames.TryGetValue(onnxName, out var n) ? "graph." + n : null;

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input)
    {
        if ((InputHeight is { } h && input.shape[2] != h) || (InputWidth is { } w && input.shape[3] != w))
            throw new ArgumentException(
                $"This ONNX model has a fixed input size {InputHeight}x{InputWidth}; got {input.shape[2]}x{input.shape[3]}.", nameof(input));
        var y = Run(input);
        if (y.dim() <= 2) return y;
        var flat = y.flatten(1);
        y.Dispose();
        return flat;
    }

    /// <summary>Executes the plan and returns the cut tensor (intermediates are disposed after their last use).</summary>
    private Tensor Run(Tensor input)
    {
        var stored = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (n, p) in graph.named_parameters(recurse: false)) stored[n] = p;
        foreach (var (n, b) in graph.named_buffers(recurse: false)) stored[n] = b;
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [InputName] = input };
        Tensor? Lookup(string name)
        {
            if (name.Length == 0) return null;
            if (values.TryGetValue(name, out var v)) return v;
            if (storeNames.TryGetValue(name, out var s)) return stored[s];
            if (constants.TryGetValue(name, out var c)) return c;
            throw new InvalidDataException($"ONNX tensor '{name}' is used before it is computed.");
        }

        for (int i = 0; i < plan.Count; i++)
        {
            var node = plan[i];
            var ctx = new OnnxNodeContext(node, node.Input.Select(Lookup).ToArray(), opset, training);
            Tensor[] outs;
            try
            {
                outs = OnnxOps.Run(ctx);
            }
            catch (Exception e) when (e is not NotSupportedException and not InvalidDataException)
            {
                throw new InvalidOperationException($"{ctx.Describe()} failed on inputs [{string.Join("; ", ctx.Inputs.Select(t => t is null ? "-" : string.Join("x", t.shape)))}]: {e.Message}", e);
            }
            for (int j = 0; j < outs.Length; j++)
            {
                if (j < node.Output.Count && node.Output[j].Length > 0) values[node.Output[j]] = outs[j];
                else outs[j].Dispose();
            }
            foreach (var name in freeAfter[i])
                if (values.Remove(name, out var t)) t.Dispose();
        }
        return values[FeatureTensorName];
    }

    /// <summary>For each plan step, the produced tensors whose last consumer it is (never the cut tensor).</summary>
    private static List<string>[] FreeSchedule(List<NodeProto> plan, string keep)
    {
        var last = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < plan.Count; i++)
        {
            foreach (var o in plan[i].Output) if (o.Length > 0) last[o] = i;
            foreach (var n in plan[i].Input) if (last.ContainsKey(n)) last[n] = i;
        }
        var free = Enumerable.Range(0, plan.Count).Select(_ => new List<string>()).ToArray();
        foreach (var (name, i) in last) if (name != keep) free[i].Add(name);
        return free;
    }

    [GeneratedRegex("[^A-Za-z0-9_]")]
    private static partial Regex Unsafe();

    private static string UniqueStoreName(string onnxName, HashSet<string> used)
    {
        string baseName = Unsafe().Replace(onnxName, "_");
        if (baseName.Length == 0 || char.IsDigit(baseName[0])) baseName = "p_" + baseName;
        string name = baseName;
        for (int i = 1; !used.Add(name); i++) name = $"{baseName}_{i}";
        return name;
    }

    /// <summary>Holds the graph's parameters and buffers under sanitised names (module name "graph").</summary>
    private sealed class ParameterStore : nn.Module
    {
        public ParameterStore() : base("graph") { }

        public string AddParameter(string name, Tensor value)
        {
            register_parameter(name, new Parameter(value.to_type(ScalarType.Float32), requires_grad: true));
            return name;
        }

        public string AddBuffer(string name, Tensor value)
        {
            register_buffer(name, value.is_floating_point() ? value.to_type(ScalarType.Float32) : value);
            return name;
        }
    }

    // ---- analysis of the source graph ----------------------------------------------------------------------------

    private sealed class Analysis
    {
        public required long Opset;
        public required string InputName;
        public long? Height, Width;
        public required List<NodeProto> Plan;
        public required string CutTensor;
        public string? HeadOutput;
        public Tensor? HeadWeight, HeadBias;
        public int NumClasses;
        public required Dictionary<string, Tensor> Constants;
        public required List<(string, Tensor)> Parameters, Buffers;
        public required IReadOnlyDictionary<string, string> Metadata;
        public PreprocessingSpec? Preprocessing;
        public IReadOnlyList<string>? Labels;
        public int ProbeSize;
    }

    private static readonly HashSet<string> linearOps = ["Gemm", "MatMul"];

    private static Analysis Analyze(ModelProto model, OnnxImportOptions options, string source)
    {
        long opset = OnnxModelReader.DefaultOpset(model);
        if (opset < 7)
            throw new NotSupportedException($"{source}: opset {opset} is older than 7 (legacy broadcasting); re-export the model with opset 7 or newer.");
        var g = model.Graph;
        var all = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var init in g.Initializer) all[init.Name] = OnnxTensors.ToTorch(init);

        // The image input: the one graph input that is not an initializer, [N,3,H,W] float.
        var inputs = g.Input.Where(i => !all.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1)
            throw new InvalidDataException($"{source}: expected one image input [N,3,H,W], found {inputs.Count} ({string.Join(", ", inputs.Select(i => i.Name))}).");
        var info = OnnxModelInfo.Describe(inputs[0]);
        var dims = inputs[0].Type?.TensorType?.Shape?.Dim;
        if (info.ElementType != "float" || dims is null || dims.Count != 4 || (dims[1].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dims[1].DimValue != 3))
            throw new InvalidDataException($"{source}: input '{info.Name}' must be a float [N,3,H,W] image batch, got {info.ElementType} [{string.Join(",", info.Dims)}].");
        long? Fixed(int i) => dims[i].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dims[i].DimValue > 0 ? dims[i].DimValue : null;
        bool batchFixedToOne = Fixed(0) == 1;
        foreach (var (axis, limit) in new[] { (0, ImageLimits.MaxBatchSize), (2, ImageLimits.MaxResolution), (3, ImageLimits.MaxResolution) })
            if (Fixed(axis) > limit)
                throw new InvalidDataException($"{source}: input '{info.Name}' declares [{string.Join(",", info.Dims)}]; dimension {axis} is above the {limit} this tool accepts.");

        // Constant nodes become constants; the rest are sorted topologically.
        var available = new HashSet<string>(all.Keys, StringComparer.Ordinal) { info.Name };
        var nodes = new List<NodeProto>();
        foreach (var node in g.Node)
        {
            if (node.OpType == "Constant" && node.Domain is "" or "ai.onnx")
            {
                using var ctx = NewDisposeScope();
                var value = OnnxOps.Run(new OnnxNodeContext(node, [], opset, false))[0];
                all[node.Output[0]] = value.MoveToOuterDisposeScope();
                available.Add(node.Output[0]);
            }
            else nodes.Add(node);
        }
        var sorted = TopologicalSort(nodes, available, source);
        var producer = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in sorted) foreach (var o in n.Output) if (o.Length > 0) producer[o] = n;
        var consumers = sorted.SelectMany(n => n.Input.Where(i => i.Length > 0).Select(i => (i, n)))
            .GroupBy(x => x.i).ToDictionary(x => x.Key, x => x.Select(y => y.n).Distinct().ToList(), StringComparer.Ordinal);

        // Cut point and head.
        string cut;
        NodeProto? headNode = null;
        if (options.CutAt is { } named)
        {
            cut = sorted.FirstOrDefault(n => n.Name == named)?.Output[0]
                ?? (producer.ContainsKey(named) ? named
                    : throw new ArgumentException($"{source}: no node or tensor named '{named}' (outputs: {string.Join(", ", g.Output.Select(o => o.Name))}).", nameof(options)));
            if (consumers.TryGetValue(cut, out var cs) && cs.Count == 1 && IsLinearHead(cs[0], cut, all)) headNode = cs[0];
        }
        else
        {
            headNode = sorted.LastOrDefault(n => IsLinearHead(n, n.Input[0], all));
            cut = headNode?.Input[0]
                ?? sorted.LastOrDefault(n => n.OpType == "GlobalAveragePool")?.Output[0]
                ?? g.Output[0].Name;
        }
        if (!producer.ContainsKey(cut))
            throw new ArgumentException($"{source}: the cut tensor '{cut}' is not computed by a node.", nameof(options));

        // The nodes the features need, in topological order.
        var needed = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<string>([cut]);
        while (stack.Count > 0)
            if (producer.TryGetValue(stack.Pop(), out var p) && needed.Add(p))
                foreach (var i in p.Input) if (i.Length > 0) stack.Push(i);
        var plan = sorted.Where(needed.Contains).Select(n => n.Clone()).ToList();
        if (plan.FirstOrDefault(n => !OnnxOps.IsSupported(n)) is { } bad) throw OnnxOps.Unsupported(bad);

        // Old fixed-batch-1 models: Reshape targets [1, ...] copy the batch instead (0 = keep the input's dim).
        if (batchFixedToOne)
            foreach (var n in plan.Where(n => n.OpType == "Reshape" && n.Input.Count > 1 && all.ContainsKey(n.Input[1])))
            {
                var shape = OnnxOps.Longs(all[n.Input[1]]);
                if (shape.Length > 0 && shape[0] == 1 && !n.Attribute.Any(a => a.Name == "allowzero" && a.I != 0))
                {
                    shape[0] = 0;
                    string name = n.Input[1] + "__any_batch";
                    all[name] = tensor(shape);
                    n.Input[1] = name;
                }
            }

        // Which constants train: weights of Conv/Gemm/MatMul/BN and non-scalar operands of arithmetic.
        var parameters = new List<(string, Tensor)>();
        var buffers = new List<(string, Tensor)>();
        var consts = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var role = new Dictionary<string, bool>(StringComparer.Ordinal);   // name → trainable
        foreach (var n in plan)
            for (int i = 0; i < n.Input.Count; i++)
            {
                string name = n.Input[i];
                if (!all.TryGetValue(name, out var t)) continue;
                bool trainable = t.is_floating_point() && (n.OpType switch
                {
                    "Conv" or "Gemm" or "MatMul" => i > 0 || n.OpType == "MatMul",
                    "BatchNormalization" => i is 1 or 2,
                    "Add" or "Sub" or "Mul" or "Div" => t.numel() > 1,
                    _ => false,
                });
                role[name] = role.GetValueOrDefault(name) || trainable;
            }
        foreach (var (name, trainable) in role)
        {
            var t = all[name];
            if (trainable) parameters.Add((name, t));
            else if (t.is_floating_point()) buffers.Add((name, t));
            else consts[name] = t;
        }

        var metadata = model.MetadataProps.GroupBy(p => p.Key).ToDictionary(p => p.Key, p => p.Last().Value, StringComparer.Ordinal);
        PreprocessingSpec? prep;
        try { prep = PreprocessingSpec.FromMetadata(metadata); }
        catch (FormatException) { prep = null; }
        IReadOnlyList<string>? labels = null;
        if (metadata.TryGetValue(OnnxMetadataKeys.ClassLabels, out var json))
        {
            try { labels = JsonSerializer.Deserialize<string[]>(json); }
            catch (JsonException) { labels = null; }
        }

        var a = new Analysis
        {
            Opset = opset, InputName = info.Name, Height = Fixed(2), Width = Fixed(3), Plan = plan, CutTensor = cut,
            Constants = consts, Parameters = parameters, Buffers = buffers, Metadata = metadata, Preprocessing = prep,
            Labels = labels, ProbeSize = options.ProbeResolution ?? prep?.Resolution ?? 224,
        };
        if (headNode is not null) SetHead(a, headNode, all, consumers);
        return a;
    }

    /// <summary>A Gemm (transA=0) or MatMul whose weight is a 2-D constant, applied to <paramref name="input"/>.</summary>
    private static bool IsLinearHead(NodeProto n, string input, Dictionary<string, Tensor> constants) =>
        linearOps.Contains(n.OpType) && n.Input.Count >= 2 && n.Input[0] == input &&
        constants.TryGetValue(n.Input[1], out var w) && w.dim() == 2 && w.is_floating_point() &&
        !n.Attribute.Any(x => x.Name == "transA" && x.I != 0);

    private static void SetHead(Analysis a, NodeProto n, Dictionary<string, Tensor> all, Dictionary<string, List<NodeProto>> consumers)
    {
        var attrs = n.Attribute.ToDictionary(x => x.Name);
        var b = all[n.Input[1]];
        bool transB = n.OpType == "Gemm" && attrs.TryGetValue("transB", out var tb) && tb.I != 0;
        float alpha = n.OpType == "Gemm" && attrs.TryGetValue("alpha", out var al) ? al.F : 1f;
        float beta = n.OpType == "Gemm" && attrs.TryGetValue("beta", out var be) ? be.F : 1f;
        var weight = (transB ? b : b.t()) * alpha;
        long classes = weight.shape[0];
        Tensor? bias = null;
        string output = n.Output[0];
        if (n.OpType == "Gemm" && n.Input.Count > 2 && n.Input[2].Length > 0 && all.TryGetValue(n.Input[2], out var c))
            bias = c.flatten().expand(classes) * beta;
        else if (n.OpType == "MatMul" && consumers.TryGetValue(output, out var cs) && cs.Count == 1 && cs[0].OpType == "Add")
        {
            var add = cs[0];
            string other = add.Input[0] == output ? add.Input[1] : add.Input[0];
            if (all.TryGetValue(other, out var c2) && c2.numel() == classes)
            {
                bias = c2.flatten();
                output = add.Output[0];
            }
        }
        a.HeadWeight = weight.contiguous();
        a.HeadBias = bias?.contiguous();
        a.HeadOutput = output;
        a.NumClasses = (int)classes;
    }

    private static List<NodeProto> TopologicalSort(List<NodeProto> nodes, HashSet<string> available, string source)
    {
        var sorted = new List<NodeProto>(nodes.Count);
        var pending = new List<NodeProto>(nodes);
        var have = new HashSet<string>(available, StringComparer.Ordinal);
        while (pending.Count > 0)
        {
            int before = pending.Count;
            for (int i = 0; i < pending.Count; i++)
            {
                var n = pending[i];
                if (!n.Input.All(x => x.Length == 0 || have.Contains(x))) continue;
                sorted.Add(n);
                foreach (var o in n.Output) have.Add(o);
                pending.RemoveAt(i--);
            }
            if (pending.Count == before)
            {
                var stuck = pending[0];
                throw new InvalidDataException(
                    $"{source}: node '{stuck.Name}' ({stuck.OpType}) uses '{stuck.Input.First(x => x.Length > 0 && !have.Contains(x))}', which no node, initializer or input provides (or the graph has a cycle).");
            }
        }
        return sorted;
    }
}
