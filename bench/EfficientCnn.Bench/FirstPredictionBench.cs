using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using EfficientCnn.MLNet.Persistence;
using Microsoft.ML;
using static EfficientCnn.Bench.Measure;

namespace EfficientCnn.Bench;

/// <summary>
/// Time from <c>mlContext.Model.Load(zip)</c> to the first PredictionEngine prediction, in fresh processes (the state a
/// business app starts from), on a zip saved from a FineTuneImageClassifier model (mobilenet_v2_1.0, 224 px).
/// </summary>
internal static class FirstPredictionBench
{
    public static int Run(BenchArgs a)
    {
        var rows = Images.Pick(a.Get("images") ?? Repository.Clipart4, 32);
        string zip = Path.Combine(Path.GetTempPath(), $"ecnn-bench-{Environment.ProcessId}-model.zip");
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        // Head only, one epoch: the zip holds the whole network either way, and the load cost depends only on that.
        var model = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
        {
            Backbone = BackboneSource.Resolve("mobilenet_v2_1.0"), Resolution = 224, Seed = 1, Training = new() { Epochs = 1, Scope = TrainScope.HeadOnly },
        }).Fit(keyed);
        ml.Model.Save(model, keyed.Schema, zip);
        var inside = new List<double>();
        var sinceStart = new List<double>();
        var processWall = new List<double>();
        try
        {
            for (int run = 0; run < a.Int("runs", 5); run++)
            {
                var (output, wall) = RunSelf("first-prediction-child", "--zip", zip, "--image", rows[run % rows.Length].ImagePath);
                var r = System.Text.Json.JsonSerializer.Deserialize<Result>(output.Split('\n').Last(l => l.StartsWith(Result.Marker, StringComparison.Ordinal))[Result.Marker.Length..])!;
                Console.WriteLine($"run {run + 1}: load to first prediction {F(r.Seconds * 1000, 0)} ms, process start to prediction {F(r.SetupSeconds * 1000, 0)} ms, child wall {F(wall * 1000, 0)} ms");
                inside.Add(r.Seconds);
                sinceStart.Add(r.SetupSeconds);
                processWall.Add(wall);
            }
        }
        finally
        {
            File.Delete(zip);
        }
        Table.Print($"First prediction after load (fresh process, {new FileInfo(typeof(FirstPredictionBench).Assembly.Location).Name}, median of {inside.Count})",
            ["measure", "median ms", "min ms", "max ms"],
            new (string, List<double>)[]
            {
                ("Model.Load(zip) → CreatePredictionEngine → first Predict (inside the child)", inside),
                ("process start → first prediction (adds .NET start-up and JIT of Main)", sinceStart),
                ("child process wall time, spawn to exit", processWall),
            }.Select(m => new[] { m.Item1, F(Median(m.Item2) * 1000, 0), F(m.Item2.Min() * 1000, 0), F(m.Item2.Max() * 1000, 0) }));
        Console.WriteLine($"target: load to first prediction < 1000 ms; measured median {F(Median(inside) * 1000, 0)} ms");
        return 0;
    }

    public static int Child(BenchArgs a)
    {
        string zip = a.Required("zip"), image = a.Required("image");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        // A load-only app calls this at start-up (ModelLoaderAssembly's documentation): part of the cost.
        ModelLoaderAssembly.EnsureRegistered();
        var ml = new MLContext();
        var model = ml.Model.Load(zip, out _);
        using var engine = ml.Model.CreatePredictionEngine<ImageRow, PredictionRow>(model);
        var prediction = engine.Predict(new ImageRow { ImagePath = image });
        double seconds = sw.Elapsed.TotalSeconds;
        double sinceStart = (DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime).TotalSeconds;
        if (prediction.Score.Length == 0) throw new InvalidOperationException("empty prediction");
        new Result("first-prediction", 1, seconds, sinceStart, 0, $"label key {prediction.PredictedLabel}").Emit();
        return 0;
    }

    /// <summary>The fine-tuned model's output row.</summary>
    private sealed class PredictionRow
    {
        public float[] Score { get; set; } = [];

        public uint PredictedLabel { get; set; }
    }
}
