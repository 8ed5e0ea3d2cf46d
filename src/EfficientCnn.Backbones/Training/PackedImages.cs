using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

/// <summary>
/// A file of N square RGB images, S×S uint8, decoded once (header + raw pixels), read by memory mapping: training on
/// it spends the cores on the network instead of PNG/JPEG decoders. Layout: <see cref="PackedImagesFormat"/>; written
/// by <see cref="Write"/> (or <c>efficientcnn pack</c>). Reads are thread-safe.
/// </summary>
public sealed unsafe class PackedImages : IDisposable
{
    private readonly MemoryMappedFile map;
    private readonly MemoryMappedViewAccessor view;
    private readonly byte* pixels;
    private readonly string[] sources;
    private readonly long imageBytes;
    private bool disposed;

    private PackedImages(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* start, PackedImagesFormat.Header header, string[] sources)
    {
        Path = path;
        this.map = map;
        this.view = view;
        pixels = start + PackedImagesFormat.HeaderLength;
        Count = header.Count;
        Size = header.Size;
        imageBytes = header.ImageBytes;
        this.sources = sources;
    }

    /// <summary>Number of images.</summary>
    public int Count { get; }

    /// <summary>Side S of every (square) image.</summary>
    public int Size { get; }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Bytes per image: 3 × S × S.</summary>
    public int ImageBytes => (int)imageBytes;

    /// <summary>
    /// Opens a packed file, checking its magic, version, header and length against each other and its index of original
    /// paths; an <see cref="InvalidDataException"/> naming the file says what is wrong.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Not a packed image file, another version, truncated or corrupt.</exception>
    public static PackedImages Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Packed image file '{path}' does not exist.", path);
        long length = new FileInfo(path).Length;
        if (length < PackedImagesFormat.HeaderLength)
            throw PackedImagesFormat.Invalid(path, $"{length} bytes is shorter than the {PackedImagesFormat.HeaderLength}-byte header");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            acquired = true;
            start += view.PointerOffset;
            var header = PackedImagesFormat.ReadHeader(new ReadOnlySpan<byte>(start, PackedImagesFormat.HeaderLength), length, path);
            var sources = ReadIndex(new ReadOnlySpan<byte>(start + header.IndexOffset, checked((int)header.IndexLength)), header.Count, path);
            return new PackedImages(path, map, view, start, header, sources);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>Copies image <paramref name="index"/> as CHW planar RGB (3 × S × S bytes) into <paramref name="destination"/>.</summary>
    public void CopyTo(int index, Span<byte> destination)
    {
        CheckIndex(index);
        if (destination.Length < imageBytes)
            throw new ArgumentException($"Destination holds {destination.Length} bytes; one {Size}x{Size} image needs {imageBytes}.", nameof(destination));
        new ReadOnlySpan<byte>(pixels + index * imageBytes, (int)imageBytes).CopyTo(destination);
    }

    /// <summary>
    /// The images at <paramref name="indices"/> as a new uint8 tensor [B, 3, S, S] (CHW) on the CPU; the caller disposes
    /// it (or lets a dispose scope do so).
    /// </summary>
    public Tensor Batch(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        foreach (int i in indices) CheckIndex(i);
        var batch = empty([indices.Count, PackedImagesFormat.Channels, Size, Size], dtype: ScalarType.Byte);
        // Straight into the tensor's storage: one memcpy per image, no managed staging array.
        var target = batch.bytes;
        for (int b = 0; b < indices.Count; b++)
            new ReadOnlySpan<byte>(pixels + indices[b] * imageBytes, (int)imageBytes).CopyTo(target.Slice((int)(b * imageBytes), (int)imageBytes));
        return batch;
    }

    /// <summary>The path image <paramref name="index"/> was decoded from, as given to <see cref="Write"/>.</summary>
    public string? SourceOf(int index)
    {
        CheckIndex(index);
        return sources[index];
    }

    /// <summary>
    /// Decodes <paramref name="imageFiles"/> (in parallel, up to <c>$EFFICIENTCNN_THREADS</c> or all cores) with the
    /// project's evaluation decode (<see cref="Imaging.ImagePreprocessor.RenderBytes"/>: alpha dropped, shorter side
    /// resized to <paramref name="size"/> with SkiaSharp's high-quality filter, centre crop) and writes them, in the
    /// order given, to <paramref name="path"/> through a temporary file renamed at the end. Unreadable images are
    /// left out and reported; an existing file at <paramref name="path"/> is replaced only on success.
    /// </summary>
    /// <param name="path">The packed file to create.</param>
    /// <param name="imageFiles">Image files (PNG, JPEG, WebP, BMP, GIF).</param>
    /// <param name="size">Side S of the square images, 8 to 4096.</param>
    /// <param name="ct">Stops between chunks of images; the temporary file is removed.</param>
    /// <param name="progress">Called with (images processed, total) after each chunk, on the calling thread.</param>
    public static PackedImagesWriteResult Write(string path, IEnumerable<string> imageFiles, int size, CancellationToken ct = default,
        Action<int, int>? progress = null) => PackedImagesWriter.Write(path, imageFiles, size, ct, progress);

    /// <summary>Unmaps the file.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        map.Dispose();
    }

    private void CheckIndex(int index)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"'{Path}' holds {Count} images.");
    }

    private static string[] ReadIndex(ReadOnlySpan<byte> index, int count, string path)
    {
        var sources = new string[count];
        int at = 0;
        for (int i = 0; i < count; i++)
        {
            if (index.Length - at < 4) throw PackedImagesFormat.Invalid(path, $"the index ends before entry {i} of {count}");
            int length = BinaryPrimitives.ReadInt32LittleEndian(index[at..]);
            at += 4;
            if (length < 0 || length > index.Length - at) throw PackedImagesFormat.Invalid(path, $"index entry {i} has a bad length {length}");
            try
            {
                sources[i] = PackedImagesFormat.StrictUtf8.GetString(index.Slice(at, length));
            }
            catch (ArgumentException e)
            {
                throw PackedImagesFormat.Invalid(path, $"index entry {i} is not UTF-8 ({e.Message})");
            }
            at += length;
        }
        if (at != index.Length) throw PackedImagesFormat.Invalid(path, $"{index.Length - at} bytes follow the last index entry");
        return sources;
    }
}

/// <summary>What <see cref="PackedImages.Write"/> did.</summary>
/// <param name="Written">Images in the file.</param>
/// <param name="Skipped">Images left out (missing, unreadable, corrupt, unsupported) and the decoder's message.</param>
public sealed record PackedImagesWriteResult(int Written, IReadOnlyList<(string Path, string Error)> Skipped);
