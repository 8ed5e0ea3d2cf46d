using EfficientCnn.Backbones.Imaging;

namespace EfficientCnn.Cli.Plumbing;

/// <summary>The checks several commands make of the same option, with one message each (null: the value is fine).</summary>
internal static class OptionChecks
{
    /// <summary>A network's <c>--resolution</c>: at least 32 px (the smallest input the zoo accepts) and within <see cref="ImageLimits.MaxResolution"/>; null (the backbone's) is fine.</summary>
    public static string? Resolution(int? resolution) =>
        resolution is < 32 ? $"--resolution must be >= 32 (the smallest input the zoo accepts), got {resolution}."
        : ImageLimits.AboveLimit("--resolution", resolution, ImageLimits.MaxResolution);

    /// <summary>A training <c>--batch-size</c>: at least 2 (batch norm needs two images) and within <see cref="ImageLimits.MaxBatchSize"/>.</summary>
    public static string? TrainingBatchSize(int batchSize) =>
        batchSize < 2 ? $"--batch-size must be >= 2 (batch norm needs two images), got {batchSize}."
        : ImageLimits.AboveLimit("--batch-size", batchSize, ImageLimits.MaxBatchSize);
}
