using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli;

/// <summary>
/// What reaches the user when a command fails outside the commands' own checks: option and parse errors are user errors
/// (exit 1, one line naming the option); anything else is unexpected (exit 3): one line, with the full trace written to
/// a file for the bug report instead of a screenful of stack.
/// </summary>
internal static class CliErrors
{
    /// <summary>Prints <paramref name="error"/> on <paramref name="console"/> and returns the exit code.</summary>
    public static int Handle(Exception error, IAnsiConsole console)
    {
        if (error is CommandParseFailure or CommandAppException || IsUserError(error))
        {
            // Spectre's own rendering points at the argument and suggests the nearest command ("Did you mean 'train'?").
            if (error is CommandAppException { Pretty: { } pretty }) console.Write(pretty);
            else console.MarkupLineInterpolated($"[red]error:[/] {error.Message}");
            return ExitCodes.UserError;
        }
        string trace = WriteTrace(error);
        console.MarkupLineInterpolated($"[red]unexpected error:[/] {error.GetType().Name}: {FirstLine(error.Message)} (full trace in {trace})");
        return ExitCodes.InternalError;
    }

    /// <summary>
    /// The exceptions our checks throw for bad input (a file, a row, an option, a model that cannot be used), whose
    /// message names the culprit: printed as one line with exit code 1.
    /// </summary>
    public static bool IsUserError(Exception e) =>
        e is FileNotFoundException or InvalidDataException or NotSupportedException or ArgumentException or IOException
            or UnauthorizedAccessException or InvalidOperationException;

    private static string FirstLine(string text) => text.Split('\n', 2)[0].TrimEnd('\r');

    /// <summary>Writes the exception with its stack trace to a new file in the temporary folder; returns its path.</summary>
    private static string WriteTrace(Exception error)
    {
        string path = Path.Combine(Path.GetTempPath(), $"efficientcnn-error-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.txt");
        try
        {
            File.WriteAllText(path, $"efficientcnn {string.Join(" ", Environment.GetCommandLineArgs().Skip(1))}\n{error}\n");
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"nowhere: {path} could not be written ({e.Message}); rerun with EFFICIENTCNN_DEBUG=1 to see it";
        }
    }
}
