using System.Diagnostics;
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
internal static class ScalarLifetimeWorkaround
{
    /// <summary>The runtime setting that turns JIT optimisation off.</summary>
    public const string Variable = "DOTNET_JITMinOpts";

    private static readonly string[] TrainingCommands = ["train", "pretrain", "search", "scale"];

    /// <summary>The child's exit code when this command was run again in a child process; null to go on in-process.</summary>
    public static int? RunInChildIfNeeded(string[] args)
    {
        if (args.Length == 0 || !TrainingCommands.Contains(args[0]) || Environment.GetEnvironmentVariable(Variable) is not null) return null;
        if (Environment.ProcessPath is null) return null;
        var start = SelfProcess.StartInfo(typeof(ScalarLifetimeWorkaround).Assembly, args);
        start.Environment[Variable] = "1";
        // Ctrl-C reaches the child too (same terminal): it stops cleanly and keeps its checkpoint; this process waits.
        Console.CancelKeyPress += (_, e) => e.Cancel = true;
        using var child = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName} again.");
        child.WaitForExit();
        return child.ExitCode;
    }
}
