using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Runtime;
using EfficientCnn.Backbones.Training;

namespace EfficientCnn.Backbones.Workflow;

/// <summary>
/// "Train a classifier from a backbone", with or without a time budget: the one path every classifier training run
/// takes (the ML.NET trainer, and through it <c>train</c> and the auto experiment; <c>pretrain</c>). The backbone comes
/// resolved, with the preprocessing the run uses.
/// </summary>
/// <param name="backbone">The resolved backbone; its <see cref="BackboneSource.Preprocessing"/> is the model's.</param>
/// <param name="train">Training images.</param>
/// <param name="validation">Held-out images, or null.</param>
/// <param name="cancellationToken">Stops after the current batch (the best weights so far are kept).</param>
public sealed class BackboneClassifierTraining(BackboneSource backbone, ImageDataset train, ImageDataset? validation, CancellationToken cancellationToken)
{
    /// <summary>One run of <paramref name="options"/>' epochs, stopped by <paramref name="stop"/>.</summary>
    public TrainingResult Train(ClassifierTrainingOptions options, CancellationToken stop) =>
        new ClassifierTrainer(options).Train(backbone.CreateFeatureExtractor(options.Seed), backbone.Preprocessing, train, validation, stop);

    /// <summary>
    /// Trains within <paramref name="budget"/>. Head only: epochs on cached features, cut off when the time is up. End to
    /// end: one epoch first (pure warm-up, the same whatever the total), whose duration sets how many epochs fit (at most
    /// <see cref="ClassifierTrainingOptions.Epochs"/>), so the cosine schedule ends with the budget; the run then resumes
    /// from that epoch's checkpoint. The budget cancels whatever is still running, and the best weights so far are kept.
    /// </summary>
    /// <param name="options">Settings; <see cref="ClassifierTrainingOptions.Epochs"/> is the most epochs.</param>
    /// <param name="budget">Wall time allowed.</param>
    /// <param name="onEpochsPlanned">Told the number of epochs that fit, once the first epoch has set it.</param>
    public TrainingResult WithinBudget(ClassifierTrainingOptions options, TimeSpan budget, Action<int>? onEpochsPlanned = null)
    {
        var end = DateTime.UtcNow + budget;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(budget);
        // Head-only epochs on cached features are cheap: no checkpoint (the auto experiment's candidates would share one).
        if (options.Scope == TrainScope.HeadOnly) return Train(options with { CheckpointDirectory = null }, limit.Token);

        TemporaryFolders.DeleteOrphans(TemporaryFolders.TrainPrefix);
        string checkpoint = options.CheckpointDirectory ?? TemporaryFolders.NewPath(TemporaryFolders.TrainPrefix);
        try
        {
            // The network is built for each of the two runs: the second resumes from the first's checkpoint.
            var first = Train(options with { Epochs = 1, CheckpointDirectory = checkpoint }, limit.Token);
            if (first.Cancelled || first.History.Count == 0) return first;
            double epochSeconds = Math.Max(first.History[^1].Seconds, 1e-3);
            // Keep a twentieth of what is left for exporting, evaluating and saving the model.
            double left = Math.Max(0, (end - DateTime.UtcNow).TotalSeconds) * 0.95;
            int total = (int)Math.Min(options.Epochs, first.History.Count + Math.Floor(left / epochSeconds));
            if (total <= first.History.Count) return first;
            onEpochsPlanned?.Invoke(total);
            return Train(options with { Epochs = total, CheckpointDirectory = checkpoint }, limit.Token);
        }
        finally
        {
            if (options.CheckpointDirectory is null && Directory.Exists(checkpoint)) Directory.Delete(checkpoint, recursive: true);
        }
    }
}
