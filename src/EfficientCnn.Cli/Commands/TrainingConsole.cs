using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using Spectre.Console;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// Shows a training run: live progress bars with ETA for feature caching, each epoch and validation on an interactive
/// terminal; otherwise (logs, redirected output, tests) one plain line per epoch so logs stay readable.
/// </summary>
internal static class TrainingConsole
{
    /// <summary>Runs <paramref name="fit"/> with <paramref name="options"/>' progress callbacks wired to the console.</summary>
    public static T Run<T>(ImageClassifierTrainer.Options options, Func<T> fit)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            int quarter = 0;
            options.OnProgress = p =>
            {
                // Featurizing a large set takes minutes: a line at every quarter shows it is moving.
                if (p.Phase != "features") return;
                int reached = 4 * p.Done / Math.Max(1, p.Total);
                if (p.Done < p.Total / 4) quarter = 0;
                if (reached <= quarter) return;
                quarter = reached;
                AnsiConsole.WriteLine($"  featurizing {p.Done}/{p.Total} images");
            };
            options.OnEpoch = m => AnsiConsole.WriteLine(EpochLine(m));
            return fit();
        }
        return AnsiConsole.Progress().AutoClear(true).HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                ProgressTask? task = null;
                string? phase = null;
                options.OnProgress = p =>
                {
                    string key = $"{p.Phase} {p.Epoch} {p.Total}";
                    if (key != phase)
                    {
                        task?.StopTask();
                        task = context.AddTask(p.Phase == "features" ? $"featurizing {p.Total} images" : $"epoch {p.Epoch} {p.Phase}", maxValue: Math.Max(1, p.Total));
                        phase = key;
                    }
                    task!.Value = p.Done;
                };
                options.OnEpoch = m =>
                {
                    task?.StopTask();
                    phase = null;
                    AnsiConsole.WriteLine(EpochLine(m));
                };
                return fit();
            });
    }

    /// <summary>One epoch's loss and accuracy (train, then validation), learning rate and seconds, on one short line (logs wrap at 80).</summary>
    public static string EpochLine(EpochMetrics m) =>
        $"  epoch {m.Epoch,3}  train {m.TrainLoss:F3} {m.TrainAccuracy,6:P1}" +
        (m.ValidationAccuracy is { } va ? $"  val {m.ValidationLoss:F3} {va,6:P1}" : "") +
        $"  lr {m.LearningRate:G2}  {m.Seconds:F1}s";
}
