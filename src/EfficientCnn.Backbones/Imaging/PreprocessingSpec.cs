using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EfficientCnn.Backbones.Imaging;

/// <summary>How an image is brought to the square network input.</summary>
public enum ResizeMode
{
    /// <summary>Resize the whole image to Resolution x Resolution, ignoring its aspect ratio.</summary>
    Stretch,

    /// <summary>
    /// torchvision's evaluation transform: resize the shorter side to Resolution / CropFraction, then take the centre
    /// Resolution x Resolution crop (224 px from 256 px with the default 0.875).
    /// </summary>
    ShorterSideCenterCrop,
}

/// <summary>Order of the three channels in the network input.</summary>
public enum ChannelOrder
{
    /// <summary>Red, green, blue (torchvision, timm).</summary>
    Rgb,

    /// <summary>Blue, green, red (Caffe-era models).</summary>
    Bgr,
}

/// <summary>
/// Everything that turns a decoded image into the network's input tensor. One spec configures training, evaluation and
/// scoring, and it travels with the model (ONNX metadata, ML.NET zip) so serving cannot drift from training.
/// </summary>
public sealed record PreprocessingSpec
{
    /// <summary>ImageNet channel means in R, G, B order (torchvision).</summary>
    public static IReadOnlyList<float> ImageNetMean { get; } = [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet channel standard deviations in R, G, B order (torchvision).</summary>
    public static IReadOnlyList<float> ImageNetStd { get; } = [0.229f, 0.224f, 0.225f];

    /// <summary>Side of the square input in pixels.</summary>
    public int Resolution { get; init; } = 224;

    /// <summary>How the image is fitted to the square input.</summary>
    public ResizeMode ResizeMode { get; init; } = ResizeMode.ShorterSideCenterCrop;

    /// <summary>Fraction of the resized shorter side kept by <see cref="ResizeMode.ShorterSideCenterCrop"/> (torchvision: 0.875).</summary>
    public float CropFraction { get; init; } = 0.875f;

    /// <summary>Per-channel mean subtracted from pixel values scaled to [0, 1], always given in R, G, B order.</summary>
    public IReadOnlyList<float> Mean { get; init; } = ImageNetMean;

    /// <summary>Per-channel standard deviation dividing pixel values scaled to [0, 1], always given in R, G, B order.</summary>
    public IReadOnlyList<float> Std { get; init; } = ImageNetStd;

    /// <summary>Channel order of the produced tensor; <see cref="Mean"/> and <see cref="Std"/> are permuted with it.</summary>
    public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;

    /// <summary>The torchvision ImageNet evaluation transform at <paramref name="resolution"/>.</summary>
    public static PreprocessingSpec ImageNet(int resolution = 224) => new() { Resolution = resolution };

    /// <summary>Number of floats one preprocessed image occupies (3 x Resolution x Resolution).</summary>
    [JsonIgnore]
    public int TensorLength => 3 * Resolution * Resolution;

    /// <summary>Throws <see cref="ArgumentException"/> naming the offending option when the spec cannot be applied.</summary>
    public PreprocessingSpec Validate()
    {
        if (Resolution < 1)
            throw new ArgumentException($"Resolution must be at least 1 pixel, got {Resolution}.", nameof(Resolution));
        if (ImageLimits.AboveLimit("Resolution", Resolution, ImageLimits.MaxResolution) is { } tooLarge)
            throw new ArgumentException(tooLarge, nameof(Resolution));
        if (!Enum.IsDefined(ResizeMode))
            throw new ArgumentException($"Unknown resize mode {(int)ResizeMode}.", nameof(ResizeMode));
        if (!Enum.IsDefined(ChannelOrder))
            throw new ArgumentException($"Unknown channel order {(int)ChannelOrder}.", nameof(ChannelOrder));
        if (!(CropFraction > 0f && CropFraction <= 1f))
            throw new ArgumentException($"CropFraction must be in (0, 1], got {CropFraction.ToString(CultureInfo.InvariantCulture)}.", nameof(CropFraction));
        if (Mean is null || Mean.Count != 3)
            throw new ArgumentException("Mean must hold exactly 3 values (R, G, B).", nameof(Mean));
        if (Std is null || Std.Count != 3 || Std.Any(s => !(s > 0f)))
            throw new ArgumentException("Std must hold exactly 3 values (R, G, B), each > 0.", nameof(Std));
        return this;
    }

    /// <summary>Serializes the spec to compact JSON (enum names as strings), the form stored in model files.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a spec written by <see cref="ToJson"/> and validates it.</summary>
    public static PreprocessingSpec FromJson(string json)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(json);
        var spec = JsonSerializer.Deserialize<PreprocessingSpec>(json, JsonOptions)
                   ?? throw new ArgumentException("The JSON holds no preprocessing spec.", nameof(json));
        return spec.Validate();
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Metadata keys of an exported model (ONNX <c>metadata_props</c>).</summary>
    public const string KeyResolution = "efficientcnn.input_size", KeyResize = "efficientcnn.resize_mode",
        KeyMean = "efficientcnn.mean", KeyStd = "efficientcnn.std", KeyChannelOrder = "efficientcnn.channel_order",
        KeyCropFraction = "efficientcnn.crop_fraction";

    /// <summary>The spec as ONNX metadata key/value pairs (invariant culture, comma-separated lists, "RGB"/"BGR").</summary>
    public IEnumerable<KeyValuePair<string, string>> ToMetadata()
    {
        yield return new(KeyResolution, Resolution.ToString(CultureInfo.InvariantCulture));
        yield return new(KeyResize, ResizeMode.ToString());
        yield return new(KeyMean, JoinValues(Mean));
        yield return new(KeyStd, JoinValues(Std));
        yield return new(KeyChannelOrder, ChannelOrder.ToString().ToUpperInvariant());
        yield return new(KeyCropFraction, CropFraction.ToString("R", CultureInfo.InvariantCulture));
    }

    /// <summary>Reads a spec written by <see cref="ToMetadata"/>; null when the metadata has none.</summary>
    /// <exception cref="FormatException">A key is present but its value cannot be parsed.</exception>
    public static PreprocessingSpec? FromMetadata(IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue(KeyResolution, out var res)) return null;
        var spec = new PreprocessingSpec { Resolution = int.Parse(res, CultureInfo.InvariantCulture) };
        if (metadata.TryGetValue(KeyMean, out var m)) spec = spec with { Mean = ParseValues(m, KeyMean) };
        if (metadata.TryGetValue(KeyStd, out var s)) spec = spec with { Std = ParseValues(s, KeyStd) };
        if (metadata.TryGetValue(KeyResize, out var r))
            spec = spec with { ResizeMode = Enum.TryParse<ResizeMode>(r, out var mode) ? mode : throw new FormatException($"Metadata '{KeyResize}' has unknown resize mode '{r}'.") };
        if (metadata.TryGetValue(KeyCropFraction, out var c)) spec = spec with { CropFraction = float.Parse(c, CultureInfo.InvariantCulture) };
        if (metadata.TryGetValue(KeyChannelOrder, out var o))
            spec = spec with { ChannelOrder = Enum.TryParse<ChannelOrder>(o, ignoreCase: true, out var order) ? order : throw new FormatException($"Metadata '{KeyChannelOrder}' must be RGB or BGR, got '{o}'.") };
        return spec;
    }

    private static string JoinValues(IEnumerable<float> values) =>
        string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static float[] ParseValues(string text, string key)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                throw new FormatException($"Metadata '{key}' must be comma-separated numbers, got '{text}'.");
        return values;
    }

    /// <summary>Value equality, comparing <see cref="Mean"/> and <see cref="Std"/> element by element.</summary>
    public bool Equals(PreprocessingSpec? other) =>
        other is not null && Resolution == other.Resolution && ResizeMode == other.ResizeMode
        && CropFraction.Equals(other.CropFraction) && ChannelOrder == other.ChannelOrder
        && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std);

    /// <summary>Hash consistent with <see cref="Equals(PreprocessingSpec?)"/>.</summary>
    public override int GetHashCode() =>
        HashCode.Combine(Resolution, ResizeMode, CropFraction, ChannelOrder, Mean[0], Std[0]);
}
