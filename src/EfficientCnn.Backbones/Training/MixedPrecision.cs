using TorchSharp;

namespace EfficientCnn.Backbones.Training;

/// <summary>
/// Decides which <see cref="TrainingPrecision"/> a training run can use on a device.
/// </summary>
/// <remarks>
/// Mixed precision needs autocast (per-operator casting of the forward pass) and, for float16, a gradient scaler.
/// TorchSharp 0.107 binds neither: its managed API has no <c>torch.autocast</c>, <c>AutocastMode</c> or
/// <c>GradScaler</c>, and LibTorchSharp exports no <c>THSTorch_*autocast*</c> function (they exist only in the unmerged
/// dotnet/TorchSharp pull request 1235; issue 899 tracks GradScaler). Casting the whole network to half precision
/// instead would lose small weight updates and break batch-norm statistics, so every precision other than float32 is
/// refused with the reason until TorchSharp offers autocast; <see cref="TrainingPrecision.Auto"/> runs float32.
/// </remarks>
public static class MixedPrecision
{
    /// <summary>
    /// The precision that will run for <paramref name="requested"/> on <paramref name="device"/>: <see cref="TrainingPrecision.Auto"/>
    /// and <see cref="TrainingPrecision.Float32"/> give Float32.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// Float16 on the CPU, or BFloat16/Float16 without autocast (ParamName "Precision"), each with the reason and what to use instead.
    /// </exception>
    public static TrainingPrecision Resolve(TrainingPrecision requested, torch.Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        switch (requested)
        {
            case TrainingPrecision.Auto:
            case TrainingPrecision.Float32:
                return TrainingPrecision.Float32;
            case TrainingPrecision.Float16 when device.type != DeviceType.CUDA:
                throw new ArgumentException(
                    $"Precision Float16 needs a CUDA device, but training runs on '{device}': float16 arithmetic on the CPU is slow and has no loss-scaling support. Use Float32 (or Auto).",
                    "Precision");
            case TrainingPrecision.BFloat16:
            case TrainingPrecision.Float16:
                throw new ArgumentException(
                    $"Precision {requested} needs autocast, which TorchSharp 0.107 does not provide (no torch.autocast or GradScaler binding). Use Float32 (or Auto, which runs Float32).",
                    "Precision");
            default:
                throw new ArgumentException($"Unknown precision {(int)requested}.", "Precision");
        }
    }
}
