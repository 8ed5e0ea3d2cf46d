using EfficientCnn.MLNet.Experiments;
using Spectre.Console;

namespace EfficientCnn.Cli.Terminal;

/// <summary>Prints the auto experiment's leaderboard as a console table, the chosen model starred.</summary>
internal static class LeaderboardTable
{
    /// <summary>Writes the table to the console.</summary>
    public static void Print(ImageClassificationExperimentResult outcome)
    {
        var chosen = outcome.BestRow;
        var table = new Table().Title("Leaderboard").AddColumns("", "name", "backbone", "mode", "val accuracy", "latency ms", "seconds", "meets latency");
        foreach (var r in outcome.Leaderboard)
            table.AddRow(r == chosen ? "*" : "", Markup.Escape(r.Name), Markup.Escape(r.Backbone), r.Mode, $"{r.ValidationAccuracy:P1}",
                $"{r.LatencyMs:F2}", $"{r.Seconds:F1}", r.MeetsLatency ? "yes" : "no");
        AnsiConsole.Write(table);
    }
}
