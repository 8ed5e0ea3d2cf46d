using System.Runtime.InteropServices;
using TorchSharp;

namespace EfficientCnn.Backbones.Runtime;

/// <summary>
/// Process-wide settings that make libtorch fast on Linux CPUs (see docs/cpu-performance.md): glibc malloc is told to
/// keep freed memory instead of returning large blocks to the OS, which otherwise costs millions of page faults per
/// forward pass, and the intra-op thread count is set to the cores available.
/// </summary>
public static class TorchRuntime
{
    private const int M_TRIM_THRESHOLD = -1;
    private const int M_TOP_PAD = -2;
    private const int M_MMAP_MAX = -4;
    private static readonly object gate = new();
    private static bool configured;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);

    /// <summary>
    /// Applies the settings once per process; call it before the first tensor is created (later calls do nothing).
    /// </summary>
    /// <param name="threads">
    /// Intra-op threads; null uses <c>$EFFICIENTCNN_THREADS</c> when set (e.g. to share a server between jobs),
    /// else <see cref="Environment.ProcessorCount"/>. Prefer this to <c>DOTNET_PROCESSOR_COUNT=1</c>, under which
    /// TorchSharp 0.107's temporary scalars are finalized during native calls far more often (docs/known-issues.md).
    /// </param>
    public static void Configure(int? threads = null)
    {
        lock (gate)
        {
            if (configured) return;
            configured = true;
            if (OperatingSystem.IsLinux())
            {
                try
                {
                    Mallopt(M_MMAP_MAX, 0);
                    Mallopt(M_TRIM_THRESHOLD, int.MaxValue);
                    Mallopt(M_TOP_PAD, 64 << 20);
                }
                catch (EntryPointNotFoundException) { /* not glibc (e.g. musl): keep the defaults */ }
                catch (DllNotFoundException) { }
            }
            torch.set_num_threads(threads ?? ThreadsFromEnvironment() ?? Environment.ProcessorCount);
            NnpackSwitch.Disable();
        }
    }

    /// <summary>Name of the environment variable that sets libtorch's intra-op threads.</summary>
    public const string ThreadsEnvironmentVariable = "EFFICIENTCNN_THREADS";

    internal static int? ThreadsFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable(ThreadsEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(text)) return null;
        return int.TryParse(text, out int n) && n >= 1
            ? n
            : throw new ArgumentException($"{ThreadsEnvironmentVariable} must be a whole number >= 1, got '{text}'.", ThreadsEnvironmentVariable);
    }
}
