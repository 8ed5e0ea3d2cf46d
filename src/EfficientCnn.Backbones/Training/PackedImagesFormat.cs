using System.Buffers.Binary;
using System.Text;

namespace EfficientCnn.Backbones.Training;

/// <summary>
/// Layout of a <see cref="PackedImages"/> file (little-endian):
/// <code>
/// offset  0  8 bytes  magic "ECNNPACK"
///         8  int32    format version (1)
///        12  int32    image count N
///        16  int32    image side S
///        20  int32    channels (3)
///        24  int64    pixel offset (64)
///        32  int64    index offset = 64 + N x 3 x S x S
///        40  int64    index length in bytes
///        48  16 bytes zero
///        64  N images of 3 x S x S bytes, CHW planar RGB
///  index     N entries: int32 byte length, UTF-8 original path
/// </code>
/// The file ends exactly at index offset + index length, so a truncated copy is detected when it is opened.
/// </summary>
internal static class PackedImagesFormat
{
    public static ReadOnlySpan<byte> Magic => "ECNNPACK"u8;
    public const int Version = 1;
    public const int Channels = 3;
    public const int HeaderLength = 64;
    public const int MaxSize = 4096;
    public static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The fixed header fields.</summary>
    public readonly record struct Header(int Count, int Size, long IndexOffset, long IndexLength)
    {
        public long ImageBytes => (long)Channels * Size * Size;
    }

    public static void WriteHeader(Span<byte> destination, Header header)
    {
        destination[..HeaderLength].Clear();
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], header.Count);
        BinaryPrimitives.WriteInt32LittleEndian(destination[16..], header.Size);
        BinaryPrimitives.WriteInt32LittleEndian(destination[20..], Channels);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], HeaderLength);
        BinaryPrimitives.WriteInt64LittleEndian(destination[32..], header.IndexOffset);
        BinaryPrimitives.WriteInt64LittleEndian(destination[40..], header.IndexLength);
    }

    /// <summary>Reads and checks the header against the file length; the message says what is wrong.</summary>
    public static Header ReadHeader(ReadOnlySpan<byte> source, long fileLength, string path)
    {
        if (fileLength < HeaderLength || !source[..Magic.Length].SequenceEqual(Magic))
            throw Invalid(path, $"no '{Encoding.ASCII.GetString(Magic)}' header ({fileLength} bytes)");
        int version = BinaryPrimitives.ReadInt32LittleEndian(source[8..]);
        if (version != Version) throw Invalid(path, $"format version {version}, this library reads version {Version}");
        int count = BinaryPrimitives.ReadInt32LittleEndian(source[12..]);
        int size = BinaryPrimitives.ReadInt32LittleEndian(source[16..]);
        int channels = BinaryPrimitives.ReadInt32LittleEndian(source[20..]);
        long pixelOffset = BinaryPrimitives.ReadInt64LittleEndian(source[24..]);
        long indexOffset = BinaryPrimitives.ReadInt64LittleEndian(source[32..]);
        long indexLength = BinaryPrimitives.ReadInt64LittleEndian(source[40..]);
        if (count < 0 || size < 1 || size > MaxSize || channels != Channels || pixelOffset != HeaderLength)
            throw Invalid(path, $"bad header (count {count}, size {size}, channels {channels}, pixel offset {pixelOffset})");
        var header = new Header(count, size, indexOffset, indexLength);
        if (indexOffset != HeaderLength + count * header.ImageBytes || indexLength < 4L * count)
            throw Invalid(path, $"header says {count} images of {size}x{size} but the index starts at byte {indexOffset}");
        if (indexOffset + indexLength != fileLength)
            throw Invalid(path, $"the file holds {fileLength} bytes, its header needs {indexOffset + indexLength} (truncated or corrupt)");
        return header;
    }

    public static InvalidDataException Invalid(string path, string reason) =>
        new($"Packed image file '{path}' is not usable: {reason}.");
}
