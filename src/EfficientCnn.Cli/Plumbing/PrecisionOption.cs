using EfficientCnn.Backbones.Training;

namespace EfficientCnn.Cli.Plumbing;

/// <summary>The <c>--precision auto|fp32|bf16|fp16</c> option of the training commands.</summary>
internal static class PrecisionOption
{
    /// <summary>The option's help text.</summary>
    public const string Help = "auto, fp32, bf16 or fp16: precision of the forward pass and loss (auto: fp16 autocast on CUDA, fp32 on the CPU; TorchSharp 0.107 has no autocast, so only fp32 runs today).";

    /// <summary>The precision named by <paramref name="text"/>, or null when it is none of auto, fp32, bf16, fp16.</summary>
    public static TrainingPrecision? TryParse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "auto" => TrainingPrecision.Auto,
        "fp32" or "float32" => TrainingPrecision.Float32,
        "bf16" or "bfloat16" => TrainingPrecision.BFloat16,
        "fp16" or "float16" => TrainingPrecision.Float16,
        _ => null,
    };

    /// <summary>The validation error for an unknown value, or null when <paramref name="text"/> is valid.</summary>
    public static string? Error(string? text) =>
        TryParse(text) is null ? $"--precision must be auto, fp32, bf16 or fp16, got '{text}'." : null;

    /// <summary>
    /// Parses <paramref name="text"/> and checks that it can run on <paramref name="device"/> before any data is read,
    /// so an unsupported precision fails at once with the option named.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown value, or a precision the device or TorchSharp cannot run (ParamName "precision").</exception>
    public static TrainingPrecision Check(string? text, string device = "auto")
    {
        var precision = TryParse(text) ?? throw new ArgumentException(Error(text), "precision");
        try
        {
            MixedPrecision.Resolve(precision, TrainingDevice.Parse(device));
        }
        catch (ArgumentException e) when (e.ParamName == "Precision")
        {
            throw new ArgumentException($"--precision {text}: {e.Message}", "precision", e);
        }
        return precision;
    }

    /// <summary>What <paramref name="precision"/> runs as on <paramref name="device"/>, e.g. "fp32" or "fp32 (auto)".</summary>
    public static string Describe(TrainingPrecision precision, string device = "auto")
    {
        string runs = MixedPrecision.Resolve(precision, TrainingDevice.Parse(device)) switch
        {
            TrainingPrecision.BFloat16 => "bf16",
            TrainingPrecision.Float16 => "fp16",
            _ => "fp32",
        };
        return precision == TrainingPrecision.Auto ? $"{runs} (auto)" : runs;
    }
}
