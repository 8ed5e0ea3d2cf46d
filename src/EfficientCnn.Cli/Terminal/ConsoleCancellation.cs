using System.Runtime.InteropServices;
using Spectre.Console;

namespace EfficientCnn.Cli.Terminal;

/// <summary>
/// Turns the first Ctrl-C, and any SIGTERM, into a cancellation request (training stops after the current batch and
/// the best model so far is still saved); a second Ctrl-C ends the process as usual. SIGTERM is what service managers,
/// CI runners, <c>timeout</c> and <c>kill PID</c> send, and what the parent of a training child passes on
/// (<see cref="ScalarLifetimeWorkaround"/>): it never aborts, so receiving it twice changes nothing.
/// </summary>
internal sealed class ConsoleCancellation : IDisposable
{
    private readonly CancellationTokenSource source;
    private readonly ConsoleCancelEventHandler handler;
    private readonly PosixSignalRegistration terminate;

    /// <summary>Listens for Ctrl-C and SIGTERM until disposed; <paramref name="outer"/> cancels too.</summary>
    public ConsoleCancellation(CancellationToken outer)
    {
        source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        handler = (_, e) =>
        {
            if (source.IsCancellationRequested) return;
            e.Cancel = true;
            Stop("Ctrl-C again to abort");
        };
        Console.CancelKeyPress += handler;
        terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            if (!source.IsCancellationRequested) Stop("SIGTERM received");
        });
    }

    private void Stop(string note)
    {
        AnsiConsole.MarkupLine($"[yellow]Stopping after the current batch; the best model so far will be saved ({note}).[/]");
        source.Cancel();
    }

    /// <summary>Cancelled on Ctrl-C, SIGTERM or by the outer token.</summary>
    public CancellationToken Token => source.Token;

    /// <inheritdoc />
    public void Dispose()
    {
        Console.CancelKeyPress -= handler;
        terminate.Dispose();
        source.Dispose();
    }
}
