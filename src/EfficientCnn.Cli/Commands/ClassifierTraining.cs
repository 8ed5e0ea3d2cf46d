using System.Diagnostics;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Spectre.Console;

namespace EfficientCnn.Cli.Commands;

/// <summary>The settings every training run of one <c>train</c> command shares.</summary>
/// <param name="Resolution">Input size, or null for the backbone's.</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="Seed">Seed of everything random.</param>
/// <param name="Checkpoint">Folder for per-epoch checkpoints (resumed), or null.</param>
/// <param name="Precision">Precision of the forward pass and loss.</param>
internal sealed record TrainSetup(int? Resolution, int BatchSize, int Seed, string? Checkpoint, TrainingPrecision Precision);

/// <summary>A trained model with its training history.</summary>
/// <param name="Backbone">The backbone it started from.</param>
/// <param name="Scope">What was trained.</param>
/// <param name="Scorer">The trained classifier (ONNX inside).</param>
/// <param name="Result">History, best epoch, skipped images, cancellation.</param>
/// <param name="Seconds">Wall time of training.</param>
internal sealed record TrainedModel(string Backbone, TrainScope Scope, OnnxImageTransformer Scorer, TrainingResult Result, double Seconds)
{
    /// <summary>The best validation accuracy of the run (the epoch whose weights were kept), or null without validation.</summary>
    public double? ValidationAccuracy => Result.History.Max(h => h.ValidationAccuracy);
}

/// <summary>
/// Trains ML.NET image classifiers on one dataset: the (ImagePath, Label) rows are keyed once (classes in ordinal
/// order) and split once (stratified, seeded), so every run of an experiment sees the same training and validation data.
/// </summary>
internal sealed class ClassifierTraining
{
    private readonly MLContext ml;
    private readonly IDataView train;
    private readonly IDataView? validation;

    /// <summary>Keys the labels and holds out <paramref name="validationFraction"/> of each class (0 for none).</summary>
    public ClassifierTraining(MLContext ml, ImageDataset data, double validationFraction, int seed)
    {
        this.ml = ml;
        var (trainPart, validationPart) = validationFraction > 0 ? data.StratifiedSplit(validationFraction, seed) : (data, null);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Fit(ImageData.ToDataView(ml, data));
        train = keys.Transform(ImageData.ToDataView(ml, trainPart));
        if (validationPart is { Count: > 0 }) validation = keys.Transform(ImageData.ToDataView(ml, validationPart));
        Train = trainPart;
        Validation = validationPart is { Count: > 0 } ? validationPart : null;
        SampleImage = ImageData.PathOf(data.Items[0]);
    }

    /// <summary>The images trained on.</summary>
    public ImageDataset Train { get; }

    /// <summary>The held-out images, or null.</summary>
    public ImageDataset? Validation { get; }

    private string SampleImage { get; }

    /// <summary>One training run of <paramref name="epochs"/> epochs, shown on the console.</summary>
    public TrainedModel Fit(TrainSetup setup, string backbone, TrainScope scope, int epochs, string? checkpoint, CancellationToken cancellationToken)
    {
        var options = new ImageClassifierTrainer.Options
        {
            Backbone = backbone, Resolution = setup.Resolution, Epochs = epochs, BatchSize = setup.BatchSize, Scope = scope,
            ValidationSet = validation, Seed = setup.Seed, CheckpointDirectory = checkpoint, Precision = setup.Precision,
            OnBadImage = BadImagePolicy.Skip, CancellationToken = cancellationToken,
        };
        var trainer = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(options);
        var watch = Stopwatch.StartNew();
        var scorer = TrainingConsole.Run(options, () => trainer.Fit(train));
        return new TrainedModel(backbone, scope, scorer, trainer.LastResult!, watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Trains within a deadline. Head only: many cheap epochs on cached features, cut off at the deadline. End to end:
    /// one epoch first (pure warm-up, the same whatever the total), whose duration sets how many epochs fit, so the
    /// cosine schedule ends with the budget; the run then resumes from that epoch's checkpoint. The deadline cancels
    /// whatever is still running, and the trainer keeps the best weights so far.
    /// </summary>
    /// <param name="setup">Shared settings.</param>
    /// <param name="backbone">Backbone name or ONNX path.</param>
    /// <param name="scope">What to train.</param>
    /// <param name="epochs">Epochs; with a deadline, the most epochs (null: as many as fit).</param>
    /// <param name="deadline">When to stop, or null for none.</param>
    /// <param name="cancellationToken">Ctrl-C.</param>
    public TrainedModel FitWithinBudget(TrainSetup setup, string backbone, TrainScope scope, int? epochs, DateTime? deadline, CancellationToken cancellationToken)
    {
        if (deadline is not { } end) return Fit(setup, backbone, scope, epochs ?? DefaultEpochs(scope), setup.Checkpoint, cancellationToken);
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(Remaining(end));
        if (scope == TrainScope.HeadOnly) return Fit(setup, backbone, scope, epochs ?? DefaultEpochs(scope), null, budget.Token);

        string checkpoint = setup.Checkpoint ?? TemporaryFolders.NewPath(TemporaryFolders.TrainPrefix);
        try
        {
            var first = Fit(setup, backbone, scope, 1, checkpoint, budget.Token);
            var history = first.Result.History;
            if (first.Result.Cancelled || history.Count == 0) return first;
            double epochSeconds = Math.Max(history[^1].Seconds, 1e-3);
            // Keep a twentieth of what is left for exporting, evaluating and saving the model.
            double left = Remaining(end).TotalSeconds * 0.95;
            int total = history.Count + (int)Math.Floor(left / epochSeconds);
            if (epochs is { } most) total = Math.Min(total, most);
            if (total <= history.Count) return first;
            AnsiConsole.WriteLine($"  {epochSeconds:F1} s per epoch: {total} epochs fit in the time budget");
            var rest = Fit(setup, backbone, scope, total, checkpoint, budget.Token);
            return rest with { Seconds = first.Seconds + rest.Seconds };
        }
        finally
        {
            if (setup.Checkpoint is null && Directory.Exists(checkpoint)) Directory.Delete(checkpoint, recursive: true);
        }
    }

    private static int DefaultEpochs(TrainScope scope) => scope == TrainScope.HeadOnly ? 30 : 10;

    private static TimeSpan Remaining(DateTime end)
    {
        var left = end - DateTime.UtcNow;
        return left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1);
    }

    /// <summary>The pipeline saved in the zip: the classifier, then its key-typed PredictedLabel mapped to the class name.</summary>
    public ITransformer Pipeline(OnnxImageTransformer scorer)
    {
        var sample = ImageData.ToDataView(ml, [SampleImage]);
        var toText = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scorer.Transform(sample));
        return new TransformerChain<ITransformer>(scorer, toText);
    }
}
