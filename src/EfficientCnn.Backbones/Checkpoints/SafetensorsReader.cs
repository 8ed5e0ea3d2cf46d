using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Checkpoints;

/// <summary>
/// Reads the safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
/// length N, N bytes of UTF-8 JSON <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}</c>,
/// then the raw little-endian tensor bytes, offsets relative to the end of the header.
/// Every size and offset is checked against the file before a byte is copied into a tensor, so a damaged file
/// is an <see cref="InvalidDataException"/>, never a native crash. (PyBridge's reader trusts the header.)
/// </summary>
internal static class SafetensorsReader
{
    /// <summary>The header is JSON of a few KB per thousand tensors; anything past this is not a safetensors file.</summary>
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>True when the first bytes look like a safetensors header: a sane length followed by '{'.</summary>
    internal static bool LooksLikeSafetensors(ReadOnlySpan<byte> head, long fileLength) =>
        head.Length >= 9 && BinaryPrimitives.ReadUInt64LittleEndian(head) is var n && n >= 2 && n <= (ulong)MaxHeaderBytes
        && (long)n + 8 <= fileLength && head[8] == (byte)'{';

    /// <summary>Reads every tensor of <paramref name="path"/> (caller disposes them).</summary>
    internal static Dictionary<string, Tensor> Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long fileLength = stream.Length;
        Span<byte> lenBytes = stackalloc byte[8];
        stream.ReadExactly(lenBytes);
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLen > (ulong)MaxHeaderBytes || (long)headerLen + 8 > fileLength)
            throw new InvalidDataException($"safetensors header length {headerLen} does not fit the file size {fileLength} bytes (file truncated or not safetensors).");
        var headerBytes = new byte[headerLen];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLen;
        long dataLength = fileLength - dataStart;

        var entries = ParseHeader(headerBytes, dataLength);
        var result = new Dictionary<string, Tensor>(entries.Count);
        try
        {
            foreach (var (name, dtype, shape, begin, end) in entries)
            {
                var tensor = torch.empty(shape, dtype);
                result.Add(name, tensor);
                if (end == begin) continue;
                var buffer = new byte[end - begin];
                stream.Position = dataStart + begin;
                stream.ReadExactly(buffer);
                buffer.AsSpan().CopyTo(tensor.bytes);
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    private static List<(string Name, ScalarType Dtype, long[] Shape, long Begin, long End)> ParseHeader(byte[] headerBytes, long dataLength)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(headerBytes); }
        catch (JsonException e) { throw new InvalidDataException($"safetensors header is not valid JSON: {e.Message}", e); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException("safetensors header is not a JSON object.");

        var entries = new List<(string, ScalarType, long[], long, long)>();
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__") continue; // free-form string map (format, framework, ...)
            var e = prop.Value;
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("dtype", out var dt) || !e.TryGetProperty("shape", out var sh)
                || !e.TryGetProperty("data_offsets", out var off) || sh.ValueKind != JsonValueKind.Array || off.ValueKind != JsonValueKind.Array
                || off.GetArrayLength() != 2)
                throw new InvalidDataException($"safetensors entry '{prop.Name}' lacks dtype, shape or a [begin, end] data_offsets pair.");
            var (dtype, elemSize) = ParseDtype(dt.GetString(), prop.Name);
            var shape = sh.EnumerateArray().Select(d => d.TryGetInt64(out var v) && v >= 0 ? v
                : throw new InvalidDataException($"safetensors entry '{prop.Name}' has an invalid dimension {d}.")).ToArray();
            long begin = off[0].TryGetInt64(out var b) ? b : -1, end = off[1].TryGetInt64(out var en) ? en : -1;
            long numel = 1;
            foreach (var d in shape) numel = checked(numel * d);
            long expected = checked(numel * elemSize);
            if (begin < 0 || end < begin || end > dataLength)
                throw new InvalidDataException(
                    $"safetensors entry '{prop.Name}' has data_offsets [{begin}, {end}] outside the {dataLength}-byte data section (file truncated?).");
            if (end - begin != expected)
                throw new InvalidDataException(
                    $"safetensors entry '{prop.Name}' ({dt.GetString()} {CheckpointLoadReport.FormatShape(shape)}) needs {expected} bytes but its data_offsets span {end - begin}.");
            if (expected > Array.MaxLength)
                throw new NotSupportedException($"safetensors entry '{prop.Name}' is {expected} bytes; tensors over 2 GB are not supported.");
            entries.Add((prop.Name, dtype, shape, begin, end));
        }
        return entries;
    }

    private static (ScalarType, int) ParseDtype(string? dtype, string name) => dtype switch
    {
        "F64" => (ScalarType.Float64, 8),
        "F32" => (ScalarType.Float32, 4),
        "F16" => (ScalarType.Float16, 2),
        "BF16" => (ScalarType.BFloat16, 2),
        "I64" => (ScalarType.Int64, 8),
        "I32" => (ScalarType.Int32, 4),
        "I16" => (ScalarType.Int16, 2),
        "I8" => (ScalarType.Int8, 1),
        "U8" => (ScalarType.Byte, 1),
        "BOOL" => (ScalarType.Bool, 1),
        _ => throw new InvalidDataException($"safetensors entry '{name}' has unsupported dtype '{dtype}' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)."),
    };
}
