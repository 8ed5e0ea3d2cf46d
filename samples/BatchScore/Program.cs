// Batch scoring: every image of a folder -> predictions.csv, streaming (decode in parallel, network in batches).
//   dotnet run --project samples/BatchScore -c Release -- model.zip IMAGE_FOLDER [predictions.csv]
using System.Diagnostics;
using System.Globalization;
using EfficientCnn.Samples;
using Microsoft.ML;

if (args.Length < 2) { Console.Error.WriteLine("usage: BatchScore model.zip IMAGE_FOLDER [predictions.csv]"); return 2; }
var ml = new MLContext();
var model = ml.Model.Load(args[0], out _);
var images = Directory.EnumerateFiles(args[1], "*.*", SearchOption.AllDirectories)
    .Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase))
    .Select(f => new ImageRow { ImagePath = f }).ToList();
var watch = Stopwatch.StartNew();
var scored = model.Transform(ml.Data.LoadFromEnumerable(images));
string output = args.Length > 2 ? args[2] : "predictions.csv";
using (var csv = new StreamWriter(output))
{
    csv.WriteLine("path,predictedLabel,score");
    foreach (var row in ml.Data.CreateEnumerable<Prediction>(scored, reuseRowObject: true))
        csv.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{row.ImagePath},{row.PredictedLabel},{row.Score.Max():F4}"));
}
Console.WriteLine($"{images.Count} images scored in {watch.Elapsed.TotalSeconds:F1} s ({images.Count / watch.Elapsed.TotalSeconds:F0} img/s) -> {output}");
return 0;

/// <summary>A scored row.</summary>
public sealed class Prediction
{
    /// <summary>Image path.</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>Class name.</summary>
    public string PredictedLabel { get; set; } = "";

    /// <summary>Class probabilities.</summary>
    public float[] Score { get; set; } = [];
}
