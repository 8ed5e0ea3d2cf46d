using EfficientCnn.Backbones.Training;

namespace EfficientCnn.Bench;

/// <summary>An image path with its class (the parent folder name).</summary>
internal sealed class ImageRow
{
    public string ImagePath { get; set; } = "";

    public string Label { get; set; } = "";
}

/// <summary>Picks the benchmark images: the same files, in the same order, for every variant.</summary>
internal static class Images
{
    /// <summary>
    /// <paramref name="count"/> images spread evenly over the sorted files under <paramref name="dir"/> (any depth), so
    /// every class folder and image size is represented; fewer when the folder holds fewer.
    /// </summary>
    public static ImageRow[] Pick(string dir, int count)
    {
        if (!Directory.Exists(dir)) throw new ArgumentException($"image folder '{dir}' does not exist.", "images");
        var files = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Where(f => ImageDataset.ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new ArgumentException($"'{dir}' holds no images.", "images");
        int n = Math.Min(count, files.Length);
        return Enumerable.Range(0, n).Select(i => files[(int)((long)i * files.Length / n)])
            .Select(f => new ImageRow { ImagePath = Path.GetFullPath(f), Label = Path.GetFileName(Path.GetDirectoryName(f))! }).ToArray();
    }
}
