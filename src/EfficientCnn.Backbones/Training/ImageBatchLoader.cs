using System.Collections.Concurrent;
using EfficientCnn.Backbones.Imaging;

namespace EfficientCnn.Backbones.Training;

/// <summary>What to do with an image that cannot be read or decoded.</summary>
public enum BadImagePolicy
{
    /// <summary>Stop with an <see cref="InvalidDataException"/> naming the image and its row.</summary>
    Throw,

    /// <summary>Leave the image out and record it in a <see cref="BadImageReport"/>.</summary>
    Skip,
}

/// <summary>One image that was left out, and why.</summary>
/// <param name="Row">Index of the item in its dataset.</param>
/// <param name="Image">The image's name (its path).</param>
/// <param name="Reason">The decoder's message.</param>
public sealed record BadImage(int Row, string Image, string Reason);

/// <summary>The images skipped under <see cref="BadImagePolicy.Skip"/>, each recorded once. Thread-safe.</summary>
public sealed class BadImageReport
{
    private readonly ConcurrentDictionary<string, BadImage> entries = new();

    /// <summary>Skipped images ordered by row.</summary>
    public IReadOnlyList<BadImage> Images => entries.Values.OrderBy(b => b.Row).ToArray();

    /// <summary>Number of distinct images skipped.</summary>
    public int Count => entries.Count;

    /// <summary>Records a skipped image (once per row and name).</summary>
    public void Add(BadImage bad) => entries.TryAdd(bad.Image + "#" + bad.Row, bad);
}

/// <summary>A preprocessed batch: <see cref="Count"/> images as [Count, 3, R, R] floats with their labels.</summary>
public sealed class ImageBatch
{
    internal ImageBatch(float[] pixels, long[] labels, int[] rows, int count)
    {
        Pixels = pixels;
        Labels = labels;
        Rows = rows;
        Count = count;
    }

    /// <summary>Preprocessed images, image i at offset i x 3 x R x R.</summary>
    public float[] Pixels { get; }

    /// <summary>Class index per image.</summary>
    public long[] Labels { get; }

    /// <summary>Dataset row of each image.</summary>
    public int[] Rows { get; }

    /// <summary>Images in the batch (bad images skipped make it smaller than the batch size).</summary>
    public int Count { get; }
}

/// <summary>
/// Streams a dataset as preprocessed batches: each batch is decoded in parallel (training batches with random
/// augmentation drawn per sample from (seed, epoch, row), so results do not depend on thread timing), and the next
/// batch is prepared while the caller trains on the current one. Memory holds at most two batches, whatever the size
/// of the dataset.
/// </summary>
public sealed class ImageBatchLoader
{
    private readonly ImagePreprocessor preprocessor;

    /// <summary>Creates a loader.</summary>
    /// <param name="preprocessing">The evaluation preprocessing (resolution, normalization); training adds augmentation.</param>
    /// <param name="batchSize">Images per batch.</param>
    /// <param name="policy">What to do with unreadable images.</param>
    /// <param name="maxDegreeOfParallelism">Decoding threads; -1 uses all cores.</param>
    public ImageBatchLoader(PreprocessingSpec preprocessing, int batchSize, BadImagePolicy policy = BadImagePolicy.Throw, int maxDegreeOfParallelism = -1)
    {
        if (batchSize < 1) throw new ArgumentException($"Batch size must be at least 1, got {batchSize}.", nameof(batchSize));
        preprocessor = new ImagePreprocessor(preprocessing);
        BatchSize = batchSize;
        Policy = policy;
        MaxDegreeOfParallelism = maxDegreeOfParallelism;
    }

    /// <summary>Images per batch.</summary>
    public int BatchSize { get; }

    /// <summary>What happens to unreadable images.</summary>
    public BadImagePolicy Policy { get; }

    /// <summary>Decoding threads (-1: all cores).</summary>
    public int MaxDegreeOfParallelism { get; }

    /// <summary>Images skipped so far.</summary>
    public BadImageReport BadImages { get; } = new();

    /// <summary>Floats per image.</summary>
    public int TensorLength => preprocessor.TensorLength;

    /// <summary>
    /// Batches of <paramref name="data"/> in the order of <paramref name="rows"/> (all rows in order when null). With
    /// <paramref name="augmentation"/> the training transform is used (seeded by <paramref name="seed"/> and
    /// <paramref name="epoch"/>), otherwise the deterministic evaluation transform.
    /// </summary>
    public IEnumerable<ImageBatch> Batches(ImageDataset data, IReadOnlyList<int>? rows = null, ImageAugmentation? augmentation = null,
        int seed = 0, int epoch = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        rows ??= Enumerable.Range(0, data.Count).ToArray();
        augmentation?.Validate();
        int batches = (rows.Count + BatchSize - 1) / BatchSize;
        Task<ImageBatch>? next = batches > 0 ? Prepare(0) : null;
        for (int b = 0; b < batches; b++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var current = next!.GetAwaiter().GetResult();
            next = b + 1 < batches ? Prepare(b + 1) : null;
            if (current.Count > 0) yield return current;
        }

        Task<ImageBatch> Prepare(int b) => Task.Run(() => Load(data, rows.Skip(b * BatchSize).Take(BatchSize).ToArray(), augmentation, seed, epoch), cancellationToken);
    }

    /// <summary>Preprocesses the given rows now (parallel decode), skipping or throwing on bad images per <see cref="Policy"/>.</summary>
    public ImageBatch Load(ImageDataset data, IReadOnlyList<int> rows, ImageAugmentation? augmentation = null, int seed = 0, int epoch = 0)
    {
        int len = TensorLength;
        var pixels = new float[rows.Count * len];
        var errors = ImagePreprocessor.ForEachImage(rows.Count, i =>
        {
            var item = data.Items[rows[i]];
            var slot = pixels.AsSpan(i * len, len);
            if (augmentation is null) preprocessor.Preprocess(item.Image, slot);
            else preprocessor.PreprocessForTraining(item.Image, slot, augmentation, ImageAugmentation.CreateRandom(seed, epoch, rows[i]));
        }, MaxDegreeOfParallelism);
        for (int i = 0; i < rows.Count; i++)
        {
            if (errors[i] is not { } error) continue;
            string name = data.Items[rows[i]].Image.Name;
            if (Policy == BadImagePolicy.Throw)
                throw new InvalidDataException($"{data.Source}: image '{name}' (row {rows[i]}) cannot be used: {error.Message}", error);
            BadImages.Add(new BadImage(rows[i], name, error.Message));
        }
        var ok = errors.Select(e => e is null).ToArray();
        return Compact(data, rows, pixels, ok, len);
    }

    private static ImageBatch Compact(ImageDataset data, IReadOnlyList<int> rows, float[] pixels, bool[] ok, int len)
    {
        int count = ok.Count(x => x);
        var labels = new long[count];
        var kept = new int[count];
        int k = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            if (!ok[i]) continue;
            if (k != i) Array.Copy(pixels, i * len, pixels, k * len, len);
            labels[k] = data.Items[rows[i]].Label;
            kept[k++] = rows[i];
        }
        return new ImageBatch(pixels, labels, kept, count);
    }
}
