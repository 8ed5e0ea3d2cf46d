using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static EfficientCnn.Bench.Measure;

namespace EfficientCnn.Bench;

/// <summary>
/// One ONNX classifier (MobileNetV2-1.0, 10 classes, 224 px) scored by our batched <c>ScoreImagesWithOnnx</c> and by
/// ML.NET's <c>ApplyOnnxModel</c> (row by row, as it always runs) after LoadImages/ResizeImages/ExtractPixels, both as
/// an IDataView and through a PredictionEngine. Each variant runs in its own process.
/// </summary>
internal static class ScoreBench
{
    private const string Ours = "ours", MlNetDataView = "mlnet-dataview", MlNetEngine = "mlnet-engine";
    private const int Resolution = 224, WarmupImages = 8;

    private static readonly Dictionary<string, string> Descriptions = new()
    {
        [MlNetDataView] = "ML.NET ApplyOnnxModel, IDataView (LoadImages, ResizeImages, ExtractPixels)",
        [MlNetEngine] = "ML.NET ApplyOnnxModel, PredictionEngine per image",
        [Ours] = "ScoreImagesWithOnnx, batch 32, parallel decode",
    };

    public static int Run(BenchArgs a)
    {
        string images = a.Required("images"), count = a.Int("count", 200).ToString();
        string onnx = Path.Combine(Path.GetTempPath(), $"ecnn-bench-{Environment.ProcessId}-mobilenet_v2_1.0.onnx");
        ExportClassifier(onnx);
        var results = new List<Result>();
        try
        {
            for (int round = 0; round < a.Int("rounds", 2); round++)
                foreach (var variant in new[] { MlNetDataView, MlNetEngine, Ours })
                {
                    var r = InChild("score-child", "--variant", variant, "--images", images, "--count", count, "--onnx", onnx);
                    Console.WriteLine($"round {round + 1} {r.Variant}: {F(r.ImagesPerSecond)} img/s, peak {F(r.PeakWorkingSetMb, 0)} MB");
                    results.Add(r);
                }
        }
        finally
        {
            File.Delete(onnx);
        }
        double Rate(string v) => Median(results.Where(r => r.Variant == v).Select(r => r.ImagesPerSecond));
        double ours = Rate(Ours);
        Table.Print($"Batch scoring, mobilenet_v2_1.0 classifier ONNX, {results[0].Images} images from {images}, {Resolution} px",
            ["variant", "images/s", "ms/image", "peak working set MB", "ours is"],
            Descriptions.Keys.Select(v => new[]
            {
                Descriptions[v], F(Rate(v)), F(1000 / Rate(v)), F(results.Where(r => r.Variant == v).Max(r => r.PeakWorkingSetMb), 0),
                v == Ours ? "-" : F(ours / Rate(v), 2) + "x",
            }));
        Console.WriteLine($"ratio ours / ApplyOnnxModel IDataView: {F(ours / Rate(MlNetDataView), 2)}x (target >= 3x)");
        return 0;
    }

    /// <summary>Exports the zoo classifier with random weights (speed does not depend on them) and a symbolic batch.</summary>
    internal static void ExportClassifier(string path)
    {
        torch.random.manual_seed(1);
        using var model = BackboneRegistry.Create("mobilenet_v2_1.0", new BackboneOptions { NumClasses = 10 });
        model.eval();
        OnnxExporter.ExportFile(model, path, new OnnxExportOptions
        {
            VariantName = "mobilenet_v2_1.0", Preprocessing = PreprocessingSpec.ImageNet(Resolution),
            ClassLabels = Enumerable.Range(0, 10).Select(i => $"class{i}").ToArray(), WeightsProvenance = "random (benchmark)",
        });
    }

    public static int Child(BenchArgs a)
    {
        var rows = Images.Pick(a.Required("images"), a.Int("count", 200));
        string variant = a.Required("variant"), onnx = a.Required("onnx");
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var setup = System.Diagnostics.Stopwatch.StartNew();
        if (variant == Ours)
        {
            var model = ml.Transforms.ScoreImagesWithOnnx(
                OnnxImageModel.FromFile(onnx, PreprocessingSpec.ImageNet(Resolution), Enumerable.Range(0, 10).Select(i => $"class{i}").ToArray(),
                    outputName: OnnxExporter.LogitsName),
                new ImageScoringOptions { BatchSize = 32 }).Fit(data);
            Drain(model.Transform(ml.Data.TakeRows(data, WarmupImages)), "Score");
            double setupSeconds = setup.Elapsed.TotalSeconds;
            int n = 0;
            double seconds = Seconds(() => n = Drain(model.Transform(data), "Score"));
            new Result(variant, n, seconds, setupSeconds, 0).Emit();
            return 0;
        }
        // ExtractPixels has one offset and scale for all channels: the ImageNet mean/std averaged (speed is the same).
        var mlnet = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(ImageRow.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", Resolution, Resolution))
            .Append(ml.Transforms.ExtractPixels(OnnxExporter.InputName, "Image", interleavePixelColors: false,
                offsetImage: -0.449f * 255, scaleImage: 1 / (0.226f * 255)))
            .Append(ml.Transforms.ApplyOnnxModel([OnnxExporter.LogitsName], [OnnxExporter.InputName], onnx,
                shapeDictionary: new Dictionary<string, int[]> { [OnnxExporter.InputName] = [1, 3, Resolution, Resolution] },
                gpuDeviceId: null, fallbackToCpu: false, recursionLimit: 100))
            .Fit(data);
        if (variant == MlNetDataView)
        {
            Drain(mlnet.Transform(ml.Data.TakeRows(data, WarmupImages)), OnnxExporter.LogitsName);
            double setupSeconds = setup.Elapsed.TotalSeconds;
            int n = 0;
            double seconds = Seconds(() => n = Drain(mlnet.Transform(data), OnnxExporter.LogitsName));
            new Result(variant, n, seconds, setupSeconds, 0).Emit();
            return 0;
        }
        if (variant != MlNetEngine) throw new ArgumentException($"unknown variant '{variant}'.", "variant");
        using var engine = ml.Model.CreatePredictionEngine<ImageRow, LogitsRow>(mlnet);
        foreach (var row in rows.Take(WarmupImages)) engine.Predict(row);
        double setupTime = setup.Elapsed.TotalSeconds;
        double time = Seconds(() =>
        {
            foreach (var row in rows) engine.Predict(row);
        });
        new Result(variant, rows.Length, time, setupTime, 0).Emit();
        return 0;
    }

    /// <summary>ApplyOnnxModel's output row.</summary>
    private sealed class LogitsRow
    {
        [ColumnName(OnnxExporter.LogitsName)]
        public float[] Logits { get; set; } = [];
    }
}
