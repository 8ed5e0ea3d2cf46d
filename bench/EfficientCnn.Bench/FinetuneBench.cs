using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using Microsoft.ML;
using static EfficientCnn.Bench.Measure;

namespace EfficientCnn.Bench;

/// <summary>FineTuneImageClassifier throughput (mobilenet_v2_1.0, one epoch, batch 32) and peak memory, one process per setting (--device cpu|cuda|auto).</summary>
internal static class FinetuneBench
{
    private static readonly (int Resolution, TrainScope Scope)[] Settings = [(224, TrainScope.All), (128, TrainScope.All), (224, TrainScope.HeadOnly)];

    public static int Run(BenchArgs a)
    {
        string images = a.Required("images"), count = a.Int("count", 128).ToString(), device = a.Get("device") ?? "auto";
        var results = Settings.Select(s =>
        {
            var r = InChild("finetune-child", "--images", images, "--count", count, "--resolution", s.Resolution.ToString(), "--scope", s.Scope.ToString(), "--device", device);
            Console.WriteLine($"{r.Variant}: {F(r.ImagesPerSecond)} img/s over Fit, {r.Note}, peak {F(r.PeakWorkingSetMb, 0)} MB");
            return r;
        }).ToArray();
        Table.Print($"Fine-tuning mobilenet_v2_1.0, {results[0].Images} images from {images}, 1 epoch, batch 32, AdamW, default augmentation",
            ["setting", "Fit wall s", "images/s over Fit", "training epoch", "peak working set MB"],
            results.Select(r => new[] { r.Variant, F(r.Seconds), F(r.ImagesPerSecond), r.Note, F(r.PeakWorkingSetMb, 0) }));
        return 0;
    }

    public static int Child(BenchArgs a)
    {
        var rows = Images.Pick(a.Required("images"), a.Int("count", 128));
        int resolution = a.Int("resolution", 224);
        var scope = Enum.Parse<TrainScope>(a.Required("scope"));
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        EpochMetrics? epoch = null;
        var trainer = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
        {
            Backbone = BackboneSource.Resolve("mobilenet_v2_1.0"), Resolution = resolution, Seed = 1,
            Training = new() { Epochs = 1, BatchSize = 32, Scope = scope, OnEpoch = m => epoch = m, Device = a.Get("device") ?? "auto" },
        });
        double seconds = Seconds(() => trainer.Fit(keyed).Dispose());
        string note = epoch is null ? "no epoch reported" : $"{F(epoch.ImagesPerSecond)} img/s ({F(epoch.Seconds)} s), loss {F(epoch.TrainLoss, 4)}";
        new Result($"{resolution} px, {scope}", rows.Length, seconds, 0, 0, note).Emit();
        return 0;
    }
}
