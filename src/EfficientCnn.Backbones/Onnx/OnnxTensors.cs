using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Onnx;

/// <summary>Conversions between ONNX <see cref="TensorProto"/> and TorchSharp tensors, and attribute helpers.</summary>
public static class OnnxTensors
{
    /// <summary>ONNX TensorProto.DataType codes used here.</summary>
    public const int Float = 1, UInt8 = 2, Int8 = 3, Int32 = 6, Int64 = 7, Bool = 9, Float16 = 10, Double = 11;

    /// <summary>Copies a float32/int64 tensor (any device, any grad state) into a TensorProto named <paramref name="name"/>.</summary>
    public static TensorProto ToProto(Tensor tensor, string name)
    {
        using var scope = NewDisposeScope();
        var t = tensor.detach().cpu().contiguous();
        var proto = new TensorProto { Name = name };
        proto.Dims.AddRange(t.shape);
        if (t.dtype == ScalarType.Int64) proto.DataType = Int64;
        else
        {
            if (t.dtype != ScalarType.Float32) t = t.to_type(ScalarType.Float32);
            proto.DataType = Float;
        }
        // The tensor's storage as little-endian bytes, copied once (TensorAccessor.ToArray is far slower on large weights).
        proto.RawData = ByteString.CopyFrom(t.bytes);
        return proto;
    }

    /// <summary>Reads a TensorProto into a CPU tensor (float32 for floating types, int64 for integer types, bool).</summary>
    /// <exception cref="InvalidDataException">The data type is unsupported, the data is stored externally, or its length does not match the dims.</exception>
    public static Tensor ToTorch(TensorProto proto)
    {
        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
            throw new InvalidDataException($"Initializer '{proto.Name}' keeps its data in an external file, which the importer does not read; save the model with the weights inside.");
        long[] dims = proto.Dims.ToArray();
        long count = dims.Aggregate(1L, (a, b) => a * b);
        byte[] raw = proto.RawData.ToByteArray();
        Tensor result;
        switch (proto.DataType)
        {
            case Float:
                result = tensor(raw.Length > 0 ? MemoryMarshal.Cast<byte, float>(raw).ToArray() : proto.FloatData.ToArray(), dims);
                break;
            case Double:
                result = tensor((raw.Length > 0 ? MemoryMarshal.Cast<byte, double>(raw).ToArray() : proto.DoubleData.ToArray())
                    .Select(v => (float)v).ToArray(), dims);
                break;
            case Float16:
                result = tensor(raw.Length > 0
                    ? MemoryMarshal.Cast<byte, Half>(raw).ToArray().Select(v => (float)v).ToArray()
                    : proto.Int32Data.Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray(), dims);
                break;
            case Int64:
                result = tensor(raw.Length > 0 ? MemoryMarshal.Cast<byte, long>(raw).ToArray() : proto.Int64Data.ToArray(), dims);
                break;
            case Int32:
                result = tensor((raw.Length > 0 ? MemoryMarshal.Cast<byte, int>(raw).ToArray() : proto.Int32Data.ToArray())
                    .Select(v => (long)v).ToArray(), dims);
                break;
            case Int8:
            case UInt8:
                result = tensor((raw.Length > 0 ? raw.Select(b => proto.DataType == Int8 ? (long)(sbyte)b : b) : proto.Int32Data.Select(v => (long)v))
                    .ToArray(), dims);
                break;
            case Bool:
                result = tensor((raw.Length > 0 ? raw.Select(b => b != 0) : proto.Int32Data.Select(v => v != 0)).ToArray(), dims);
                break;
            default:
                throw new InvalidDataException($"Tensor '{proto.Name}' has ONNX data type {proto.DataType}, which the importer does not read (float, double, float16, int8/32/64, uint8, bool are read).");
        }
        if (result.numel() != count)
            throw new InvalidDataException($"Tensor '{proto.Name}' declares dims [{string.Join(",", dims)}] ({count} values) but holds {result.numel()}.");
        return result;
    }

    /// <summary>An INT attribute.</summary>
    public static AttributeProto Attr(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A FLOAT attribute.</summary>
    public static AttributeProto Attr(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A STRING attribute.</summary>
    public static AttributeProto Attr(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>An INTS attribute.</summary>
    public static AttributeProto Attr(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }
}
