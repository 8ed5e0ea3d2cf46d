using System.Runtime.InteropServices;

namespace EfficientCnn.Cli;

/// <summary>
/// Ties a child process (see <see cref="ScalarLifetimeWorkaround"/>) to its parent: when the parent dies, however it
/// dies (SIGKILL included, which it cannot forward), the kernel kills the child at once (Linux
/// <c>PR_SET_PDEATHSIG</c>), so a killed <c>train</c> never replaces its <c>--output</c> afterwards.
/// </summary>
internal static class ParentWatch
{
    /// <summary>Environment variable through which the parent passes its process id to the child.</summary>
    public const string ParentVariable = "EFFICIENTCNN_PARENT_PID";

    private const int PR_SET_PDEATHSIG = 1;
    private const int SIGKILL = 9;

    [DllImport("libc", SetLastError = true)]
    private static extern int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [DllImport("libc")]
    private static extern int getppid();

    /// <summary>
    /// In a child started by <see cref="ScalarLifetimeWorkaround"/> (the variable is set), asks to be killed with the
    /// parent; exits at once when the parent is already gone. Elsewhere does nothing.
    /// </summary>
    public static void DieWithParent()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(ParentVariable), out int parent)) return;
        // Grandchildren (benchmark workers) are tied to this process, not to ours.
        Environment.SetEnvironmentVariable(ParentVariable, null);
        if (!OperatingSystem.IsLinux()) return;
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        // The parent may have died before the request took effect: then nobody would signal us.
        if (getppid() != parent) Environment.Exit(ExitCodes.InternalError);
    }
}
