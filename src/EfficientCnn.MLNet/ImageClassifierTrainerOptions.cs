using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using Microsoft.ML;

namespace EfficientCnn.MLNet;

/// <summary>
/// Every setting of <see cref="ImageClassifierTrainer"/>. Like the featurizer's and the scorer's options, an init-only
/// record: the training loop's settings are the engine's own <see cref="ClassifierTrainingOptions"/> (<see cref="Training"/>)
/// and the trained model's scoring settings are <see cref="ImageScoringOptions"/> (<see cref="Scoring"/>), held rather
/// than mirrored field by field.
/// </summary>
public sealed record ImageClassifierTrainerOptions
{
    /// <summary>Label column: a key (use <c>Conversion.MapValueToKey</c>) whose key values name the classes.</summary>
    public string LabelColumnName { get; init; } = "Label";

    /// <summary>
    /// The backbone, resolved once (<see cref="BackboneSource.Resolve"/>: a bundled model, zoo variant, ONNX file or
    /// architecture spec .json); its <see cref="BackboneSource.Preprocessing"/> is the model's unless overridden below.
    /// Null: the default bundled backbone.
    /// </summary>
    public BackboneSource? Backbone { get; init; }

    /// <summary>Preprocessing instead of the backbone's own, or null.</summary>
    public PreprocessingSpec? Preprocessing { get; init; }

    /// <summary>Input resolution overriding the preprocessing's; smaller trains faster.</summary>
    public int? Resolution { get; init; }

    /// <summary>
    /// The training loop's settings (epochs, batch size, optimizer, scope, augmentation, checkpoints, callbacks...).
    /// Its <see cref="ClassifierTrainingOptions.Seed"/> is replaced by <see cref="Seed"/>.
    /// </summary>
    public ClassifierTrainingOptions Training { get; init; } = new();

    /// <summary>
    /// Seed of everything random: same seed on a CPU gives the same model. Null takes the MLContext's seed
    /// (<c>new MLContext(seed: n)</c>), or 0 when it has none.
    /// </summary>
    public int? Seed { get; init; }

    /// <summary>Validation data (same columns), or null to split <see cref="ValidationFraction"/> off the training data.</summary>
    public IDataView? ValidationSet { get; init; }

    /// <summary>Fraction of each class held out for validation when <see cref="ValidationSet"/> is null; 0 for none.</summary>
    public double ValidationFraction { get; init; }

    /// <summary>
    /// Text column naming each row's group (frames of one sprite, photos of one object): rows of a group stay on the
    /// same side of the <see cref="ValidationFraction"/> split, as with <c>TrainTestSplit</c>'s
    /// <c>samplingKeyColumnName</c>; null (default) splits row by row.
    /// </summary>
    public string? SamplingKeyColumnName { get; init; }

    /// <summary>
    /// Train within this time, or null for no limit. Head only: epochs on cached features until the time is up. Otherwise
    /// one epoch first, whose duration sets how many epochs fit (at most <see cref="ClassifierTrainingOptions.Epochs"/>),
    /// so the cosine schedule ends with the budget. Either way the best weights so far are kept when time runs out.
    /// </summary>
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>With <see cref="TimeBudget"/>: called with the number of epochs that fit once the first epoch has set it.</summary>
    public Action<int>? OnEpochsPlanned { get; init; }

    /// <summary>Stops training after the current batch; the best model so far is returned.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>
    /// How the trained model reads images and scores: image column (<see cref="ImageScoringOptions.InputColumnName"/>,
    /// also read for training), image folder, score and predicted-label columns, batch size and GPU. The predicted label
    /// is always a key, like every ML.NET multiclass trainer's.
    /// </summary>
    public ImageScoringOptions Scoring { get; init; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the option when a value is impossible.</summary>
    public ImageClassifierTrainerOptions Validate()
    {
        if (string.IsNullOrEmpty(LabelColumnName)) throw new ArgumentException("LabelColumnName must be set.", nameof(LabelColumnName));
        if (ValidationFraction is < 0 or >= 1)
            throw new ArgumentException($"ValidationFraction must be in [0, 1), got {ValidationFraction}.", nameof(ValidationFraction));
        if (TimeBudget is { } budget && budget <= TimeSpan.Zero)
            throw new ArgumentException($"TimeBudget must be positive, got {budget}.", nameof(TimeBudget));
        if (string.IsNullOrEmpty(Scoring.PredictedLabelColumnName))
            throw new ArgumentException("Scoring.PredictedLabelColumnName must be set: a classifier predicts a label.", nameof(Scoring));
        ArgumentNullException.ThrowIfNull(Training);
        Training.Validate();
        Scoring.Validate();
        return this;
    }
}
