using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace EfficientCnn.Cli.Terminal;

/// <summary>The callbacks a training run reports to (they go into the trainer's options).</summary>
/// <param name="OnProgress">Called after every batch.</param>
/// <param name="OnEpoch">Called after every epoch.</param>
/// <param name="OnEpochsPlanned">Called when a time budget has set the number of epochs.</param>
internal sealed record TrainingCallbacks(Action<TrainingProgress> OnProgress, Action<EpochMetrics> OnEpoch, Action<int> OnEpochsPlanned);

/// <summary>
/// Shows a training run. On an interactive terminal: a live bar over the whole run (epochs × images) with elapsed
/// time, remaining time and images per second, plus bars for feature caching and validation. Otherwise (CI logs,
/// redirected output, tests): plain lines, one every tenth of an epoch with the remaining time, one per quarter of
/// feature caching. The caller's epoch line is printed after every epoch in both cases.
/// </summary>
internal static class TrainingConsole
{
    /// <summary>Runs <paramref name="fit"/> with <paramref name="options"/>' callbacks wired to the console (the <c>train</c> command).</summary>
    public static T Run<T>(ImageClassifierTrainerOptions options, Func<ImageClassifierTrainerOptions, T> fit)
    {
        // With a time budget an end-to-end run starts with one epoch; the rest is planned from its duration.
        int epochs = options.TimeBudget is null || options.Training.Scope == TrainScope.HeadOnly ? options.Training.Epochs : 1;
        return Run(epochs, m => AnsiConsole.WriteLine(EpochLine(m)), callbacks => fit(options with
        {
            Training = options.Training with { OnProgress = callbacks.OnProgress, OnEpoch = callbacks.OnEpoch },
            OnEpochsPlanned = callbacks.OnEpochsPlanned,
        }));
    }

    /// <summary>
    /// Runs <paramref name="fit"/>, which must pass the callbacks it is given to its trainer; <paramref name="onEpoch"/>
    /// prints the epoch's line (and may log it) after every epoch of the <paramref name="epochs"/>-epoch run.
    /// </summary>
    public static T Run<T>(int epochs, Action<EpochMetrics> onEpoch, Func<TrainingCallbacks, T> fit)
    {
        var eta = new TrainingEta(epochs);
        if (!LiveDisplay) return fit(PlainLines(eta, onEpoch));
        LiveBars? bars = null;
        return AnsiConsole.Progress().AutoClear(true).HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(),
                new TextColumn(task => bars?.RateAndRemaining(task) ?? ""), new SpinnerColumn())
            .Start(context =>
            {
                bars = new LiveBars(context, eta, onEpoch);
                return fit(bars.Callbacks);
            });
    }

    /// <summary>Whether a live display can be drawn: an interactive terminal whose output goes to the screen.</summary>
    private static bool LiveDisplay => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    private static TrainingCallbacks PlainLines(TrainingEta eta, Action<EpochMetrics> onEpoch)
    {
        int reported = 0;
        string? phase = null;
        return new TrainingCallbacks(p =>
        {
            // Featurizing a large set takes minutes and an epoch can take hours: a line every quarter (features) or
            // tenth (epoch) shows it is moving; an epoch's last step is left to its epoch line.
            if (p.Phase == "train") eta.Update(p);
            int parts = p.Phase switch { "train" => 10, "features" => 4, _ => 0 };
            if (parts == 0) return;
            string key = $"{p.Phase} {p.Epoch} {p.Total}";
            if (key != phase) (phase, reported) = (key, 0);
            int reached = (int)((long)parts * p.Done / Math.Max(1, p.Total));
            if (reached <= reported || (p.Phase == "train" && p.Done >= p.Total)) return;
            reported = reached;
            AnsiConsole.WriteLine(p.Phase == "train"
                ? $"  epoch {p.Epoch}/{eta.Epochs} {100 * p.Done / Math.Max(1, p.Total),3}% ({p.Done}/{p.Total} images), {eta.RateAndRemaining()}"
                : $"  featurizing {p.Done}/{p.Total} images");
        }, onEpoch, epochs => Planned(eta, epochs));
    }

    /// <summary>The live bars: one over the whole run, one for the phase in progress (feature caching, validation).</summary>
    private sealed class LiveBars
    {
        private readonly ProgressContext context;
        private readonly TrainingEta eta;
        private ProgressTask? run, phaseTask;
        private string? phase;

        public LiveBars(ProgressContext context, TrainingEta eta, Action<EpochMetrics> onEpoch)
        {
            this.context = context;
            this.eta = eta;
            Callbacks = new TrainingCallbacks(Progress, m =>
            {
                phaseTask?.StopTask();
                phase = null;
                onEpoch(m);
            }, epochs => Planned(eta, epochs));
        }

        public TrainingCallbacks Callbacks { get; }

        /// <summary>The text after the elapsed time: the run's images per second and remaining time, a phase's remaining time.</summary>
        public string RateAndRemaining(ProgressTask task) =>
            task == run ? eta.RateAndRemaining() : task.RemainingTime is { } left ? $"eta {TrainingEta.Clock(left)}" : "";

        private void Progress(TrainingProgress p)
        {
            if (p.Phase == "train")
            {
                eta.Update(p);
                run ??= context.AddTask("epoch", maxValue: Math.Max(1, eta.TotalImages));
                run.Description = $"epoch {p.Epoch}/{eta.Epochs}";
                run.MaxValue = Math.Max(1, eta.TotalImages);
                run.Value = eta.ImagesDone;
                return;
            }
            string key = $"{p.Phase} {p.Epoch} {p.Total}";
            if (key != phase)
            {
                phaseTask?.StopTask();
                phaseTask = context.AddTask(p.Phase == "features" ? $"featurizing {p.Total} images" : $"epoch {p.Epoch} {p.Phase}", maxValue: Math.Max(1, p.Total));
                phase = key;
            }
            phaseTask!.Value = p.Done;
        }
    }

    private static void Planned(TrainingEta eta, int epochs)
    {
        eta.Epochs = epochs;
        AnsiConsole.WriteLine($"  {epochs} epochs fit in the time budget");
    }

    /// <summary>One epoch's loss and accuracy (train, then validation), learning rate and seconds, on one short line (logs wrap at 80).</summary>
    public static string EpochLine(EpochMetrics m) =>
        $"  epoch {m.Epoch,3}  train {m.TrainLoss:F3} {m.TrainAccuracy,6:P1}" +
        (m.ValidationAccuracy is { } va ? $"  val {m.ValidationLoss:F3} {va,6:P1}" : "") +
        $"  lr {m.LearningRate:G2}  {m.Seconds:F1}s";

    /// <summary>A progress column of text computed per task on every refresh.</summary>
    private sealed class TextColumn(Func<ProgressTask, string> text) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) => new Text(text(task));
    }
}
