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
    /// <param name="threads">Intra-op threads; null uses <see cref="Environment.ProcessorCount"/>.</param>
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
            torch.set_num_threads(threads ?? Environment.ProcessorCount);
        }
    }
}
