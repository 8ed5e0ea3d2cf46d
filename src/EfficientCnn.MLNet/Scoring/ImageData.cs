using EfficientCnn.Backbones.Training;
using Microsoft.ML;

namespace EfficientCnn.MLNet.Scoring;

/// <summary>Input row of a saved model: the image file to classify.</summary>
public sealed class ImagePathRow
{
    /// <summary>Path of the image file.</summary>
    public string ImagePath { get; set; } = "";
}

/// <summary>Training row: an image file and its class name.</summary>
public sealed class LabeledImagePathRow
{
    /// <summary>Path of the image file.</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>Class name.</summary>
    public string Label { get; set; } = "";
}

/// <summary>Reads the <c>--data</c> of train/evaluate (a folder of class folders or a CSV) and turns it into ML.NET data views.</summary>
public static class ImageData
{
    /// <summary>
    /// Reads a folder of class folders, or a CSV <c>path,label[,split]</c>; with a split column only the rows of
    /// <paramref name="split"/> are kept (a CSV without one is used whole).
    /// </summary>
    /// <exception cref="ArgumentException">The path is a file that is not a CSV, or the selection holds no images.</exception>
    public static ImageDataset Load(string path, string? split, string option = "data")
    {
        ImageDataset data;
        if (File.Exists(path))
        {
            if (!path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"--{option} '{path}' is a file but not a .csv: give a folder of class folders or a CSV 'path,label[,split]'.", option);
            bool hasSplit = CsvTable.Read(path).Column("split") >= 0;
            data = ImageDataset.FromCsv(path, split: hasSplit ? split : null);
        }
        else if (Directory.Exists(path))
            data = ImageDataset.FromFolder(path);
        else
            throw new ArgumentException($"--{option} '{path}' is neither a folder of class folders nor a CSV file.", option);
        if (data.Count == 0)
            throw new ArgumentException($"--{option} '{path}' holds no images{(split is null ? "" : $" in split '{split}'")}.", option);
        return data;
    }

    /// <summary>The dataset as (ImagePath, Label) rows, labels as class names.</summary>
    public static IDataView ToDataView(MLContext ml, ImageDataset data) =>
        ml.Data.LoadFromEnumerable(data.Items.Select(i => new LabeledImagePathRow { ImagePath = PathOf(i), Label = data.Classes[i.Label] }).ToArray());

    /// <summary>Image paths as the input rows of a saved model.</summary>
    public static IDataView ToDataView(MLContext ml, IEnumerable<string> paths) =>
        ml.Data.LoadFromEnumerable(paths.Select(p => new ImagePathRow { ImagePath = p }).ToArray());

    /// <summary>The schema a saved model expects: one text column <c>ImagePath</c>.</summary>
    public static DataViewSchema InputSchema(MLContext ml) => ToDataView(ml, Array.Empty<string>()).Schema;

    /// <summary>The file of a dataset item (folders and CSVs always give files).</summary>
    public static string PathOf(LabeledImage item) =>
        item.Image.Path ?? throw new InvalidOperationException($"Image '{item.Image.Name}' is not a file.");
}
