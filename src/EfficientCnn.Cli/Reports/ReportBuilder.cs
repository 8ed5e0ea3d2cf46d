using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet.Experiments;
using Spectre.Console;
using EfficientCnn.Cli.Reports;

namespace EfficientCnn.Cli.Reports;

/// <summary>Writes the <c>--report DIR</c> of train and evaluate: learning curves, confusion matrix, per-class bars, misclassified images, leaderboard.</summary>
internal static class ReportBuilder
{
    /// <summary>Writes the report and prints where; sections without data are left out.</summary>
    /// <param name="directory">The report folder.</param>
    /// <param name="title">Page title.</param>
    /// <param name="history">Training epochs (empty for evaluate).</param>
    /// <param name="evaluation">Metrics on held-out or test images, or null.</param>
    /// <param name="leaderboard">Candidates of <c>--backbone auto</c> (empty otherwise).</param>
    public static void Write(string directory, string title, IReadOnlyList<EpochMetrics> history, ClassificationEvaluation? evaluation,
        IReadOnlyList<LeaderboardRow> leaderboard)
    {
        var data = new ReportData
        {
            Title = title,
            Classes = evaluation?.Classes ?? [],
            History = history.Select(m => new EpochRecord(m.Epoch, m.TrainLoss, m.TrainAccuracy, m.ValidationLoss, m.ValidationAccuracy, m.LearningRate, m.Seconds)).ToArray(),
            ConfusionMatrix = evaluation is null ? null : ToArray2D(evaluation.ConfusionMatrix),
            PerClass = evaluation?.PerClass.Select(c => new ClassMetrics(c.Label, c.Precision, c.Recall, c.Support)).ToArray() ?? [],
            Misclassified = evaluation?.Misclassified.Select(w => new Misclassified(w.Path, w.TrueLabel, w.PredictedLabel, w.Score)).ToArray() ?? [],
            Leaderboard = leaderboard.Select(r => new LeaderboardEntry(r.Name, r.Backbone, r.Mode, r.ValidationAccuracy, r.LatencyMs, r.Seconds, r.MeetsLatency)).ToArray(),
            Summary = evaluation is null ? new Dictionary<string, string>() : new Dictionary<string, string>
            {
                ["images"] = $"{evaluation.Images}",
                ["micro accuracy"] = $"{evaluation.MicroAccuracy:P1}",
                ["macro accuracy"] = $"{evaluation.MacroAccuracy:P1}",
                ["log-loss"] = $"{evaluation.LogLoss:F3}",
                ["images/s"] = $"{evaluation.ImagesPerSecond:F0}",
            },
        };
        var files = ReportWriter.Write(data, directory);
        AnsiConsole.MarkupLineInterpolated($"Report: {files[^1]} ({files.Count} files)");
    }

    private static long[,] ToArray2D(long[][] rows)
    {
        var matrix = new long[rows.Length, rows.Length];
        for (int i = 0; i < rows.Length; i++)
        for (int j = 0; j < rows.Length; j++)
            matrix[i, j] = rows[i][j];
        return matrix;
    }
}
