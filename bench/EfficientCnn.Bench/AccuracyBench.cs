using System.Diagnostics;
using System.Globalization;
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
/// backbone (from random init when --backbone names a zoo variant: rows labelled scratch); trained on "train", measured
/// on "test". With --results FILE.csv, one row per method is appended (<see cref="TransferResultsCsv"/>).
/// </summary>
internal static class AccuracyBench
{
    private static readonly string[] Methods = ["mlnet", "featurize", "finetune"];

    private sealed record Outcome(string Description, MulticlassClassificationMetrics Metrics, double TrainSeconds, double TestSeconds);

    public static int Run(BenchArgs a)
    {
        string dir = a.Required("data");
        var (train, test) = ReadSplit(dir);
        // --dataset names the rows when the folder is a resized copy (e.g. stellarium-dso-256 for stellarium-dso).
        string dataset = a.Get("dataset") ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
        string backbone = a.Get("backbone") ?? BackboneSource.DefaultName;
        if (backbone == MlNetResNet18.Alias) backbone = MlNetResNet18.OnnxPath;
        var source = BackboneSource.Resolve(backbone);
        bool isResNet18 = !source.IsRandomlyInitialised && source.Path is { } p && MlNetResNet18.Is(p);
        // A zoo name or a spec file resolves to a network with random weights: fine-tuning it is training from scratch.
        bool fromScratch = source.IsRandomlyInitialised;
        string backboneName = isResNet18 ? MlNetResNet18.Alias
            : source.Kind == BackboneSourceKind.OnnxFile ? Path.GetFileNameWithoutExtension(source.Name) : source.Name; // a spec: its file name
        PreprocessingSpec? spec = isResNet18 ? MlNetResNet18.Preprocessing(224) : null;
        string? outputTensor = a.Get("output-tensor") ?? (isResNet18 ? MlNetResNet18.PooledOutput : null);
        // A foreign ONNX file with a fixed input size (ML.NET's ResNet18: 224) can only be fine-tuned at that size.
        int resolution = a.Int("resolution", isResNet18 ? 224 : 160);
        var methods = (a.Get("methods") ?? "mlnet,featurize,finetune").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (methods.Except(Methods).FirstOrDefault() is { } unknown)
            throw new ArgumentException($"unknown method '{unknown}' in --methods; use {string.Join(", ", Methods)}.", "methods");
        int epochs = a.Int("epochs", 4);
        int seed = a.Int("seed", 1); // of the fine-tuning split, initialisation and shuffling
        // --note adds free text to the rows (e.g. the machine that trained them); a seed other than 1 is named there too.
        string note = string.Join("; ", new[] { seed == 1 ? null : $"seed {seed}", a.Get("note") }.Where(n => n is not null));
        string scopeName = a.Get("scope") ?? "all";
        var scope = scopeName switch
        {
            "all" => TrainScope.All, "head" => TrainScope.HeadOnly, "last" => TrainScope.LastStages,
            _ => throw new ArgumentException($"--scope must be all, head or last, got '{scopeName}'.", "scope"),
        };
        string? results = a.Get("results");
        if (results is not null) TransferResultsCsv.Append(results, []); // header now, or a wrong file refused before hours of training
        Console.WriteLine($"{train.Length} train / {test.Length} test images; backbone {source}; fine-tuning at {resolution} px");

        var ml = new MLContext(seed: 1);
        var trainView = ml.Data.LoadFromEnumerable(train);
        var testView = ml.Data.LoadFromEnumerable(test);
        var labels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(trainView);
        var rows = new List<(Outcome Outcome, TransferResult Row)>();
        var costs = new Dictionary<(string, int), BackboneCost>();
        void Record(Outcome outcome, string name, BackboneSource measured, string? tensor, string method, string scope, int px, int? epochs)
        {
            if (!costs.TryGetValue((name, px), out var cost)) costs[(name, px)] = cost = BackboneCost.Measure(measured, tensor, px);
            var m = outcome.Metrics;
            var row = new TransferResult(DateTime.Now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), dataset, name, method, scope, px, epochs,
                cost.Macs, cost.Params, cost.LatencyMs, m.MicroAccuracy, m.MacroAccuracy, m.LogLoss, outcome.TrainSeconds, note);
            rows.Add((outcome, row));
            if (results is not null) TransferResultsCsv.Append(results, [row]); // row by row: a later method's crash keeps it
        }

        if (methods.Contains("mlnet"))
            Record(Evaluate(ml, "ML.NET DnnFeaturizeImage ResNet18 + LbfgsMaximumEntropy", labels, trainView, testView,
                ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(ImageRow.ImagePath))
                    .Append(ml.Transforms.ResizeImages("Image", 224, 224))
                    .Append(ml.Transforms.ExtractPixels("Pixels", "Image", interleavePixelColors: false))
                    .Append(ml.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Pixels"))
                    // L-BFGS passes over the data many times: featurize once (as ML.NET's samples do).
                    .AppendCacheCheckpoint(ml)
                    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features"))),
                MlNetResNet18.Alias, BackboneSource.Resolve(MlNetResNet18.OnnxPath), MlNetResNet18.PooledOutput, "mlnet", "frozen", 224, null);
        if (methods.Contains("featurize"))
            Record(Evaluate(ml, $"FeaturizeImages {source.Name} ({resolution} px) + LbfgsMaximumEntropy", labels, trainView, testView,
                ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions { Backbone = source, OutputTensorName = outputTensor, Preprocessing = spec, Resolution = isResNet18 ? null : resolution })
                    .AppendCacheCheckpoint(ml)
                    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features"))),
                backboneName, source, outputTensor, fromScratch ? "random-features" : "featurize", "frozen", isResNet18 ? 224 : resolution, null);
        if (methods.Contains("finetune"))
            Record(Evaluate(ml, $"FineTuneImageClassifier {source.Name}, {resolution} px, {epochs} epochs, Scope {scope}", labels, trainView, testView,
                ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
                {
                    Backbone = source, Preprocessing = spec, Resolution = resolution, Seed = seed,
                    Training = new()
                    {
                        Epochs = epochs, BatchSize = 32, Scope = scope, TrainLastStages = 3, Device = a.Get("device") ?? "auto",
                        BatchNormRecalibrationBatches = fromScratch ? 16 : 0, // precise BN: random-init nets otherwise score with stale statistics
                        OnEpoch = m => Console.WriteLine($"  epoch {m.Epoch}: loss {F(m.TrainLoss, 3)}, train accuracy {F(m.TrainAccuracy, 3)}, {F(m.ImagesPerSecond)} img/s"),
                    },
                })),
                backboneName, source, outputTensor, fromScratch ? "scratch" : "finetune", scopeName, resolution, epochs);

        // Latency: the backbone's features, ONNX Runtime, batch 1, one thread, median of 30 (BackboneCost).
        Table.Print($"Accuracy on {dataset} ({train.Length} train, {test.Length} test, {(labels.GetOutputSchema(trainView.Schema)["Label"].Type is KeyDataViewType k ? k.Count : 0)} classes)",
            ["method", "latency ms/img", "MACs", "micro accuracy", "macro accuracy", "log-loss", "train s", "test s"],
            rows.Select(r => new[]
            {
                r.Outcome.Description, F(r.Row.LatencyMs!.Value, 2), r.Row.Macs is { } macs ? F(macs / 1e6) + " M" : "?",
                F(r.Row.MicroAccuracy, 3), F(r.Row.MacroAccuracy, 3), F(r.Row.LogLoss!.Value, 3), F(r.Outcome.TrainSeconds), F(r.Outcome.TestSeconds),
            }));
        if (results is not null) Console.WriteLine($"appended {rows.Count} row{(rows.Count == 1 ? "" : "s")} to {results}");
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
