using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace EfficientCnn.Cluster;

/// <summary>
/// One-line, uncoloured-when-piped logs on standard error: this project's messages at Information, Orleans' and the
/// framework's only when something is wrong (a dying silo makes Orleans log connection warnings by the dozen).
/// </summary>
internal static class ClusterLogging
{
    public static void Configure(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
            o.ColorBehavior = Console.IsErrorRedirected ? LoggerColorBehavior.Disabled : LoggerColorBehavior.Default;
        });
        logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddFilter("Orleans", LogLevel.Error);
        logging.AddFilter("Microsoft", LogLevel.Error);
        logging.AddFilter("Polly", LogLevel.Warning);
    }

    /// <summary>
    /// An exception's message without the stack traces Orleans puts inside some messages (connection failures quote
    /// their inner exception whole): one readable line for a warning that will be retried.
    /// </summary>
    public static string Brief(Exception e)
    {
        string message = e.Message;
        int cut = message.IndexOfAny(['\r', '\n']);
        if (cut >= 0) message = message[..cut];
        int trace = message.IndexOf("   at ", StringComparison.Ordinal);
        if (trace >= 0) message = message[..trace];
        return message.Length > 240 ? message[..240] + "..." : message.TrimEnd();
    }
}
