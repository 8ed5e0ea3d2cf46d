using EfficientCnn.Cli;
using NUnit.Framework;
using Spectre.Console;

namespace EfficientCnn.Tests;

/// <summary>Runs the real <c>efficientcnn</c> command set in-process and captures what it prints.</summary>
public static class CliRunner
{
    /// <summary>Runs <paramref name="args"/>; returns the exit code and sets <paramref name="stdout"/>.</summary>
    public static int Run(out string stdout, params string[] args)
    {
        var previous = Console.Out;
        var previousAnsi = AnsiConsole.Console;
        var writer = new StringWriter();
        Console.SetOut(writer);
        // Spectre keeps its own console (created once, on the first Console.Out it saw): point it at this run's writer too.
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        AnsiConsole.Console = console;
        try { return CliApp.Create(console).Run(args); }
        finally
        {
            Console.SetOut(previous);
            AnsiConsole.Console = previousAnsi;
            stdout = writer.ToString();
            TestContext.Out.WriteLine($"efficientcnn {string.Join(" ", args)}\n{stdout}");
        }
    }
}
