using System.Globalization;

namespace EfficientCnn.Backbones.Imaging;

/// <summary>How an image is resized to the network's input.</summary>
public enum ResizeMode
{
    /// <summary>Resize the shorter side to <c>Resolution / CropFraction</c>, then center-crop <c>Resolution</c>² (torchvision's eval transform).</summary>
    ShorterSideThenCenterCrop,
    /// <summary>Resize both sides to <c>Resolution</c>, ignoring the aspect ratio.</summary>
    Stretch,
    /// <summary>Resize the longer side to <c>Resolution</c> and pad the rest with the mean colour.</summary>
    Letterbox,
}

/// <summary>
/// What an image must go through before the network sees it: resize to <see cref="Resolution"/>, scale to [0,1],
/// subtract <see cref="Mean"/> and divide by <see cref="Std"/> per channel, in <see cref="ChannelOrder"/>.
/// Stored in exported ONNX files' metadata so that a consumer can rebuild the pipeline.
/// </summary>
/// <param name="Resolution">Input height and width in pixels.</param>
/// <param name="ResizeMode">How the image is brought to <paramref name="Resolution"/>.</param>
/// <param name="Mean">Per-channel mean of [0,1]-scaled pixels, in <paramref name="ChannelOrder"/>.</param>
/// <param name="Std">Per-channel standard deviation, in <paramref name="ChannelOrder"/>.</param>
/// <param name="ChannelOrder">"RGB" (torchvision) or "BGR".</param>
/// <param name="CropFraction">For <see cref="ResizeMode.ShorterSideThenCenterCrop"/>: crop size / resize size (torchvision: 224/256 = 0.875).</param>
public sealed record PreprocessingSpec(
    int Resolution,
    ResizeMode ResizeMode,
    IReadOnlyList<float> Mean,
    IReadOnlyList<float> Std,
    string ChannelOrder = "RGB",
    double CropFraction = 0.875)
{
    /// <summary>ImageNet statistics used by torchvision and timm (RGB, mean 0.485/0.456/0.406, std 0.229/0.224/0.225).</summary>
    public static PreprocessingSpec ImageNet(int resolution = 224) =>
        new(resolution, ResizeMode.ShorterSideThenCenterCrop, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    /// <summary>Value equality including the mean and std lists (a record compares lists by reference otherwise).</summary>
    public bool Equals(PreprocessingSpec? other) =>
        other is not null && Resolution == other.Resolution && ResizeMode == other.ResizeMode &&
        Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std) &&
        ChannelOrder == other.ChannelOrder && CropFraction.Equals(other.CropFraction);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Resolution, ResizeMode, ChannelOrder, CropFraction, Mean.Count);

    /// <summary>Metadata keys of an exported model (ONNX <c>metadata_props</c>).</summary>
    public const string KeyResolution = "efficientcnn.input_size", KeyResize = "efficientcnn.resize_mode",
        KeyMean = "efficientcnn.mean", KeyStd = "efficientcnn.std", KeyChannelOrder = "efficientcnn.channel_order",
        KeyCropFraction = "efficientcnn.crop_fraction";

    /// <summary>The spec as metadata key/value pairs (invariant culture, comma-separated lists).</summary>
    public IEnumerable<KeyValuePair<string, string>> ToMetadata()
    {
        yield return new(KeyResolution, Resolution.ToString(CultureInfo.InvariantCulture));
        yield return new(KeyResize, ResizeMode.ToString());
        yield return new(KeyMean, Join(Mean));
        yield return new(KeyStd, Join(Std));
        yield return new(KeyChannelOrder, ChannelOrder);
        yield return new(KeyCropFraction, CropFraction.ToString("R", CultureInfo.InvariantCulture));
    }

    /// <summary>Reads a spec written by <see cref="ToMetadata"/>; null when the metadata has none.</summary>
    /// <exception cref="FormatException">A key is present but its value cannot be parsed.</exception>
    public static PreprocessingSpec? FromMetadata(IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue(KeyResolution, out var res)) return null;
        var mean = metadata.TryGetValue(KeyMean, out var m) ? Parse(m, KeyMean) : ImageNet().Mean;
        var std = metadata.TryGetValue(KeyStd, out var s) ? Parse(s, KeyStd) : ImageNet().Std;
        var mode = metadata.TryGetValue(KeyResize, out var r) && Enum.TryParse<ResizeMode>(r, out var parsed)
            ? parsed : ResizeMode.ShorterSideThenCenterCrop;
        double crop = metadata.TryGetValue(KeyCropFraction, out var c) ? double.Parse(c, CultureInfo.InvariantCulture) : 0.875;
        return new PreprocessingSpec(int.Parse(res, CultureInfo.InvariantCulture), mode, mean, std,
            metadata.TryGetValue(KeyChannelOrder, out var order) ? order : "RGB", crop);
    }

    private static string Join(IEnumerable<float> values) =>
        string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static float[] Parse(string text, string key)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                throw new FormatException($"Metadata '{key}' must be comma-separated numbers, got '{text}'.");
        return values;
    }
}
