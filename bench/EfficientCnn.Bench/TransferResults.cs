using System.Globalization;
using System.Text;

namespace EfficientCnn.Bench;

/// <summary>One method evaluated on one dataset by <c>accuracy</c>: a row of the transfer study's results CSV.</summary>
/// <param name="Date">Day of the run, yyyy-MM-dd.</param>
/// <param name="Dataset">The dataset folder's name.</param>
/// <param name="Backbone">Zoo variant, bundled model or ONNX file name (without .onnx); <c>mlnet-resnet18</c> for ML.NET's ResNet18.</param>
/// <param name="Method">mlnet, featurize, finetune, scratch (fine-tuned from random init) or random-features (featurizer with random weights).</param>
/// <param name="Scope">Trained part of the backbone: all, head or last; frozen for featurizer + linear head.</param>
/// <param name="Resolution">Input height and width.</param>
/// <param name="Epochs">Fine-tuning epochs; null for featurizer + L-BFGS.</param>
/// <param name="Macs">Multiply-accumulates of the backbone for one image at <paramref name="Resolution"/>; null when unknown.</param>
/// <param name="Params">Parameters of the backbone (no head); null when unknown.</param>
/// <param name="LatencyMs">Backbone latency per image: ONNX Runtime, batch 1, 1 intra-op thread, median of 30 runs.</param>
/// <param name="MicroAccuracy">Test micro accuracy.</param>
/// <param name="MacroAccuracy">Test macro accuracy.</param>
/// <param name="LogLoss">Test log-loss; null when unknown.</param>
/// <param name="TrainSeconds">Wall time of training; null when unknown.</param>
/// <param name="Note">Free text, e.g. where a row came from.</param>
public sealed record TransferResult(
    string Date, string Dataset, string Backbone, string Method, string Scope, int Resolution, int? Epochs,
    long? Macs, long? Params, double? LatencyMs, double MicroAccuracy, double MacroAccuracy, double? LogLoss, double? TrainSeconds,
    string Note = "")
{
    /// <summary>Backbone name of ML.NET's ResNet18 (DnnImageFeaturizer.ResNet18), the study's reference point.</summary>
    public const string ResNet18Backbone = MlNetResNet18.Alias;

    /// <summary>Whether the row measures ML.NET's ResNet18 (by ML.NET or through our featurizer/importer).</summary>
    public bool IsResNet18 => Backbone == ResNet18Backbone;

    /// <summary>Whether the backbone's weights were random before training (nothing transferred).</summary>
    public bool IsFromScratch => Method is "scratch" or "random-features";
}

/// <summary>
/// The results CSV of the transfer study (docs/transfer-results.csv): a header, then one row per method evaluated.
/// Invariant culture; empty cells for unknown values; fields with commas or quotes are quoted.
/// </summary>
public static class TransferResultsCsv
{
    /// <summary>The header line, written once at the top of a new file.</summary>
    public const string Header =
        "date,dataset,backbone,method,scope,resolution,epochs,macs,params,latency_ms,micro_accuracy,macro_accuracy,log_loss,train_seconds,note";

    private static readonly int ColumnCount = Header.Split(',').Length;

    /// <summary>Appends <paramref name="rows"/> to <paramref name="path"/>, writing the header first when the file is new or empty.</summary>
    /// <exception cref="ArgumentException">The file exists with another header (ParamName "results").</exception>
    public static void Append(string path, IEnumerable<TransferResult> rows)
    {
        bool isNew = !File.Exists(path) || new FileInfo(path).Length == 0;
        if (!isNew) CheckHeader(path, File.ReadLines(path).First());
        else if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
        var lines = rows.Select(Format);
        File.AppendAllLines(path, isNew ? lines.Prepend(Header) : lines);
    }

    /// <summary>Reads every row of <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException">The file is missing, has another header or a malformed row (ParamName "results"; the line is named).</exception>
    public static IReadOnlyList<TransferResult> Read(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"results file '{path}' does not exist.", "results");
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0) throw new ArgumentException($"results file '{path}' is empty (expected the header '{Header}').", "results");
        CheckHeader(path, lines[0]);
        var rows = new List<TransferResult>();
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            try
            {
                rows.Add(Parse(SplitFields(lines[i])));
            }
            catch (FormatException e)
            {
                throw new ArgumentException($"results file '{path}', line {i + 1}: {e.Message}", "results", e);
            }
        }
        return rows;
    }

    /// <summary>One CSV line (no newline) for <paramref name="r"/>.</summary>
    public static string Format(TransferResult r) => string.Join(',', new[]
    {
        r.Date, r.Dataset, r.Backbone, r.Method, r.Scope, N(r.Resolution), N(r.Epochs), N(r.Macs), N(r.Params), N(r.LatencyMs, "0.###"),
        N(r.MicroAccuracy, "0.####"), N(r.MacroAccuracy, "0.####"), N(r.LogLoss, "0.####"), N(r.TrainSeconds, "0.#"), r.Note,
    }.Select(Quote));

    private static void CheckHeader(string path, string line)
    {
        if (line.Trim() != Header)
            throw new ArgumentException($"results file '{path}' starts with '{line}', not the header '{Header}'.", "results");
    }

    private static TransferResult Parse(string[] f)
    {
        if (f.Length != ColumnCount) throw new FormatException($"{f.Length} fields, expected {ColumnCount}.");
        return new TransferResult(f[0], f[1], f[2], f[3], f[4], int.Parse(f[5], CultureInfo.InvariantCulture), OptionalInt(f[6]),
            OptionalLong(f[7]), OptionalLong(f[8]), OptionalDouble(f[9]), double.Parse(f[10], CultureInfo.InvariantCulture),
            double.Parse(f[11], CultureInfo.InvariantCulture), OptionalDouble(f[12]), OptionalDouble(f[13]), f[14]);
    }

    private static int? OptionalInt(string s) => s.Length == 0 ? null : int.Parse(s, CultureInfo.InvariantCulture);

    private static long? OptionalLong(string s) => s.Length == 0 ? null : long.Parse(s, CultureInfo.InvariantCulture);

    private static double? OptionalDouble(string s) => s.Length == 0 ? null : double.Parse(s, CultureInfo.InvariantCulture);

    private static string N(IFormattable? value, string? format = null) => value?.ToString(format, CultureInfo.InvariantCulture) ?? "";

    private static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n']) < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>Splits one line at commas outside double quotes; "" inside quotes is a quote (other bench CSVs use it too).</summary>
    internal static string[] SplitFields(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"') current.Append(line[++i]);
            else if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted)
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else current.Append(c);
        }
        fields.Add(current.ToString());
        return [.. fields];
    }
}
