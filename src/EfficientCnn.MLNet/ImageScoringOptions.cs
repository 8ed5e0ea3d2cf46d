using EfficientCnn.Backbones.Training;

namespace EfficientCnn.MLNet;

/// <summary>How the predicted label column is typed.</summary>
public enum PredictedLabelKind
{
    /// <summary>The class name as text (handy in apps and CSV files).</summary>
    Text,

    /// <summary>
    /// A key (<c>UInt32</c>, 1-based) with the class names as key values, like every ML.NET multiclass trainer, so
    /// <c>MulticlassClassification.Evaluate</c> and <c>Conversion.MapKeyToValue</c> work.
    /// </summary>
    Key,
}

/// <summary>Settings of <see cref="OnnxImageTransformer"/>: columns, batching, bad images and the ONNX Runtime device.</summary>
public sealed record ImageScoringOptions
{
    /// <summary>Image column: file paths (text), encoded images (byte vector) or <c>MLImage</c>.</summary>
    public string InputColumnName { get; init; } = "ImagePath";

    /// <summary>Float vector column written: features, or class probabilities for a classifier.</summary>
    public string OutputColumnName { get; init; } = "Score";

    /// <summary>Predicted label column for classifiers, or null for none.</summary>
    public string? PredictedLabelColumnName { get; init; } = "PredictedLabel";

    /// <summary>Type of the predicted label column.</summary>
    public PredictedLabelKind PredictedLabelKind { get; init; } = PredictedLabelKind.Text;

    /// <summary>Folder relative image paths are resolved against, or null.</summary>
    public string? ImageFolder { get; init; }

    /// <summary>Images run through the network at once (and decoded in parallel).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>
    /// What an unreadable image does: <see cref="BadImagePolicy.Throw"/> stops with an error naming the file and the
    /// row; <see cref="BadImagePolicy.Skip"/> leaves the row out of the output and records it in
    /// <see cref="OnnxImageTransformer.BadImages"/> (a prediction engine, one row at a time, always throws).
    /// </summary>
    public BadImagePolicy OnBadImage { get; init; } = BadImagePolicy.Throw;

    /// <summary>
    /// GPU for ONNX Runtime's CUDA execution provider (as <c>ApplyOnnxModel</c>'s gpuDeviceId); null takes the
    /// MLContext's <c>GpuDeviceId</c> (null there too: the CPU).
    /// </summary>
    public int? GpuDeviceId { get; init; }

    /// <summary>
    /// Fall back to the CPU when the CUDA provider cannot be used (as <c>ApplyOnnxModel</c>'s fallbackToCpu); null takes
    /// the MLContext's <c>FallbackToCpu</c> (ML.NET's default: false, a GPU that cannot be used is an error).
    /// </summary>
    public bool? FallbackToCpu { get; init; }

    /// <summary>These options with the unset GPU settings taken from an MLContext's.</summary>
    internal ImageScoringOptions WithContext(Persistence.ContextSettings context) =>
        this with { GpuDeviceId = GpuDeviceId ?? context.GpuDeviceId, FallbackToCpu = FallbackToCpu ?? context.FallbackToCpu };

    /// <summary>ONNX Runtime intra-op threads; null uses all cores.</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the option when a value is impossible.</summary>
    public ImageScoringOptions Validate()
    {
        if (string.IsNullOrEmpty(InputColumnName)) throw new ArgumentException("InputColumnName must be set.", nameof(InputColumnName));
        if (string.IsNullOrEmpty(OutputColumnName)) throw new ArgumentException("OutputColumnName must be set.", nameof(OutputColumnName));
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1, got {BatchSize}.", nameof(BatchSize));
        if (GpuDeviceId is < 0) throw new ArgumentException($"GpuDeviceId must be >= 0, got {GpuDeviceId}.", nameof(GpuDeviceId));
        if (IntraOpThreads is < 1) throw new ArgumentException($"IntraOpThreads must be at least 1, got {IntraOpThreads}.", nameof(IntraOpThreads));
        if (!Enum.IsDefined(OnBadImage)) throw new ArgumentException($"Unknown bad-image policy {(int)OnBadImage}.", nameof(OnBadImage));
        if (!Enum.IsDefined(PredictedLabelKind)) throw new ArgumentException($"Unknown label kind {(int)PredictedLabelKind}.", nameof(PredictedLabelKind));
        return this;
    }
}
