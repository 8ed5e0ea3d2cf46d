using System.Diagnostics;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet.Search;
using Microsoft.ML;

namespace EfficientCnn.MLNet.Experiments;

/// <summary>A trained classifier with its training history.</summary>
/// <param name="Backbone">The backbone it started from.</param>
/// <param name="Scope">What was trained.</param>
/// <param name="Scorer">The trained classifier (ONNX inside).</param>
/// <param name="Result">History, best epoch, skipped images, cancellation.</param>
/// <param name="Seconds">Wall time of training.</param>
public sealed record TrainedImageClassifier(BackboneSource Backbone, TrainScope Scope, OnnxImageTransformer Scorer, TrainingResult Result, double Seconds)
{
    /// <summary>The best validation accuracy of the run (the epoch whose weights were kept), or null without validation.</summary>
    public double? ValidationAccuracy => Result.BestValidationAccuracy;
}

/// <summary>One trial of the experiment.</summary>
/// <param name="Name">Trial name (backbone and mode).</param>
/// <param name="Backbone">Name of the backbone it started from.</param>
/// <param name="Mode">head-only or fine-tune.</param>
/// <param name="ValidationAccuracy">Best validation accuracy (fraction).</param>
/// <param name="LatencyMs">Median ONNX Runtime latency per image (batch 1, one thread).</param>
/// <param name="Seconds">Training wall time.</param>
/// <param name="MeetsLatency">Within <see cref="ImageClassificationExperimentOptions.MaxLatencyMs"/> (always true without it).</param>
public sealed record LeaderboardRow(string Name, string Backbone, string Mode, double ValidationAccuracy, double LatencyMs, double Seconds, bool MeetsLatency);

/// <summary>The outcome of <see cref="ImageClassificationExperiment.Run"/>.</summary>
/// <param name="Best">The chosen model: the most accurate within the latency limit (the fastest when none is).</param>
/// <param name="Leaderboard">Every finished trial, those within the latency limit first, then by validation accuracy.</param>
public sealed record ImageClassificationExperimentResult(TrainedImageClassifier Best, IReadOnlyList<LeaderboardRow> Leaderboard)
{
    /// <summary>The leaderboard row of <see cref="Best"/>.</summary>
    public LeaderboardRow BestRow => Leaderboard.First(r => r.Name == $"{Best.Backbone.Name} {ImageClassificationExperiment.ModeName(Best.Scope)}");
}

/// <summary>Settings of <see cref="ImageClassificationExperiment"/>.</summary>
public sealed record ImageClassificationExperimentOptions
{
    /// <summary>Backbones to try; null: <see cref="ImageClassificationExperiment.DefaultCandidates"/>.</summary>
    public IReadOnlyList<BackboneSource>? Candidates { get; init; }

    /// <summary>Wall time of the whole experiment, or null for none (each trial then runs its epochs).</summary>
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>Epochs per trial (with a budget, the most); null: 30 head-only, 10 fine-tuning (as many as fit with a budget).</summary>
    public int? Epochs { get; init; }

    /// <summary>Keep only models at most this slow per image (ONNX Runtime, batch 1, one thread, this machine), or null.</summary>
    public double? MaxLatencyMs { get; init; }

    /// <summary>
    /// The settings every trial shares (batch size, resolution, seed, precision, checkpoint folder, columns...); each
    /// trial sets its backbone, scope, epochs and time budget.
    /// </summary>
    public ImageClassifierTrainerOptions Trainer { get; init; } = new();

    /// <summary>Progress lines (trial started, accuracy and latency, choices), or null.</summary>
    public Action<string>? OnMessage { get; init; }

    /// <summary>
    /// Runs one trial: given the trial's trainer options and the fit, returns the trained scorer. Null calls the fit
    /// as it is; a front end wraps it (the CLI adds its progress display to the options' callbacks).
    /// </summary>
    public Func<ImageClassifierTrainerOptions, Func<ImageClassifierTrainerOptions, OnnxImageTransformer>, OnnxImageTransformer>? RunTrial { get; init; }
}

/// <summary>
/// Image classification as an experiment, in the spirit of ML.NET AutoML and Model Builder: within a time budget,
/// train only a head on cached features of a few candidate backbones (fast), time each model, then fine-tune the most
/// accurate one that meets the latency limit end to end with the remaining time, and keep the best model by validation
/// accuracy. <see cref="Train"/> is one trial on its own: the budgeted training of one backbone.
/// </summary>
public sealed class ImageClassificationExperiment
{
    /// <summary>Small zoo variants tried when no pretrained backbone is bundled.</summary>
    public static readonly IReadOnlyList<string> SmallZoo = ["mobilenet_v2_0.5", "mnasnet_b1_0.5", "shufflenet_v2_1.0"];

    /// <summary>Share of the budget spent on the head-only candidates.</summary>
    private const double HeadOnlyShare = 0.4;

    private readonly MLContext ml;
    private readonly ImageClassificationExperimentOptions options;

    /// <summary>An experiment in <paramref name="ml"/> (its seed, log and GPU settings) with <paramref name="options"/>.</summary>
    public ImageClassificationExperiment(MLContext ml, ImageClassificationExperimentOptions options)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Epochs is < 1) throw new ArgumentException($"Epochs must be >= 1, got {options.Epochs}.", nameof(options.Epochs));
        if (options.MaxLatencyMs is <= 0) throw new ArgumentException($"MaxLatencyMs must be > 0, got {options.MaxLatencyMs}.", nameof(options.MaxLatencyMs));
        if (options.TimeBudget is { } budget && budget <= TimeSpan.Zero) throw new ArgumentException($"TimeBudget must be positive, got {budget}.", nameof(options.TimeBudget));
        if (options.Candidates is { Count: 0 }) throw new ArgumentException("Candidates must name at least one backbone (null: the default candidates).", nameof(options.Candidates));
        options.Trainer.Validate();
        this.ml = ml;
        this.options = options;
    }

    /// <summary>Up to three bundled (pretrained) backbones, else <see cref="SmallZoo"/>.</summary>
    public static IReadOnlyList<BackboneSource> DefaultCandidates() =>
        (BackboneSource.BundledNames.Count > 0 ? BackboneSource.BundledNames.Take(3) : SmallZoo.Where(BackboneRegistry.Contains))
        .Select(name => BackboneSource.Resolve(name)).ToArray();

    /// <summary>Epochs of a trial when <see cref="ImageClassificationExperimentOptions.Epochs"/> is null.</summary>
    public static int DefaultEpochs(TrainScope scope, bool budgeted) =>
        scope == TrainScope.HeadOnly ? 30 : budgeted ? int.MaxValue : 10;

    /// <summary>"head-only" or "fine-tune".</summary>
    public static string ModeName(TrainScope scope) => scope == TrainScope.HeadOnly ? "head-only" : "fine-tune";

    /// <summary>Runs the experiment on keyed training and validation rows (e.g. <see cref="ImageClassificationData"/>).</summary>
    /// <param name="train">Rows with the trainer's image column and a key-typed label column.</param>
    /// <param name="validation">Held-out rows: candidates are compared on them.</param>
    /// <exception cref="InvalidOperationException">The budget ran out before any candidate finished.</exception>
    public ImageClassificationExperimentResult Run(IDataView train, IDataView validation)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        var candidates = options.Candidates ?? DefaultCandidates();
        var cancel = options.Trainer.CancellationToken;
        var start = DateTime.UtcNow;
        DateTime? deadline = options.TimeBudget is { } budget ? start + budget : null;
        var tried = new List<(LeaderboardRow Row, TrainedImageClassifier Model)>();
        for (int i = 0; i < candidates.Count && !cancel.IsCancellationRequested; i++)
        {
            DateTime? until = deadline is { } end ? start + (end - start) * (HeadOnlyShare * (i + 1) / candidates.Count) : null;
            Say($"[{i + 1}/{candidates.Count}] {candidates[i].Name}: head only on cached features");
            if (TryTrain(train, validation, candidates[i], TrainScope.HeadOnly, Remaining(until)) is { } entry) tried.Add(entry);
        }
        if (tried.Count == 0)
            throw new InvalidOperationException("The time budget ran out before any candidate finished: give more time.");

        var promising = Choose(tried);
        bool timeLeft = deadline is not { } stop || stop - DateTime.UtcNow > TimeSpan.FromSeconds(1);
        if (timeLeft && !cancel.IsCancellationRequested)
        {
            Say($"[fine-tune] {promising.Model.Backbone.Name}: end to end with the remaining time");
            if (TryTrain(train, validation, promising.Model.Backbone, TrainScope.All, Remaining(deadline)) is { } tuned) tried.Add(tuned);
        }
        var best = Choose(tried);
        var board = tried.Select(t => t.Row).OrderByDescending(r => r.MeetsLatency).ThenByDescending(r => r.ValidationAccuracy).ToArray();
        return new ImageClassificationExperimentResult(best.Model, board);
    }

    /// <summary>One trial: trains <paramref name="backbone"/> with <paramref name="scope"/> within <paramref name="budget"/> (null: no limit).</summary>
    public TrainedImageClassifier Train(IDataView train, IDataView? validation, BackboneSource backbone, TrainScope scope, TimeSpan? budget)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(backbone);
        var trial = options.Trainer with
        {
            Backbone = backbone, ValidationSet = validation, TimeBudget = budget,
            Training = options.Trainer.Training with { Scope = scope, Epochs = options.Epochs ?? DefaultEpochs(scope, budget is not null) },
        };
        var watch = Stopwatch.StartNew();
        ImageClassifierTrainer? trainer = null;
        OnnxImageTransformer Fit(ImageClassifierTrainerOptions o)
        {
            trainer = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(o);
            return trainer.Fit(train);
        }
        var scorer = options.RunTrial is { } run ? run(trial, Fit) : Fit(trial);
        if (trainer?.LastResult is not { } result)
            throw new InvalidOperationException("RunTrial returned without calling the fit it was given.");
        return new TrainedImageClassifier(backbone, scope, scorer, result, watch.Elapsed.TotalSeconds);
    }

    /// <summary>The most accurate trial within the latency limit; the fastest when none is (with a warning).</summary>
    private (LeaderboardRow Row, TrainedImageClassifier Model) Choose(List<(LeaderboardRow Row, TrainedImageClassifier Model)> tried)
    {
        var eligible = tried.Where(t => t.Row.MeetsLatency).ToList();
        if (eligible.Count > 0) return eligible.MaxBy(t => t.Row.ValidationAccuracy);
        Say("warning: no candidate meets the latency limit; keeping the fastest.");
        return tried.MinBy(t => t.Row.LatencyMs);
    }

    private (LeaderboardRow Row, TrainedImageClassifier Model)? TryTrain(IDataView train, IDataView validation, BackboneSource backbone, TrainScope scope, TimeSpan? budget)
    {
        TrainedImageClassifier model;
        try
        {
            model = Train(train, validation, backbone, scope, budget);
        }
        catch (OperationCanceledException)
        {
            Say("  stopped before the first epoch finished; left out");
            return null;
        }
        if (model.Result.History.Count == 0)
        {
            Say("  no epoch finished within its share of the budget; left out");
            return null;
        }
        var onnx = model.Scorer.Model;
        double latency = OnnxLatency.Measure(onnx.Onnx, onnx.Preprocessing.Resolution, batchSize: 1, warmup: 3, runs: 20, threads: 1).MedianMsPerImage;
        var row = new LeaderboardRow($"{backbone.Name} {ModeName(scope)}", backbone.Name, ModeName(scope), model.ValidationAccuracy ?? 0, latency, model.Seconds,
            options.MaxLatencyMs is not { } limit || latency <= limit);
        Say($"  validation accuracy {row.ValidationAccuracy:P1}, {latency:F2} ms per image, {model.Seconds:F1} s");
        return (row, model);
    }

    private void Say(string line) => options.OnMessage?.Invoke(line);

    private static TimeSpan? Remaining(DateTime? end) =>
        end is { } e ? (e - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1)) : null;
}
