using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet.Search;
using Spectre.Console;

namespace EfficientCnn.Cli.Commands;

/// <summary>One candidate of the <c>auto</c> experiment.</summary>
/// <param name="Name">Candidate name (backbone and mode).</param>
/// <param name="Backbone">Backbone it started from.</param>
/// <param name="Mode">head-only or fine-tune.</param>
/// <param name="ValidationAccuracy">Best validation accuracy (fraction).</param>
/// <param name="LatencyMs">Median ONNX Runtime latency per image (batch 1, one thread).</param>
/// <param name="Seconds">Training wall time.</param>
/// <param name="MeetsLatency">Within --max-latency-ms (always true without it).</param>
internal sealed record LeaderboardRow(string Name, string Backbone, string Mode, double ValidationAccuracy, double LatencyMs, double Seconds, bool MeetsLatency);

/// <summary>
/// <c>--backbone auto</c>, a small experiment in the spirit of Model Builder: within the time budget, train only a head
/// on cached features of a few candidate backbones (fast), time each model, then fine-tune the most accurate one that
/// meets the latency limit end to end with the remaining time, and keep the best model by validation accuracy.
/// </summary>
internal static class AutoExperiment
{
    /// <summary>Small zoo variants tried when no pretrained backbone is bundled.</summary>
    public static readonly IReadOnlyList<string> SmallZoo = ["mobilenet_v2_0.5", "mnasnet_b1_0.5", "shufflenet_v2_1.0"];

    /// <summary>Share of the budget spent on the head-only candidates.</summary>
    private const double HeadOnlyShare = 0.4;

    /// <summary>Up to three bundled (pretrained) backbones, else <see cref="SmallZoo"/>.</summary>
    public static IReadOnlyList<string> Candidates() =>
        BackboneSource.BundledNames.Count > 0 ? BackboneSource.BundledNames.Take(3).ToArray() : SmallZoo.Where(BackboneRegistry.Contains).ToArray();

    /// <summary>Runs the experiment; returns the chosen model and the leaderboard (best first).</summary>
    /// <exception cref="InvalidOperationException">The budget ran out before any candidate finished.</exception>
    public static (TrainedModel Best, IReadOnlyList<LeaderboardRow> Leaderboard) Run(ClassifierTraining training, TrainSetup setup, int? epochs,
        double? maxLatencyMs, DateTime? deadline, CancellationToken cancellationToken)
    {
        var candidates = Candidates();
        var start = DateTime.UtcNow;
        var tried = new List<(LeaderboardRow Row, TrainedModel Model)>();
        for (int i = 0; i < candidates.Count && !cancellationToken.IsCancellationRequested; i++)
        {
            DateTime? until = deadline is { } end ? start + (end - start) * (HeadOnlyShare * (i + 1) / candidates.Count) : null;
            AnsiConsole.WriteLine($"[{i + 1}/{candidates.Count}] {candidates[i]}: head only on cached features");
            if (TryTrain(training, setup, candidates[i], TrainScope.HeadOnly, epochs, until, maxLatencyMs, cancellationToken) is { } entry)
                tried.Add(entry);
        }
        if (tried.Count == 0)
            throw new InvalidOperationException("The time budget ran out before any candidate finished: give more --time.");

        var promising = Choose(tried);
        bool timeLeft = deadline is not { } stop || stop - DateTime.UtcNow > TimeSpan.FromSeconds(1);
        if (timeLeft && !cancellationToken.IsCancellationRequested)
        {
            AnsiConsole.WriteLine($"[fine-tune] {promising.Model.Backbone}: end to end with the remaining time");
            if (TryTrain(training, setup, promising.Model.Backbone, TrainScope.All, epochs, deadline, maxLatencyMs, cancellationToken) is { } tuned)
                tried.Add(tuned);
        }
        var best = Choose(tried);
        var board = tried.Select(t => t.Row).OrderByDescending(r => r.MeetsLatency).ThenByDescending(r => r.ValidationAccuracy).ToArray();
        Print(board, best.Row);
        return (best.Model, board);
    }

    /// <summary>The most accurate candidate within the latency limit; the fastest when none is (with a warning).</summary>
    private static (LeaderboardRow Row, TrainedModel Model) Choose(List<(LeaderboardRow Row, TrainedModel Model)> tried)
    {
        var eligible = tried.Where(t => t.Row.MeetsLatency).ToList();
        if (eligible.Count > 0) return eligible.MaxBy(t => t.Row.ValidationAccuracy);
        AnsiConsole.MarkupLine("[yellow]warning:[/] no candidate meets --max-latency-ms; keeping the fastest.");
        return tried.MinBy(t => t.Row.LatencyMs);
    }

    private static (LeaderboardRow Row, TrainedModel Model)? TryTrain(ClassifierTraining training, TrainSetup setup, string backbone, TrainScope scope,
        int? epochs, DateTime? deadline, double? maxLatencyMs, CancellationToken cancellationToken)
    {
        TrainedModel model;
        try
        {
            model = training.FitWithinBudget(setup, backbone, scope, epochs, deadline, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            AnsiConsole.WriteLine("  stopped before the first epoch finished; left out");
            return null;
        }
        if (model.Result.History.Count == 0)
        {
            AnsiConsole.WriteLine("  no epoch finished within its share of the budget; left out");
            return null;
        }
        var onnx = model.Scorer.Model;
        double latency = OnnxLatency.Measure(onnx.Onnx, onnx.Preprocessing.Resolution, batchSize: 1, warmup: 3, runs: 20, threads: 1).MedianMsPerImage;
        string mode = scope == TrainScope.HeadOnly ? "head-only" : "fine-tune";
        var row = new LeaderboardRow($"{backbone} {mode}", backbone, mode, model.ValidationAccuracy ?? 0, latency, model.Seconds,
            maxLatencyMs is not { } limit || latency <= limit);
        AnsiConsole.WriteLine($"  validation accuracy {row.ValidationAccuracy:P1}, {latency:F2} ms per image, {model.Seconds:F1} s");
        return (row, model);
    }

    private static void Print(IReadOnlyList<LeaderboardRow> board, LeaderboardRow chosen)
    {
        var table = new Table().Title("Leaderboard").AddColumns("", "name", "backbone", "mode", "val accuracy", "latency ms", "seconds", "meets latency");
        foreach (var r in board)
            table.AddRow(ReferenceEquals(r, chosen) ? "*" : "", Markup.Escape(r.Name), Markup.Escape(r.Backbone), r.Mode, $"{r.ValidationAccuracy:P1}",
                $"{r.LatencyMs:F2}", $"{r.Seconds:F1}", r.MeetsLatency ? "yes" : "no");
        AnsiConsole.Write(table);
    }
}
