using Google.Protobuf;
using Onnx;

namespace EfficientCnn.Backbones.Onnx;

/// <summary>A graph input or output: name, element type and dims (a number, a symbolic name, or "?").</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="ElementType">ONNX element type name (float, int64, …).</param>
/// <param name="Dims">Dims as written in the model.</param>
public sealed record OnnxTensorInfo(string Name, string ElementType, IReadOnlyList<string> Dims);

/// <summary>What <c>efficientcnn inspect</c> shows: inputs, outputs, metadata, parameter count, operator histogram.</summary>
/// <param name="IrVersion">ONNX IR version.</param>
/// <param name="Opset">Default-domain opset.</param>
/// <param name="Producer">Producer name and version.</param>
/// <param name="Inputs">Graph inputs that are not initializers.</param>
/// <param name="Outputs">Graph outputs.</param>
/// <param name="Metadata">metadata_props.</param>
/// <param name="Parameters">Values in floating-point initializers (weights, biases and BN statistics).</param>
/// <param name="Initializers">Number of initializers.</param>
/// <param name="Nodes">Number of nodes.</param>
/// <param name="Operators">Node count per operator, most frequent first.</param>
public sealed record OnnxModelInfo(
    long IrVersion, long Opset, string Producer,
    IReadOnlyList<OnnxTensorInfo> Inputs, IReadOnlyList<OnnxTensorInfo> Outputs,
    IReadOnlyDictionary<string, string> Metadata, long Parameters, int Initializers, int Nodes,
    IReadOnlyDictionary<string, int> Operators)
{
    /// <summary>Reads and validates the file (see <see cref="OnnxModelReader.Read(string)"/>) and summarises it.</summary>
    public static OnnxModelInfo Read(string path) => From(OnnxModelReader.Read(path));

    /// <summary>Summarises a parsed model.</summary>
    public static OnnxModelInfo From(ModelProto model)
    {
        var g = model.Graph;
        var inits = g.Initializer.Select(i => i.Name).ToHashSet();
        long parameters = g.Initializer
            .Where(t => t.DataType is OnnxTensors.Float or OnnxTensors.Double or OnnxTensors.Float16)
            .Sum(t => t.Dims.Aggregate(1L, (a, b) => a * b));
        var ops = g.Node.GroupBy(n => string.IsNullOrEmpty(n.Domain) ? n.OpType : $"{n.Domain}.{n.OpType}")
            .OrderByDescending(x => x.Count()).ThenBy(x => x.Key, StringComparer.Ordinal)
            .ToDictionary(x => x.Key, x => x.Count());
        return new OnnxModelInfo(model.IrVersion, OnnxModelReader.DefaultOpset(model),
            (model.ProducerName + " " + model.ProducerVersion).Trim(),
            g.Input.Where(i => !inits.Contains(i.Name)).Select(Describe).ToList(),
            g.Output.Select(Describe).ToList(),
            model.MetadataProps.GroupBy(p => p.Key).ToDictionary(p => p.Key, p => p.Last().Value),
            parameters, g.Initializer.Count, g.Node.Count, ops);
    }

    /// <summary>Describes a value: element type and dims.</summary>
    public static OnnxTensorInfo Describe(ValueInfoProto v)
    {
        var tt = v.Type?.TensorType;
        var dims = tt?.Shape?.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => d.DimValue.ToString(),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => d.DimParam,
            _ => "?",
        }).ToList() ?? [];
        return new OnnxTensorInfo(v.Name, ElementTypeName(tt?.ElemType ?? 0), dims);
    }

    /// <summary>Name of an ONNX element type code.</summary>
    public static string ElementTypeName(int code) => code switch
    {
        1 => "float", 2 => "uint8", 3 => "int8", 4 => "uint16", 5 => "int16", 6 => "int32", 7 => "int64", 8 => "string",
        9 => "bool", 10 => "float16", 11 => "double", 12 => "uint32", 13 => "uint64", 16 => "bfloat16", 0 => "undefined",
        _ => $"type{code}",
    };
}

/// <summary>Reads ONNX files with clear errors for missing, empty, truncated or non-ONNX files (never a native crash).</summary>
public static class OnnxModelReader
{
    /// <summary>Reads and validates an ONNX model file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist (the message names the path).</exception>
    /// <exception cref="InvalidDataException">The file is empty, truncated or not an ONNX model.</exception>
    public static ModelProto Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"ONNX file not found: {full}", full);
        return Parse(File.ReadAllBytes(full), full);
    }

    /// <summary>Parses and validates ONNX bytes; <paramref name="source"/> names them in error messages.</summary>
    /// <exception cref="InvalidDataException">The bytes are empty, truncated or not an ONNX model.</exception>
    public static ModelProto Parse(byte[] bytes, string source = "<bytes>")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length == 0) throw new InvalidDataException($"{source} is empty (0 bytes), not an ONNX model.");
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source} is not a valid ONNX model (truncated or not a protobuf ModelProto): {e.Message}", e);
        }
        // Arbitrary bytes sometimes parse as a protobuf message: require the fields every ONNX model has.
        if (model.IrVersion <= 0 || model.Graph is null || model.Graph.Node.Count == 0 || model.OpsetImport.Count == 0)
            throw new InvalidDataException(
                $"{source} is not an ONNX model: ir_version {model.IrVersion}, graph {(model.Graph is null ? "missing" : $"with {model.Graph.Node.Count} nodes")}, {model.OpsetImport.Count} opset imports.");
        if (model.Graph.Output.Count == 0)
            throw new InvalidDataException($"{source}: the ONNX graph declares no outputs.");
        return model;
    }

    /// <summary>The version of the default ("" or "ai.onnx") opset.</summary>
    public static long DefaultOpset(ModelProto model) =>
        model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
}
