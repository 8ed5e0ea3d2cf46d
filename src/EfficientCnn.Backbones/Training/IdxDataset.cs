using System.Buffers.Binary;
using System.IO.Compression;
using EfficientCnn.Backbones.Imaging;

namespace EfficientCnn.Backbones.Training;

/// <summary>
/// Reads the IDX format of MNIST and Fashion-MNIST (LeCun et al.): big-endian magic <c>0x0000080N</c> (unsigned bytes,
/// N dimensions), N big-endian int32 sizes, then the data. Images ([count, rows, cols] grey) and labels ([count]) come in
/// separate files, optionally gzip-compressed (.gz).
/// </summary>
public static class IdxDataset
{
    /// <summary>Fashion-MNIST's class names in label order (Xiao et al. 2017).</summary>
    public static IReadOnlyList<string> FashionMnistClasses { get; } =
        ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"];

    /// <summary>
    /// Loads an image file and a label file into an <see cref="ImageDataset"/> of in-memory grey images (as RGBA pixels).
    /// </summary>
    /// <param name="imagesPath">IDX file of [count, rows, cols] unsigned bytes (.gz allowed).</param>
    /// <param name="labelsPath">IDX file of [count] unsigned bytes (.gz allowed).</param>
    /// <param name="classes">Class names (default "0".."max label").</param>
    /// <param name="limit">Read at most this many examples (null: all).</param>
    /// <exception cref="InvalidDataException">Wrong magic number, truncated data, counts that differ or a label outside the classes; the file is named.</exception>
    public static ImageDataset Load(string imagesPath, string labelsPath, IReadOnlyList<string>? classes = null, int? limit = null)
    {
        var (imageDims, pixels) = Read(imagesPath, expectedRank: 3);
        var (labelDims, labels) = Read(labelsPath, expectedRank: 1);
        if (imageDims[0] != labelDims[0])
            throw new InvalidDataException($"IDX files disagree: '{imagesPath}' holds {imageDims[0]} images, '{labelsPath}' {labelDims[0]} labels.");
        int count = Math.Min(imageDims[0], limit ?? int.MaxValue), rows = imageDims[1], cols = imageDims[2];
        int maxLabel = labels.Take(count).DefaultIfEmpty((byte)0).Max();
        classes ??= Enumerable.Range(0, maxLabel + 1).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (maxLabel >= classes.Count)
            throw new InvalidDataException($"IDX labels '{labelsPath}' hold label {maxLabel}, beyond the {classes.Count} class names given.");
        var items = new LabeledImage[count];
        int plane = rows * cols;
        for (int i = 0; i < count; i++)
        {
            var rgba = new byte[plane * 4];
            for (int p = 0; p < plane; p++)
            {
                byte v = pixels[i * plane + p];
                rgba[p * 4] = rgba[p * 4 + 1] = rgba[p * 4 + 2] = v;
                rgba[p * 4 + 3] = 255;
            }
            items[i] = new LabeledImage(ImageInput.FromPixels(rgba, cols, rows, $"{imagesPath}#{i}"), labels[i]);
        }
        return new ImageDataset(classes, items, imagesPath);
    }

    /// <summary>Reads one IDX file of unsigned bytes: its dimensions and data.</summary>
    /// <exception cref="InvalidDataException">Wrong magic, other rank than <paramref name="expectedRank"/>, or truncated data.</exception>
    public static (int[] Dims, byte[] Data) Read(string path, int expectedRank)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        Span<byte> header = stackalloc byte[4];
        try
        {
            ReadExactly(stream, header, path, "magic number");
            if (header[0] != 0 || header[1] != 0 || header[2] != 0x08)
                throw new InvalidDataException($"'{path}' is not an IDX file of unsigned bytes: magic 0x{Convert.ToHexString(header)} (expected 0x000008{expectedRank:X2}).");
            if (header[3] != expectedRank)
                throw new InvalidDataException($"'{path}' has {header[3]} dimensions; expected {expectedRank} ({(expectedRank == 3 ? "images" : "labels")}).");
            var dims = new int[expectedRank];
            for (int d = 0; d < expectedRank; d++)
            {
                ReadExactly(stream, header, path, $"size of dimension {d}");
                dims[d] = BinaryPrimitives.ReadInt32BigEndian(header);
                if (dims[d] < 0) throw new InvalidDataException($"'{path}': negative size {dims[d]} for dimension {d}.");
            }
            long total = dims.Aggregate(1L, (a, b) => a * b);
            if (total > int.MaxValue) throw new InvalidDataException($"'{path}': {total} bytes of data is more than this reader supports.");
            var data = new byte[total];
            ReadExactly(stream, data, path, $"{total} data bytes");
            return (dims, data);
        }
        catch (InvalidDataException e) when (e.InnerException is null && e.Message.Contains("gzip", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"'{path}' is not valid gzip data: {e.Message}", e);
        }
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string path, string what)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = stream.Read(buffer[read..]);
            if (n == 0) throw new InvalidDataException($"'{path}' is truncated: it ends after {read} of the {buffer.Length} bytes of its {what}.");
            read += n;
        }
    }
}
