using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Training;

namespace EfficientCnn.Cli.Reports;

/// <summary>What a metrics file says about the run that wrote it.</summary>
/// <param name="Command">The command and mode, e.g. "pretrain" or "pretrain --teacher".</param>
/// <param name="Backbone">The network trained.</param>
/// <param name="Resolution">Input size in pixels.</param>
/// <param name="Data">Where the images came from.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Precision">The precision that ran, e.g. "fp32 (auto)".</param>
/// <param name="Teacher">The distillation teacher, or null.</param>
internal sealed record MetricsRunInfo(string Command, string Backbone, int Resolution, string Data, int Seed, string Precision, string? Teacher = null);

/// <summary>
/// The per-epoch metrics of a training run in two files with the same rows: <c>BASE.csv</c> (one line per epoch) and
/// <c>BASE.json</c> (the run's settings plus an array of epochs). Both are rewritten whole after every epoch through a
/// temporary file and a rename, so a killed run leaves complete files. Each epoch appears once: an epoch run again after
/// a resume replaces its earlier row and drops any later ones.
/// </summary>
internal sealed class MetricsLog
{
    private static readonly string[] Columns = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds", "images_per_second"];
    private readonly MetricsRunInfo run;
    private readonly List<EpochMetrics> epochs = [];

    /// <summary>
    /// Opens the log at <paramref name="path"/> (its .csv/.json extension, if any, is replaced by both). A fresh run
    /// starts empty and replaces old files at once; a resumed run keeps the epochs of the existing JSON file.
    /// </summary>
    /// <exception cref="InvalidDataException">Resuming, and the existing JSON file is not a metrics log.</exception>
    public MetricsLog(string path, MetricsRunInfo run, bool resume)
    {
        string full = Path.GetFullPath(path);
        string extension = Path.GetExtension(full);
        string stem = extension.Equals(".csv", StringComparison.OrdinalIgnoreCase) || extension.Equals(".json", StringComparison.OrdinalIgnoreCase)
            ? full[..^extension.Length]
            : full;
        CsvPath = stem + ".csv";
        JsonPath = stem + ".json";
        this.run = run;
        if (resume && File.Exists(JsonPath)) epochs.AddRange(Read(JsonPath));
        Write();
    }

    /// <summary>The CSV file.</summary>
    public string CsvPath { get; }

    /// <summary>The JSON file.</summary>
    public string JsonPath { get; }

    /// <summary>Adds an epoch (replacing it and any later epoch already logged) and rewrites both files.</summary>
    public void Record(EpochMetrics metrics)
    {
        epochs.RemoveAll(e => e.Epoch >= metrics.Epoch);
        epochs.Add(metrics);
        Write();
    }

    /// <summary>
    /// Replaces the log by the trainer's complete history (which includes the epochs restored from a checkpoint), so
    /// the files match the model even when an earlier run's log went missing.
    /// </summary>
    public void Complete(IEnumerable<EpochMetrics> history)
    {
        epochs.Clear();
        epochs.AddRange(history.OrderBy(e => e.Epoch));
        Write();
    }

    /// <summary>The default base path next to a command's output file: <c>model.onnx</c> → <c>model.metrics</c>.</summary>
    public static string NextTo(string output) => Path.ChangeExtension(output, ".metrics");

    private void Write()
    {
        var csv = new StringBuilder(string.Join(",", Columns)).Append('\n');
        foreach (var e in epochs) csv.Append(string.Join(",", Values(e).Select(v => v is { } d ? d.ToString("R", CultureInfo.InvariantCulture) : ""))).Append('\n');
        OnnxExporter.WriteAtomically(CsvPath, Encoding.UTF8.GetBytes(csv.ToString()));
        OnnxExporter.WriteAtomically(JsonPath, JsonBytes());
    }

    private byte[] JsonBytes()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("run");
            w.WriteString("command", run.Command);
            w.WriteString("backbone", run.Backbone);
            w.WriteNumber("resolution", run.Resolution);
            w.WriteString("data", run.Data);
            w.WriteNumber("seed", run.Seed);
            w.WriteString("precision", run.Precision);
            if (run.Teacher is not null) w.WriteString("teacher", run.Teacher);
            w.WriteEndObject();
            w.WriteStartArray("epochs");
            foreach (var e in epochs)
            {
                w.WriteStartObject();
                foreach (var (name, value) in Columns.Zip(Values(e)))
                {
                    // JSON has no NaN: a value that does not exist (no validation data) or is not finite is null, as it is empty in the CSV.
                    if (value is { } v) w.WriteNumber(name, v);
                    else w.WriteNull(name);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    /// <summary>An epoch's values in <see cref="Columns"/> order; null for missing or non-finite values.</summary>
    private static IEnumerable<double?> Values(EpochMetrics e) =>
        new double?[] { e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate, e.Seconds, e.ImagesPerSecond }
            .Select(v => v is { } d && double.IsFinite(d) ? v : null);

    private static List<EpochMetrics> Read(string path)
    {
        try
        {
            var items = JsonNode.Parse(File.ReadAllText(path))?["epochs"]?.AsArray()
                        ?? throw new InvalidDataException($"'{path}' has no \"epochs\" array.");
            return items.Select(item =>
            {
                double? Get(string name) => item?[name]?.GetValue<double>();
                return new EpochMetrics((int)(Get("epoch") ?? throw new InvalidDataException($"'{path}': an epoch without an \"epoch\" number.")),
                    Get("train_loss") ?? double.NaN, Get("train_accuracy") ?? double.NaN, Get("val_loss"), Get("val_accuracy"),
                    Get("learning_rate") ?? double.NaN, Get("seconds") ?? double.NaN, Get("images_per_second") ?? double.NaN);
            }).ToList();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"'{path}' is not a metrics log written by efficientcnn ({e.Message}); move it away or pass another --metrics.", e);
        }
    }
}
