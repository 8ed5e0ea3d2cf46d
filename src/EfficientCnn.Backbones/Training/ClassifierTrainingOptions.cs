using System.Globalization;
using EfficientCnn.Backbones.Imaging;

namespace EfficientCnn.Backbones.Training;

/// <summary>Optimizer of the fine-tuning loop.</summary>
public enum OptimizerKind
{
    /// <summary>Decoupled weight decay Adam (Loshchilov &amp; Hutter), the robust default for fine-tuning.</summary>
    AdamW,

    /// <summary>SGD with Nesterov-free momentum, the classic ImageNet recipe.</summary>
    Sgd,
}

/// <summary>Which parameters are trained.</summary>
public enum TrainScope
{
    /// <summary>Only the new head, on features computed once (ML.NET's bottleneck cache): fastest, no augmentation.</summary>
    HeadOnly,

    /// <summary>The head and the last <see cref="ClassifierTrainingOptions.TrainLastStages"/> stages of the backbone.</summary>
    LastStages,

    /// <summary>Every parameter (full fine-tuning).</summary>
    All,
}

/// <summary>Numeric precision of the training forward and backward passes.</summary>
public enum TrainingPrecision
{
    /// <summary>
    /// The fastest precision that trains reliably on the device: Float16 autocast with loss scaling on CUDA, Float32 on
    /// the CPU. TorchSharp 0.107 has no autocast, so it resolves to Float32 everywhere for now (see <see cref="MixedPrecision"/>).
    /// </summary>
    Auto,

    /// <summary>Single precision throughout: the reference, and deterministic on the CPU with a fixed thread count.</summary>
    Float32,

    /// <summary>bfloat16 autocast of the forward pass and loss (float32 weights); needs autocast support in TorchSharp.</summary>
    BFloat16,

    /// <summary>float16 autocast with dynamic loss scaling (float32 weights), CUDA only; needs autocast support in TorchSharp.</summary>
    Float16,
}

/// <summary>Metrics after one epoch, passed to <see cref="ClassifierTrainingOptions.OnEpoch"/>.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="TrainLoss">Mean training loss (with label smoothing, on augmented images).</param>
/// <param name="TrainAccuracy">Training accuracy on the augmented images seen.</param>
/// <param name="ValidationLoss">Validation cross-entropy (no smoothing), or null without validation data.</param>
/// <param name="ValidationAccuracy">Validation accuracy, or null.</param>
/// <param name="LearningRate">Learning rate at the epoch's last step.</param>
/// <param name="Seconds">Wall time of the epoch, validation included.</param>
/// <param name="ImagesPerSecond">Training images per second.</param>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double? ValidationLoss, double? ValidationAccuracy,
    double LearningRate, double Seconds, double ImagesPerSecond);

/// <summary>Progress inside an epoch (or while caching features), for progress bars.</summary>
/// <param name="Phase">"features", "train" or "validate".</param>
/// <param name="Epoch">1-based epoch (0 while caching features).</param>
/// <param name="Done">Images processed in this phase.</param>
/// <param name="Total">Images in this phase.</param>
public sealed record TrainingProgress(string Phase, int Epoch, int Done, int Total);

/// <summary>Every setting of <see cref="ClassifierTrainer"/>. Defaults suit a few hundred to a few thousand images on a CPU.</summary>
public sealed record ClassifierTrainingOptions
{
    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Images per optimizer step.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Peak learning rate; null picks 1e-3 for AdamW, 0.01 for SGD (x10 for <see cref="TrainScope.HeadOnly"/>).</summary>
    public double? LearningRate { get; init; }

    /// <summary>Epochs of linear warm-up before the cosine decay (fractions allowed).</summary>
    public double WarmupEpochs { get; init; } = 1;

    /// <summary>The optimizer.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Weight decay (decoupled for AdamW, L2 for SGD).</summary>
    public double WeightDecay { get; init; } = 1e-4;

    /// <summary>Label smoothing of the training loss (Szegedy et al. 2016), 0 to turn off.</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>Training augmentation (random resized crop, flip, colour jitter), or null for none. Never applied when evaluating.</summary>
    public ImageAugmentation? Augmentation { get; init; } = ImageAugmentation.Default with { MinScale = 0.25f };

    /// <summary>Which parameters are trained.</summary>
    public TrainScope Scope { get; init; } = TrainScope.All;

    /// <summary>Stages trained with <see cref="TrainScope.LastStages"/>, counted from the end.</summary>
    public int TrainLastStages { get; init; } = 2;

    /// <summary>
    /// LP-FT (Kumar et al., ICLR 2022, "Fine-Tuning can Distort Pretrained Features and Underperform Out-of-Distribution"):
    /// before training the backbone, the new head is fitted for this many epochs on the frozen backbone's cached features
    /// (a linear probe), so end-to-end training starts from a head that already fits instead of back-propagating a random
    /// head's large gradients into the pretrained features. 0 skips it (a random head trains with the backbone from the
    /// first step). Ignored with <see cref="TrainScope.HeadOnly"/> and when continuing an <see cref="ImageClassifier"/>.
    /// </summary>
    public int LinearProbeEpochs { get; init; } = 10;

    /// <summary>
    /// The backbone's learning rate as a fraction of the head's (the head gets <see cref="EffectiveLearningRate"/>):
    /// pretrained features need smaller steps than a new head. 1 trains every layer at the same rate.
    /// </summary>
    public double BackboneLearningRateFactor { get; init; } = 0.1;

    /// <summary>Dropout before the new head.</summary>
    public double HeadDropRate { get; init; } = 0.2;

    /// <summary>Adaptive gradient clipping threshold λ (Brock et al. 2021, NFNets) on every layer but the head, or null for none.</summary>
    public double? AgcClipping { get; init; }

    /// <summary>Stop after this many epochs without a better validation accuracy (needs validation data), or null to run all epochs.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>Seed of the head initialisation, data order, augmentation and dropout: the same seed on a CPU gives the same model.</summary>
    public int Seed { get; init; }

    /// <summary>"cpu", "cuda", "cuda:N", or "auto" (CUDA when TorchSharp has it, else CPU).</summary>
    public string Device { get; init; } = "auto";

    /// <summary>
    /// Precision of the forward pass and loss; <see cref="MixedPrecision.Resolve"/> says what runs on <see cref="Device"/>
    /// and <see cref="Validate"/> rejects what cannot.
    /// </summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Auto;

    /// <summary>Folder for a checkpoint after every epoch, or null for none.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Continue from the checkpoint in <see cref="CheckpointDirectory"/> when one exists.</summary>
    public bool Resume { get; init; } = true;

    /// <summary>What to do with unreadable images.</summary>
    public BadImagePolicy OnBadImage { get; init; } = BadImagePolicy.Throw;

    /// <summary>
    /// "Precise BN": after every epoch, before validation, the batch-norm running statistics of the trained layers are
    /// re-estimated as a plain average over up to this many training batches (no augmentation, no gradient), instead of
    /// the exponential average collected while the weights were still moving. A network trained from scratch for a few
    /// epochs on a few hundred images otherwise scores with stale statistics in eval mode (often predicting one class).
    /// 0 (default) turns it off; pretrained backbones rarely need it.
    /// </summary>
    public int BatchNormRecalibrationBatches { get; init; }

    /// <summary>Image decoding threads; -1 uses all cores.</summary>
    public int DecodeParallelism { get; init; } = -1;

    /// <summary>Called after every epoch with its metrics.</summary>
    public Action<EpochMetrics>? OnEpoch { get; init; }

    /// <summary>Called after every batch, for progress bars.</summary>
    public Action<TrainingProgress>? OnProgress { get; init; }

    /// <summary>The learning rate used: <see cref="LearningRate"/> or the default for the optimizer and scope.</summary>
    public double EffectiveLearningRate =>
        LearningRate ?? (Optimizer == OptimizerKind.AdamW ? 1e-3 : 0.01) * (Scope == TrainScope.HeadOnly ? 10 : 1);

    /// <summary>Throws <see cref="ArgumentException"/> naming the option when a value is impossible.</summary>
    public ClassifierTrainingOptions Validate()
    {
        static string F(double v) => v.ToString(CultureInfo.InvariantCulture);
        if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1, got {Epochs}.", nameof(Epochs));
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1, got {BatchSize}.", nameof(BatchSize));
        if (LearningRate is { } lr && !(lr > 0 && double.IsFinite(lr))) throw new ArgumentException($"LearningRate must be positive, got {F(lr)}.", nameof(LearningRate));
        if (BatchNormRecalibrationBatches < 0)
            throw new ArgumentException($"BatchNormRecalibrationBatches must be >= 0, got {BatchNormRecalibrationBatches}.", nameof(BatchNormRecalibrationBatches));
        if (!(WarmupEpochs >= 0)) throw new ArgumentException($"WarmupEpochs must be >= 0, got {F(WarmupEpochs)}.", nameof(WarmupEpochs));
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentException($"Unknown optimizer {(int)Optimizer}.", nameof(Optimizer));
        if (!Enum.IsDefined(Scope)) throw new ArgumentException($"Unknown scope {(int)Scope}.", nameof(Scope));
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentException($"Momentum must be in [0, 1), got {F(Momentum)}.", nameof(Momentum));
        if (!(WeightDecay >= 0)) throw new ArgumentException($"WeightDecay must be >= 0, got {F(WeightDecay)}.", nameof(WeightDecay));
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) throw new ArgumentException($"LabelSmoothing must be in [0, 1), got {F(LabelSmoothing)}.", nameof(LabelSmoothing));
        if (Scope == TrainScope.LastStages && TrainLastStages < 1) throw new ArgumentException($"TrainLastStages must be at least 1, got {TrainLastStages}.", nameof(TrainLastStages));
        if (LinearProbeEpochs < 0) throw new ArgumentException($"LinearProbeEpochs must be >= 0, got {LinearProbeEpochs}.", nameof(LinearProbeEpochs));
        if (!(BackboneLearningRateFactor > 0 && BackboneLearningRateFactor <= 1))
            throw new ArgumentException($"BackboneLearningRateFactor must be in (0, 1], got {F(BackboneLearningRateFactor)}.", nameof(BackboneLearningRateFactor));
        if (!(HeadDropRate >= 0 && HeadDropRate < 1)) throw new ArgumentException($"HeadDropRate must be in [0, 1), got {F(HeadDropRate)}.", nameof(HeadDropRate));
        if (AgcClipping is { } c && !(c > 0)) throw new ArgumentException($"AgcClipping must be positive, got {F(c)}.", nameof(AgcClipping));
        if (EarlyStoppingPatience is { } p && p < 1) throw new ArgumentException($"EarlyStoppingPatience must be at least 1, got {p}.", nameof(EarlyStoppingPatience));
        if (DecodeParallelism == 0 || DecodeParallelism < -1) throw new ArgumentException($"DecodeParallelism must be -1 or positive, got {DecodeParallelism}.", nameof(DecodeParallelism));
        Augmentation?.Validate();
        MixedPrecision.Resolve(Precision, TrainingDevice.Parse(Device));
        return this;
    }
}
