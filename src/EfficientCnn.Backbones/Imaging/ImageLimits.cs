namespace EfficientCnn.Backbones.Imaging;

/// <summary>
/// The largest sizes accepted, checked before anything is allocated: an image batch takes 12 bytes per pixel per
/// image, so <c>--resolution 100000</c> asked for 120 GB a picture (libtorch then crashed with a segfault or an integer
/// overflow) and an ONNX file declaring a 2^40-pixel input made libtorch print a C++ stack trace.
/// </summary>
public static class ImageLimits
{
    /// <summary>The largest input side in pixels: 4096 px is 200 MB per image as float tensors, far above any CNN's native size.</summary>
    public const int MaxResolution = 4096;

    /// <summary>The largest batch size: beyond it a batch is bigger than any machine's memory at common resolutions.</summary>
    public const int MaxBatchSize = 4096;

    /// <summary>An error naming <paramref name="option"/> when <paramref name="value"/> exceeds <paramref name="max"/>; null when fine.</summary>
    public static string? AboveLimit(string option, long? value, long max) =>
        value > max ? $"{option} must be <= {max}, got {value}." : null;
}
