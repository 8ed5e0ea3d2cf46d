using System.Globalization;
using System.Net;
using System.Text;

namespace EfficientCnn.Cli.Reports;

/// <summary>index.html: title, summary, the written pictures (relative links), leaderboard and per-class tables.</summary>
internal static class ReportHtml
{
    private const string Style = """
        body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
        table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
        th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        tr.slow td { color: #a33; }
        img { max-width: 100%; border: 1px solid #eee; }
        figure { margin: 0 0 2em; }
        """;

    /// <summary>The page for <paramref name="data"/>; <paramref name="images"/> are (file name, caption) in page order.</summary>
    public static string Render(ReportData data, IReadOnlyList<(string File, string Caption)> images)
    {
        var html = new StringBuilder();
        html.AppendLine("<!DOCTYPE html>");
        html.AppendLine("<html lang=\"en\">");
        html.AppendLine($"<head><meta charset=\"utf-8\"><title>{E(data.Title)}</title><style>{Style}</style></head>");
        html.AppendLine("<body>");
        html.AppendLine($"<h1>{E(data.Title)}</h1>");

        if (data.Summary.Count > 0)
        {
            html.AppendLine("<h2>Summary</h2>");
            html.AppendLine("<table>");
            foreach (var (key, value) in data.Summary)
                html.AppendLine($"<tr><th>{E(key)}</th><td>{E(value)}</td></tr>");
            html.AppendLine("</table>");
        }

        foreach (var (file, caption) in images)
        {
            html.AppendLine($"<figure><img src=\"{E(Uri.EscapeDataString(file))}\" alt=\"{E(caption)}\">");
            html.AppendLine($"<figcaption>{E(caption)}</figcaption></figure>");
        }

        if (data.Leaderboard.Count > 0) AppendLeaderboard(html, data.Leaderboard);
        if (data.PerClass.Count > 0) AppendPerClass(html, data.PerClass);

        html.AppendLine("</body>");
        html.AppendLine("</html>");
        return html.ToString();
    }

    private static void AppendLeaderboard(StringBuilder html, IReadOnlyList<LeaderboardEntry> entries)
    {
        html.AppendLine("<h2>Leaderboard</h2>");
        html.AppendLine("<table>");
        html.AppendLine("<tr><th>#</th><th>name</th><th>backbone</th><th>mode</th><th>validation accuracy</th><th>latency (ms)</th><th>training (s)</th><th>meets latency</th></tr>");
        int rank = 0;
        foreach (var e in entries.OrderByDescending(e => e.ValidationAccuracy))
        {
            rank++;
            html.AppendLine(
                $"<tr{(e.MeetsLatency ? "" : " class=\"slow\"")}><td class=\"num\">{rank}</td><td>{E(e.Name)}</td><td>{E(e.Backbone)}</td><td>{E(e.Mode)}</td>" +
                $"<td class=\"num\">{Percent(e.ValidationAccuracy)}</td><td class=\"num\">{Number(e.LatencyMs, "0.##")}</td>" +
                $"<td class=\"num\">{Number(e.Seconds, "0.#")}</td><td>{(e.MeetsLatency ? "yes" : "no")}</td></tr>");
        }
        html.AppendLine("</table>");
    }

    private static void AppendPerClass(StringBuilder html, IReadOnlyList<ClassMetrics> metrics)
    {
        html.AppendLine("<h2>Per class</h2>");
        html.AppendLine("<table>");
        html.AppendLine("<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>");
        foreach (var m in metrics)
        {
            double f1 = m.Precision + m.Recall > 0 ? 2 * m.Precision * m.Recall / (m.Precision + m.Recall) : 0;
            html.AppendLine(
                $"<tr><td>{E(m.Label)}</td><td class=\"num\">{Percent(m.Precision)}</td><td class=\"num\">{Percent(m.Recall)}</td>" +
                $"<td class=\"num\">{Percent(f1)}</td><td class=\"num\">{m.Support}</td></tr>");
        }
        html.AppendLine("</table>");
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Percent(double fraction) => Number(fraction * 100, "0.0") + "%";

    private static string Number(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
