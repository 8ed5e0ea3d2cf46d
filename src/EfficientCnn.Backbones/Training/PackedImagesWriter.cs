using System.Buffers.Binary;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Runtime;

namespace EfficientCnn.Backbones.Training;

/// <summary>Writes <see cref="PackedImages"/> files: chunks decoded in parallel, written in input order.</summary>
internal static class PackedImagesWriter
{
    // Images decoded per parallel round: large enough that a slow 8K wallpaper rarely leaves a core idle for long,
    // small enough (256 x 3 x 144² = 16 MB at 144 px) to keep memory flat.
    private const int ChunkSize = 256;

    public static PackedImagesWriteResult Write(string path, IEnumerable<string> imageFiles, int size, CancellationToken ct, Action<int, int>? progress)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(imageFiles);
        if (size < 8 || size > PackedImagesFormat.MaxSize)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"Image side must be in [8, {PackedImagesFormat.MaxSize}].");
        var files = imageFiles.ToArray();
        string fullOutput = System.IO.Path.GetFullPath(path);
        if (files.Any(f => string.Equals(System.IO.Path.GetFullPath(f), fullOutput, StringComparison.Ordinal)))
            throw new ArgumentException($"Output '{path}' is also one of the input images; choose another output file.", nameof(path));
        if (Directory.Exists(fullOutput)) throw new ArgumentException($"Output '{path}' is a folder; give a file name.", nameof(path));

        // Pixels in the spec's RGB order, shorter side to S then centre crop of S (crop fraction 1): no normalization.
        var preprocessor = new ImagePreprocessor(new PreprocessingSpec { Resolution = size, ResizeMode = ResizeMode.ShorterSideCenterCrop, CropFraction = 1f });
        int imageBytes = preprocessor.TensorLength;
        int threads = TorchRuntime.ThreadsFromEnvironment() ?? Environment.ProcessorCount;
        string temp = fullOutput + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        var written = new List<string>(files.Length);
        var skipped = new List<(string Path, string Error)>();
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(new byte[PackedImagesFormat.HeaderLength]); // rewritten once the count is known
                var buffer = new byte[Math.Min(ChunkSize, Math.Max(files.Length, 1)) * imageBytes];
                for (int start = 0; start < files.Length; start += ChunkSize)
                {
                    ct.ThrowIfCancellationRequested();
                    int n = Math.Min(ChunkSize, files.Length - start);
                    var errors = ImagePreprocessor.ForEachImage(n,
                        i => preprocessor.RenderBytes(ImageInput.FromFile(files[start + i]), buffer.AsSpan(i * imageBytes, imageBytes)), threads);
                    for (int i = 0; i < n; i++)
                    {
                        if (errors[i] is { } error)
                        {
                            skipped.Add((files[start + i], error.Message));
                            continue;
                        }
                        stream.Write(buffer, i * imageBytes, imageBytes);
                        written.Add(files[start + i]);
                    }
                    progress?.Invoke(start + n, files.Length);
                }
                long indexOffset = stream.Position;
                long indexLength = WriteIndex(stream, written);
                stream.Position = 0;
                var header = new byte[PackedImagesFormat.HeaderLength];
                PackedImagesFormat.WriteHeader(header, new PackedImagesFormat.Header(written.Count, size, indexOffset, indexLength));
                stream.Write(header);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullOutput, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        return new PackedImagesWriteResult(written.Count, skipped);
    }

    private static long WriteIndex(Stream stream, IReadOnlyList<string> paths)
    {
        long start = stream.Position;
        Span<byte> length = stackalloc byte[4];
        foreach (string p in paths)
        {
            var bytes = PackedImagesFormat.StrictUtf8.GetBytes(p);
            BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
            stream.Write(length);
            stream.Write(bytes);
        }
        return stream.Position - start;
    }
}
