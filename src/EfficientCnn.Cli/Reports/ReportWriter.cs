using System.Text;

namespace EfficientCnn.Cli.Reports;

/// <summary>
/// Writes a visual training/evaluation report: PNG charts plus an index.html that shows them. Sections without data
/// are skipped. Each file is written to a temporary file and moved into place, so a reader never sees half a file.
/// </summary>
public static class ReportWriter
{
    /// <summary>Loss and accuracy per epoch.</summary>
    public const string LearningCurvesFile = "learning_curves.png";

    /// <summary>Confusion matrix heat map.</summary>
    public const string ConfusionMatrixFile = "confusion_matrix.png";

    /// <summary>Precision and recall per class.</summary>
    public const string PerClassFile = "per_class.png";

    /// <summary>Thumbnails of misclassified images.</summary>
    public const string MisclassifiedFile = "misclassified.png";

    /// <summary>Validation accuracy per model-search candidate.</summary>
    public const string LeaderboardFile = "leaderboard.png";

    /// <summary>The page that shows everything.</summary>
    public const string IndexFile = "index.html";

    private static readonly string[] ImageFiles = [LearningCurvesFile, ConfusionMatrixFile, PerClassFile, MisclassifiedFile, LeaderboardFile];

    /// <summary>
    /// Writes the report for <paramref name="data"/> into <paramref name="directory"/> (created when missing), replacing
    /// a previous report there: a picture this report has no data for is removed rather than left stale.
    /// </summary>
    /// <returns>Full paths of the files written, pictures first and index.html last.</returns>
    /// <exception cref="ArgumentException">The confusion matrix is not square or does not match the class list.</exception>
    /// <exception cref="IOException">The directory or a file in it cannot be written (the message names the path).</exception>
    /// <exception cref="UnauthorizedAccessException">Writing is not permitted (the message names the path).</exception>
    public static IReadOnlyList<string> Write(ReportData data, string directory)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Validate(data);
        string root = Path.GetFullPath(directory);
        Guard(root, () => Directory.CreateDirectory(root));

        var pictures = new List<(string File, string Caption, Func<byte[]> Render)>();
        if (data.History.Count > 0)
            pictures.Add((LearningCurvesFile, "Loss and accuracy per epoch", () => LearningCurvesChart.Render(data.History)));
        if (data.ConfusionMatrix is { Length: > 0 } matrix)
            pictures.Add((ConfusionMatrixFile, "Confusion matrix (rows: true class, columns: predicted class)", () => ConfusionMatrixChart.Render(matrix, data.Classes)));
        if (data.PerClass.Count > 0)
            pictures.Add((PerClassFile, "Precision and recall per class", () => BarCharts.PerClass(data.PerClass)));
        if (data.Misclassified.Count > 0)
            pictures.Add((MisclassifiedFile, "Misclassified images: true → predicted (score)", () => MisclassifiedGrid.Render(data.Misclassified)));
        if (data.Leaderboard.Count > 0)
            pictures.Add((LeaderboardFile, "Validation accuracy per candidate (red: misses the latency budget)", () => BarCharts.Leaderboard(data.Leaderboard)));

        var written = new List<string>();
        foreach (var (file, _, render) in pictures)
            written.Add(WriteAtomically(root, file, render()));
        foreach (string stale in ImageFiles.Except(pictures.Select(p => p.File)))
        {
            string path = Path.Combine(root, stale);
            Guard(path, () => File.Delete(path));
        }
        string html = ReportHtml.Render(data, pictures.Select(p => (p.File, p.Caption)).ToArray());
        written.Add(WriteAtomically(root, IndexFile, Encoding.UTF8.GetBytes(html)));
        return written;
    }

    private static void Validate(ReportData data)
    {
        if (data.ConfusionMatrix is not { Length: > 0 } matrix) return;
        int rows = matrix.GetLength(0), columns = matrix.GetLength(1);
        if (rows != columns || rows != data.Classes.Count)
            throw new ArgumentException(
                $"The confusion matrix is {rows}x{columns} but there are {data.Classes.Count} classes; it must be square with one row and column per class.",
                nameof(data));
    }

    /// <summary>Writes to a temporary file beside the target, then moves it over the target.</summary>
    private static string WriteAtomically(string directory, string file, byte[] content)
    {
        string path = Path.Combine(directory, file);
        string temporary = Path.Combine(directory, $".{file}.{Guid.NewGuid():N}.tmp");
        Guard(path, () =>
        {
            try
            {
                File.WriteAllBytes(temporary, content);
                File.Move(temporary, path, overwrite: true);
            }
            finally
            {
                if (File.Exists(temporary)) File.Delete(temporary);
            }
        });
        return path;
    }

    /// <summary>Runs a file-system action, rethrowing its failure with a message that names <paramref name="path"/>.</summary>
    private static void Guard(string path, Action action)
    {
        try
        {
            action();
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UnauthorizedAccessException($"Cannot write the report to '{path}': {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new IOException($"Cannot write the report to '{path}': {e.Message}", e);
        }
    }
}
