using System.Diagnostics;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using static EfficientCnn.Bench.Measure;

namespace EfficientCnn.Bench;

/// <summary>
/// The issue's headline comparison on a dataset with split.csv (path,label,split): ML.NET's ResNet18 featurizer +
/// LbfgsMaximumEntropy, our featurizer with --backbone + LbfgsMaximumEntropy, and FineTuneImageClassifier on the same
/// backbone; trained on "train", measured on "test".
/// </summary>
internal static class AccuracyBench
{
    private sealed record Outcome(string Method, MulticlassClassificationMetrics Metrics, double TrainSeconds, double TestSeconds);

    public static int Run(BenchArgs a)
    {
        string dir = a.Required("data");
        var (train, test) = ReadSplit(dir);
        string backbone = a.Get("backbone") ?? BackboneSource.DefaultName;
        if (backbone == MlNetResNet18.Alias) backbone = MlNetResNet18.OnnxPath;
        var source = BackboneSource.Resolve(backbone);
        bool isResNet18 = source.Path is { } p && MlNetResNet18.Is(p);
        PreprocessingSpec? spec = isResNet18 ? MlNetResNet18.Preprocessing(224) : null;
        string? outputTensor = a.Get("output-tensor") ?? (isResNet18 ? MlNetResNet18.PooledOutput : null);
        // A foreign ONNX file with a fixed input size (ML.NET's ResNet18: 224) can only be fine-tuned at that size.
        int resolution = a.Int("resolution", isResNet18 ? 224 : 160);
        var methods = (a.Get("methods") ?? "mlnet,featurize,finetune").Split(',');
        Console.WriteLine($"{train.Length} train / {test.Length} test images; backbone {source}; fine-tuning at {resolution} px");

        var ml = new MLContext(seed: 1);
        var trainView = ml.Data.LoadFromEnumerable(train);
        var testView = ml.Data.LoadFromEnumerable(test);
        var labels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(trainView);
        var outcomes = new List<Outcome>();
        if (methods.Contains("mlnet"))
            outcomes.Add(Evaluate(ml, "ML.NET DnnFeaturizeImage ResNet18 + LbfgsMaximumEntropy", labels, trainView, testView,
                ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(ImageRow.ImagePath))
                    .Append(ml.Transforms.ResizeImages("Image", 224, 224))
                    .Append(ml.Transforms.ExtractPixels("Pixels", "Image", interleavePixelColors: false))
                    .Append(ml.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Pixels"))
                    // L-BFGS passes over the data many times: featurize once (as ML.NET's samples do).
                    .AppendCacheCheckpoint(ml)
                    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features"))));
        if (methods.Contains("featurize"))
            outcomes.Add(Evaluate(ml, $"FeaturizeImages {source.Name} ({resolution} px) + LbfgsMaximumEntropy", labels, trainView, testView,
                ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions { Backbone = backbone, OutputTensorName = outputTensor, Preprocessing = spec, Resolution = isResNet18 ? null : resolution })
                    .AppendCacheCheckpoint(ml)
                    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features"))));
        int epochs = a.Int("epochs", 4);
        var scope = (a.Get("scope") ?? "all") switch { "head" => TrainScope.HeadOnly, "last" => TrainScope.LastStages, _ => TrainScope.All };
        if (methods.Contains("finetune"))
            outcomes.Add(Evaluate(ml, $"FineTuneImageClassifier {source.Name}, {resolution} px, {epochs} epochs, Scope {scope}", labels, trainView, testView,
                ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainer.Options
                {
                    Backbone = backbone, Preprocessing = spec, Resolution = resolution, Epochs = epochs, BatchSize = 32, Seed = 1, Scope = scope, TrainLastStages = 3,
                    OnEpoch = m => Console.WriteLine($"  epoch {m.Epoch}: loss {F(m.TrainLoss, 3)}, train accuracy {F(m.TrainAccuracy, 3)}, {F(m.ImagesPerSecond)} img/s"),
                })));

        // Latency of the backbone's features at the fine-tuning resolution: ONNX Runtime, batch 1, one thread, median of 30.
        var (onnx, _) = source.FeaturizerOnnx(outputTensor);
        var latency = EfficientCnn.MLNet.Search.OnnxLatency.Measure(onnx, resolution, batchSize: 1, warmup: 5, runs: 30, threads: 1);
        Console.WriteLine($"backbone latency at {resolution} px: {F(latency.MedianMsPerImage, 2)} ms/image (ONNX Runtime, batch 1, 1 thread)");
        Table.Print($"Accuracy on {Path.GetFileName(Path.TrimEndingDirectorySeparator(dir))} ({train.Length} train, {test.Length} test, {(labels.GetOutputSchema(trainView.Schema)["Label"].Type is KeyDataViewType k ? k.Count : 0)} classes)",
            ["method", "micro accuracy", "macro accuracy", "train s", "test s"],
            outcomes.Select(o => new[] { o.Method, F(o.Metrics.MicroAccuracy, 3), F(o.Metrics.MacroAccuracy, 3), F(o.TrainSeconds), F(o.TestSeconds) }));
        return 0;
    }

    private static Outcome Evaluate<T>(MLContext ml, string method, ITransformer labels, IDataView train, IDataView test, IEstimator<T> estimator)
        where T : class, ITransformer
    {
        Console.WriteLine($"{method}...");
        var sw = Stopwatch.StartNew();
        var model = estimator.Fit(labels.Transform(train));
        double trainSeconds = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(labels.Transform(test)));
        double testSeconds = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"  micro {F(metrics.MicroAccuracy, 3)}, macro {F(metrics.MacroAccuracy, 3)}, train {F(trainSeconds)} s, test {F(testSeconds)} s");
        return new Outcome(method, metrics, trainSeconds, testSeconds);
    }

    /// <summary>Reads split.csv (path,label,split; paths relative to the dataset folder).</summary>
    private static (ImageRow[] Train, ImageRow[] Test) ReadSplit(string dir)
    {
        string csv = Path.Combine(dir, "split.csv");
        if (!File.Exists(csv)) throw new ArgumentException($"'{csv}' does not exist (expected path,label,split).", "data");
        var rows = File.ReadLines(csv).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(','))
            .Select(f => (Row: new ImageRow { ImagePath = Path.GetFullPath(Path.Combine(dir, f[0])), Label = f[1] }, Split: f[2].Trim())).ToArray();
        return (rows.Where(r => r.Split == "train").Select(r => r.Row).ToArray(), rows.Where(r => r.Split == "test").Select(r => r.Row).ToArray());
    }
}
