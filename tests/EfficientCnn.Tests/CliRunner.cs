using EfficientCnn.Cli;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>Runs the real <c>efficientcnn</c> command set in-process and captures what it prints.</summary>
public static class CliRunner
{
    /// <summary>Runs <paramref name="args"/>; returns the exit code and sets <paramref name="stdout"/>.</summary>
    public static int Run(out string stdout, params string[] args)
    {
        var previous = Console.Out;
        var writer = new StringWriter();
        Console.SetOut(writer);
        try { return CliApp.Create().Run(args); }
        finally
        {
            Console.SetOut(previous);
            stdout = writer.ToString();
            TestContext.Out.WriteLine($"efficientcnn {string.Join(" ", args)}\n{stdout}");
        }
    }
}
