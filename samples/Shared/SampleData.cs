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

    /// <summary>
    /// The rows of split.csv whose split column equals <paramref name="split"/>, with absolute image paths. The CSV is read
    /// by ML.NET's text loader (header, RFC 4180 quoting: a quoted path may hold commas or quotes).
    /// </summary>
    public static IDataView Load(MLContext ml, string folder, string split)
    {
        var csv = ml.Data.LoadFromTextFile<SplitRow>(Path.Combine(folder, "split.csv"), separatorChar: ',', hasHeader: true, allowQuoting: true);
        return ml.Data.LoadFromEnumerable(ml.Data.CreateEnumerable<SplitRow>(csv, reuseRowObject: false)
            .Where(r => r.Split.Trim() == split)
            .Select(r => new ImageRow { ImagePath = Path.Combine(folder, r.Path), Label = r.Label })
            .ToList());
    }

    /// <summary>One line of split.csv: path,label,split.</summary>
    public sealed class SplitRow
    {
        [Microsoft.ML.Data.LoadColumn(0)] public string Path { get; set; } = "";
        [Microsoft.ML.Data.LoadColumn(1)] public string Label { get; set; } = "";
        [Microsoft.ML.Data.LoadColumn(2)] public string Split { get; set; } = "";
    }
}
