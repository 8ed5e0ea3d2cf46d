using System.Runtime.InteropServices;

namespace EfficientCnn.Backbones.Runtime;

/// <summary>
/// Turns libtorch's NNPACK convolutions off. On CPUs NNPACK does not support (this project's machines among them)
/// libtorch 2.10 tries it for every convolution of a batch of 16 or more and logs "Could not initialize NNPACK! Reason:
/// Unsupported hardware." each time: 120 lines in a 5-minute <c>train --backbone auto</c> log, thousands in <c>zoo</c>.
/// oneDNN does those convolutions anyway. TorchSharp 0.107 does not expose the switch
/// (<c>torch.backends.nnpack.set_flags</c> in Python), so it is called in libtorch directly: <c>at::globalContext()</c>
/// and the non-virtual member <c>at::Context::setUserEnabledNNPACK(bool)</c> (Itanium C++ ABI: <c>this</c> first).
/// </summary>
public static class NnpackSwitch
{
    private const string LibTorchCpu = "libtorch_cpu";

    [DllImport(LibTorchCpu, EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport(LibTorchCpu, EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport(LibTorchCpu, EntryPoint = "_ZNK2at7Context17userEnabledNNPACKEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledNnpack(IntPtr context);

    /// <summary>Whether libtorch may use NNPACK; null when the switch cannot be reached (another libtorch build or OS).</summary>
    public static bool? Enabled
    {
        get
        {
            try { return UserEnabledNnpack(GlobalContext()); }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
        }
    }

    /// <summary>Turns NNPACK off for the process; does nothing where the switch cannot be reached.</summary>
    public static void Disable()
    {
        try
        {
            // TorchSharp loads libtorch_cpu on first use; touching torch first makes the library resolvable by name.
            TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU);
            SetUserEnabledNnpack(GlobalContext(), false);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }
}
