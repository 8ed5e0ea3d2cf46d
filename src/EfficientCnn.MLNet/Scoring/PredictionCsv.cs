using System.Globalization;

namespace EfficientCnn.MLNet.Scoring;

/// <summary>
/// The CSV <c>efficientcnn predict</c> writes, one row per scored image: <c>path,predictedLabel,score</c> (score = the
/// top probability, round-trip formatted). Local and cluster scoring both format rows here, so their files are equal.
/// </summary>
public static class PredictionCsv
{
    /// <summary>The header line.</summary>
    public const string Header = "path,predictedLabel,score";

    /// <summary>One row, without the line break.</summary>
    public static string Row(ScoredImage image) =>
        string.Create(CultureInfo.InvariantCulture, $"{Field(image.Path)},{Field(image.PredictedLabel)},{image.TopScore:R}");

    /// <summary>A field, quoted (RFC 4180) only when it holds a comma, a quote or a line break.</summary>
    public static string Field(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) < 0 ? value : $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}
