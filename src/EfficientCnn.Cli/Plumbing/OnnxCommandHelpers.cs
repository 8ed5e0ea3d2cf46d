using System.Text.Json;
using Spectre.Console;

namespace EfficientCnn.Cli.Plumbing;

/// <summary>Shared output and error handling of the ONNX commands.</summary>
internal static class OnnxCommandHelpers
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Runs <paramref name="body"/>; expected failures (bad file, bad option, unsupported model) print one line and return 1.</summary>
    public static int Guard(bool json, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (CliErrors.IsUserError(e))
        {
            if (json) Console.Out.WriteLine(JsonSerializer.Serialize(new { error = e.Message, kind = e.GetType().Name }, Json));
            else AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return ExitCodes.UserError;
        }
    }
}
