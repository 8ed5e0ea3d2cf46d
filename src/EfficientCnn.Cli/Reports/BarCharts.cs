using System.Globalization;
using ScottPlot;

namespace EfficientCnn.Cli.Reports;

/// <summary>per_class.png and leaderboard.png: horizontal bars, so long class and candidate names stay readable.</summary>
internal static class BarCharts
{
    /// <summary>Most candidates the leaderboard picture shows (the HTML table lists them all).</summary>
    public const int MaxLeaderboardBars = 40;

    /// <summary>Precision and recall bars per class, first class at the top.</summary>
    public static byte[] PerClass(IReadOnlyList<ClassMetrics> metrics)
    {
        int n = metrics.Count;
        var plot = ChartImage.NewPlot("Precision and recall per class", "score", "");
        var bars = new List<Bar>();
        for (int k = 0; k < n; k++)
        {
            double y = n - 1 - k;
            bars.Add(Bar(y + 0.2, metrics[k].Precision, ChartImage.Primary, Percent(metrics[k].Precision)));
            bars.Add(Bar(y - 0.2, metrics[k].Recall, ChartImage.Secondary, Percent(metrics[k].Recall)));
        }
        var labels = metrics.Select(m => $"{ChartImage.Shorten(m.Label, 28)} (n={m.Support})").ToArray();
        AddHorizontalBars(plot, bars, labels);
        plot.Axes.SetLimitsX(0, 1.15); // room for the value labels right of a full bar
        SetFractionTicks(plot);
        ShowLegendBelow(plot,
            [new LegendItem { LabelText = "precision", FillColor = ChartImage.Primary }, new LegendItem { LabelText = "recall", FillColor = ChartImage.Secondary }]);
        return ChartImage.ToPng(plot, 900, Height(n, 44));
    }

    /// <summary>Validation accuracy per candidate, best at the top; candidates over the latency budget in red.</summary>
    public static byte[] Leaderboard(IReadOnlyList<LeaderboardEntry> entries)
    {
        var shown = entries.OrderByDescending(e => e.ValidationAccuracy).Take(MaxLeaderboardBars).ToArray();
        int n = shown.Length;
        string title = entries.Count > n ? $"Leaderboard (best {n} of {entries.Count})" : "Leaderboard";
        var plot = ChartImage.NewPlot(title, "validation accuracy", "");
        var bars = new List<Bar>();
        for (int k = 0; k < n; k++)
        {
            var e = shown[k];
            string label = $"{Percent(e.ValidationAccuracy)}, {e.LatencyMs.ToString("0.0", CultureInfo.InvariantCulture)} ms"
                + (e.MeetsLatency ? "" : " (too slow)");
            bars.Add(Bar(n - 1 - k, e.ValidationAccuracy, e.MeetsLatency ? ChartImage.Primary : ChartImage.Failing, label, size: 0.7));
        }
        var labels = shown.Select(e => ChartImage.Shorten($"{e.Name} ({e.Backbone}, {e.Mode})", 44)).ToArray();
        AddHorizontalBars(plot, bars, labels);
        plot.Axes.SetLimitsX(0, 1.32); // room for "accuracy, latency (too slow)" right of a full bar
        SetFractionTicks(plot);
        ShowLegendBelow(plot,
            [new LegendItem { LabelText = "meets latency", FillColor = ChartImage.Primary }, new LegendItem { LabelText = "misses latency", FillColor = ChartImage.Failing }]);
        return ChartImage.ToPng(plot, 1000, Height(n, 36));
    }

    /// <summary>A legend under the chart, where it cannot cover a bar or its label.</summary>
    private static void ShowLegendBelow(Plot plot, LegendItem[] items)
    {
        plot.Legend.ManualItems.AddRange(items);
        plot.Legend.FontSize = 13;
        plot.Legend.Orientation = Orientation.Horizontal;
        plot.ShowLegend(Edge.Bottom);
    }

    private static Bar Bar(double position, double value, Color color, string label, double size = 0.38) => new()
    {
        Position = position,
        Value = double.IsFinite(value) ? value : 0,
        FillColor = color,
        Size = size,
        Label = label,
    };

    private static void AddHorizontalBars(Plot plot, List<Bar> bars, string[] labels)
    {
        var barPlot = plot.Add.Bars(bars);
        barPlot.Horizontal = true;
        barPlot.ValueLabelStyle.FontSize = 12;
        int n = labels.Length;
        plot.Axes.Left.SetTicks(Enumerable.Range(0, n).Select(k => (double)(n - 1 - k)).ToArray(), labels);
        plot.Axes.SetLimitsY(-0.6, n - 0.4);
        plot.Grid.YAxisStyle.MajorLineStyle.Width = 0; // bars need no horizontal grid lines
    }

    private static void SetFractionTicks(Plot plot)
    {
        double[] ticks = [0, 0.2, 0.4, 0.6, 0.8, 1.0];
        plot.Axes.Bottom.SetTicks(ticks, ticks.Select(t => $"{t * 100:0}%").ToArray());
    }

    private static string Percent(double fraction) => (fraction * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static int Height(int rows, int rowPixels) => Math.Max(320, 170 + rows * rowPixels);
}
