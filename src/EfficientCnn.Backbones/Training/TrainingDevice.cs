using TorchSharp;

namespace EfficientCnn.Backbones.Training;

/// <summary>Turns the device option ("auto", "cpu", "cuda", "cuda:1") into a TorchSharp device.</summary>
public static class TrainingDevice
{
    /// <summary>
    /// Resolves <paramref name="option"/>: "auto" is CUDA when TorchSharp has a CUDA backend and a GPU, else the CPU;
    /// asking for CUDA where there is none fails with a message saying so.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown device text, or CUDA asked for but not available.</exception>
    public static torch.Device Parse(string option)
    {
        string text = (option ?? "").Trim().ToLowerInvariant();
        if (text is "" or "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (text == "cpu") return torch.CPU;
        if (text == "cuda" || text.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new ArgumentException($"Device '{option}' asked for, but TorchSharp has no CUDA here (install the libtorch-cuda package and a GPU driver, or use \"cpu\").", "Device");
            int index = text.Length > 5 && int.TryParse(text[5..], out var i) ? i : 0;
            if (index < 0 || index >= torch.cuda.device_count())
                throw new ArgumentException($"Device '{option}': there are {torch.cuda.device_count()} CUDA devices.", "Device");
            return new torch.Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"Unknown device '{option}': use auto, cpu, cuda or cuda:N.", "Device");
    }
}
