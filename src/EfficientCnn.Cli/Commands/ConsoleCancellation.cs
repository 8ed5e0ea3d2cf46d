using Spectre.Console;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// Turns the first Ctrl-C into a cancellation request (training stops after the current batch and the best model so
/// far is still saved); a second Ctrl-C ends the process as usual.
/// </summary>
internal sealed class ConsoleCancellation : IDisposable
{
    private readonly CancellationTokenSource source;
    private readonly ConsoleCancelEventHandler handler;

    /// <summary>Listens for Ctrl-C until disposed; <paramref name="outer"/> cancels too.</summary>
    public ConsoleCancellation(CancellationToken outer)
    {
        source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        handler = (_, e) =>
        {
            if (source.IsCancellationRequested) return;
            e.Cancel = true;
            AnsiConsole.MarkupLine("[yellow]Stopping after the current batch; the best model so far will be saved (Ctrl-C again to abort).[/]");
            source.Cancel();
        };
        Console.CancelKeyPress += handler;
    }

    /// <summary>Cancelled on Ctrl-C or by the outer token.</summary>
    public CancellationToken Token => source.Token;

    /// <inheritdoc />
    public void Dispose()
    {
        Console.CancelKeyPress -= handler;
        source.Dispose();
    }
}
