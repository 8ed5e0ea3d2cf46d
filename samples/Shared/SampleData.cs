using Microsoft.ML;

namespace EfficientCnn.Samples;

/// <summary>One image of samples/data/clipart4/split.csv.</summary>
public sealed class ImageRow
{
    /// <summary>Image file path.</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>Class name.</summary>
    public string Label { get; set; } = "";
}

/// <summary>Finds the bundled sample data and loads its train/test splits as IDataViews.</summary>
public static class SampleData
{
    /// <summary>samples/data/clipart4 (or the folder given as first argument).</summary>
    public static string Folder(string[] args)
    {
        if (args.Length > 0 && Directory.Exists(args[0])) return Path.GetFullPath(args[0]);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "samples", "data", "clipart4");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("samples/data/clipart4 not found: pass the data folder as the first argument.");
    }

    /// <summary>The rows of split.csv whose split column equals <paramref name="split"/>, with absolute image paths.</summary>
    public static IDataView Load(MLContext ml, string folder, string split) =>
        ml.Data.LoadFromEnumerable(File.ReadLines(Path.Combine(folder, "split.csv")).Skip(1)
            .Select(line => line.Split(','))
            .Where(f => f.Length == 3 && f[2].Trim() == split)
            .Select(f => new ImageRow { ImagePath = Path.Combine(folder, f[0]), Label = f[1] })
            .ToList());
}
