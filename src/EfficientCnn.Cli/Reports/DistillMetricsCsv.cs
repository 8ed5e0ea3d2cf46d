using System.Globalization;
using EfficientCnn.Backbones.Training;

namespace EfficientCnn.Cli.Reports;

/// <summary>The distill command's metrics file: one CSV row per round, appended (a resumed run keeps earlier rows).</summary>
internal sealed class DistillMetricsCsv
{
    private readonly string path;

    public DistillMetricsCsv(string path, IReadOnlyList<string> probes, bool resume)
    {
        this.path = path;
        if (resume && File.Exists(path) && File.ReadLines(path).FirstOrDefault() == Header(probes)) return; // a resumed run with the same columns
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (resume && File.Exists(path)) File.Move(path, path + ".previous", overwrite: true); // other columns: kept aside, not mixed
        File.WriteAllText(path, Header(probes) + "\n");
    }

    private static string Header(IReadOnlyList<string> probes) =>
        "round,step,images,train_cosine,heldout_cosine," + string.Concat(probes.Select(p => $"probe_{p},")) + "lr,images_per_second,elapsed_seconds";

    public void Append(EpochMetrics m, long step, long imagesSeen, IReadOnlyList<double> probes, double elapsed) =>
        File.AppendAllText(path, string.Create(CultureInfo.InvariantCulture,
            $"{m.Epoch},{step},{imagesSeen},{m.TrainAccuracy:F5},{m.ValidationAccuracy:F5},{string.Concat(probes.Select(p => $"{p:F4},"))}{m.LearningRate:G4},{m.ImagesPerSecond:F2},{elapsed:F0}\n"));
}
