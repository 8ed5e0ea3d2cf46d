using System.Diagnostics;
using System.Runtime.InteropServices;
using EfficientCnn.Backbones.Runtime;

namespace EfficientCnn.Cli;

/// <summary>
/// Runs the training commands with <c>DOTNET_JITMinOpts=1</c>. TorchSharp 0.107 passes the handles of temporary
/// <c>Scalar</c>s to libtorch without keeping them alive, so an optimised caller lets the garbage collector finalize
/// them in the middle of the native call (crashes such as "Unknown scalar type", or silently wrong values; see
/// docs/known-issues.md). Unoptimised code keeps arguments alive to the end of the method, which closes the window;
/// training time is spent in libtorch, so the cost is small. The variable must be set before the runtime starts,
/// hence a child process. Set it yourself (to anything, 0 included) to run in-process.
/// </summary>
/// <remarks>
/// The child behaves as the command would in-process: SIGINT and SIGTERM to this process (a service manager, CI,
/// <c>timeout</c>, <c>kill PID</c>) are passed on as SIGTERM, on which the child stops after the current batch and saves
/// the best model so far; this process then exits with the child's code. When this process dies any other way, the
/// child is killed with it (<see cref="ParentWatch"/>).
/// </remarks>
internal static class ScalarLifetimeWorkaround
{
    /// <summary>The runtime setting that turns JIT optimisation off.</summary>
    public const string Variable = "DOTNET_JITMinOpts";

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private const int SIGTERM = 15;

    /// <summary>The child's exit code when this command was run again in a child process; null to go on in-process.</summary>
    public static int? RunInChildIfNeeded(string[] args)
    {
        if (args.Length == 0 || !IsDeclaredBy(CliApp.CommandType(args[0])) || Environment.GetEnvironmentVariable(Variable) is not null) return null;
        if (Environment.ProcessPath is null) return null;
        var start = SelfProcess.StartInfo(typeof(ScalarLifetimeWorkaround).Assembly, args);
        start.Environment[Variable] = "1";
        start.Environment[ParentWatch.ParentVariable] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var child = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName} again.");
        // Ctrl-C in a terminal reaches the child directly too; SIGTERM is idempotent there, so the two do not add up to
        // the "second Ctrl-C" that aborts.
        void Forward(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!child.HasExited) kill(child.Id, SIGTERM);
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Forward);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Forward);
        child.WaitForExit();
        return child.ExitCode;
    }

    /// <summary>Whether <paramref name="command"/> carries <see cref="NeedsScalarLifetimeWorkaroundAttribute"/>.</summary>
    internal static bool IsDeclaredBy(Type? command) =>
        command is not null && Attribute.IsDefined(command, typeof(NeedsScalarLifetimeWorkaroundAttribute));
}

/// <summary>
/// Declares that a command trains with TorchSharp and so runs in a child process with JIT optimisation off
/// (<see cref="ScalarLifetimeWorkaround"/>): every training command carries it.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
internal sealed class NeedsScalarLifetimeWorkaroundAttribute : Attribute;
