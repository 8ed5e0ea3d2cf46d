using EfficientCnn.Backbones.Registry;
using EfficientCnn.MLNet;
using Microsoft.ML;
using static EfficientCnn.Bench.Measure;

namespace EfficientCnn.Bench;

/// <summary>
/// Our <c>FeaturizeImages</c> (MobileNetV2-1.0, batched ONNX Runtime) versus ML.NET's <c>DnnFeaturizeImage</c> ResNet18
/// on the same images, each in its own process; both read the files from disk (decoding and resizing included).
/// </summary>
internal static class FeaturizeBench
{
    private const string Ours = "ours", ResNet18 = "resnet18";
    private const string Backbone = "mobilenet_v2_1.0";
    private const int WarmupImages = 8;

    public static int Run(BenchArgs a)
    {
        string images = a.Required("images"), count = a.Int("count", 200).ToString(), resolution = a.Int("resolution", 224).ToString();
        var results = new List<Result>();
        // Alternate the variants so a burst of load from other processes hits both alike.
        for (int round = 0; round < a.Int("rounds", 2); round++)
            foreach (var variant in new[] { ResNet18, Ours })
            {
                var r = InChild("featurize-child", "--variant", variant, "--images", images, "--count", count, "--resolution", resolution);
                Console.WriteLine($"round {round + 1} {r.Variant}: {F(r.ImagesPerSecond)} img/s, peak {F(r.PeakWorkingSetMb, 0)} MB");
                results.Add(r);
            }
        double ours = Median(results.Where(r => r.Variant == Ours).Select(r => r.ImagesPerSecond));
        double theirs = Median(results.Where(r => r.Variant == ResNet18).Select(r => r.ImagesPerSecond));
        Table.Print($"Featurizer, {results[0].Images} images from {images}, {resolution} px (median of {results.Count / 2} rounds)",
            ["variant", "images/s", "ms/image", "setup s", "peak working set MB"],
            new[] { (ResNet18, $"ML.NET DnnFeaturizeImage ResNet18 (LoadImages, ResizeImages, ExtractPixels)", theirs), (Ours, $"FeaturizeImages {Backbone}, batch 32", ours) }
                .Select(v => new[]
                {
                    v.Item2, F(v.Item3), F(1000 / v.Item3), F(Median(results.Where(r => r.Variant == v.Item1).Select(r => r.SetupSeconds))),
                    F(results.Where(r => r.Variant == v.Item1).Max(r => r.PeakWorkingSetMb), 0),
                }));
        Console.WriteLine($"ratio ours / ResNet18: {F(ours / theirs, 2)}x (target >= 5x)");
        return 0;
    }

    public static int Child(BenchArgs a)
    {
        var rows = Images.Pick(a.Required("images"), a.Int("count", 200));
        int resolution = a.Int("resolution", 224);
        string variant = a.Required("variant");
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var setup = System.Diagnostics.Stopwatch.StartNew();
        ITransformer model = variant switch
        {
            Ours => ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions { Backbone = BackboneSource.Resolve(Backbone), Resolution = resolution }).Fit(data),
            ResNet18 => ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(ImageRow.ImagePath))
                .Append(ml.Transforms.ResizeImages("Image", resolution, resolution))
                // As ML.NET's DnnFeaturizeImage sample: raw 0-255 planes; the package's ResNetPreprocess.onnx subtracts the mean image.
                .Append(ml.Transforms.ExtractPixels("Pixels", "Image", interleavePixelColors: false))
                .Append(ml.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Pixels"))
                .Fit(data),
            _ => throw new ArgumentException($"unknown variant '{variant}'.", "variant"),
        };
        Drain(model.Transform(ml.Data.TakeRows(data, WarmupImages)), "Features"); // sessions created, code jitted
        double setupSeconds = setup.Elapsed.TotalSeconds;
        int n = 0;
        double seconds = Seconds(() => n = Drain(model.Transform(data), "Features"));
        new Result(variant, n, seconds, setupSeconds, 0).Emit();
        return 0;
    }
}
