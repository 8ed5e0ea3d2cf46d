using System.Globalization;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Series;

namespace EfficientCnn.Cli.Reports;

/// <summary>per_class.png and leaderboard.png: horizontal bars, so long class and candidate names stay readable.</summary>
internal static class BarCharts
{
    /// <summary>Most candidates the leaderboard picture shows (the HTML table lists them all).</summary>
    public const int MaxLeaderboardBars = 40;

    private const double BarLabelFontSize = 12;

    /// <summary>Precision and recall bars per class, first class at the top.</summary>
    public static byte[] PerClass(IReadOnlyList<ClassMetrics> metrics)
    {
        var model = ChartImage.NewModel("Precision and recall per class");
        var labels = metrics.Select(m => $"{ChartImage.Shorten(m.Label, 28)} (n={m.Support})");
        model.Axes.Add(Categories(labels, gapWidth: 0.4));
        model.Axes.Add(Fractions("score", max: 1.15)); // room for the value labels right of a full bar
        model.Series.Add(Bars("precision", ChartImage.Primary, metrics.Select(m => m.Precision)));
        model.Series.Add(Bars("recall", ChartImage.Secondary, metrics.Select(m => m.Recall)));
        model.Legends.Add(ChartImage.LegendBelow());
        return ChartImage.ToPng(model, 900, Height(metrics.Count, 44));
    }

    /// <summary>Validation accuracy per candidate, best at the top; candidates over the latency budget in red.</summary>
    public static byte[] Leaderboard(IReadOnlyList<LeaderboardEntry> entries)
    {
        var shown = entries.OrderByDescending(e => e.ValidationAccuracy).Take(MaxLeaderboardBars).ToArray();
        string title = entries.Count > shown.Length ? $"Leaderboard (best {shown.Length} of {entries.Count})" : "Leaderboard";
        var model = ChartImage.NewModel(title);
        model.Axes.Add(Categories(shown.Select(e => ChartImage.Shorten($"{e.Name} ({e.Backbone}, {e.Mode})", 44)), gapWidth: 0.5));
        model.Axes.Add(Fractions("validation accuracy", max: 1.32)); // room for "accuracy, latency (too slow)" right of a full bar

        // One series per colour, stacked into the same slot, so the legend explains the colours; each candidate has a
        // bar in exactly one of them.
        var meets = new BarSeries { Title = "meets latency", FillColor = ChartImage.Primary, IsStacked = true };
        var misses = new BarSeries { Title = "misses latency", FillColor = ChartImage.Failing, IsStacked = true };
        for (int k = 0; k < shown.Length; k++)
        {
            var e = shown[k];
            double value = Finite(e.ValidationAccuracy);
            (e.MeetsLatency ? meets : misses).Items.Add(new BarItem(value) { CategoryIndex = k });
            string label = $"{Percent(e.ValidationAccuracy)}, {e.LatencyMs.ToString("0.0", CultureInfo.InvariantCulture)} ms"
                + (e.MeetsLatency ? "" : " (too slow)");
            model.Annotations.Add(new TextAnnotation
            {
                Text = label,
                TextPosition = new DataPoint(value, k),
                TextHorizontalAlignment = HorizontalAlignment.Left,
                TextVerticalAlignment = VerticalAlignment.Middle,
                Offset = new ScreenVector(5, 0),
                FontSize = BarLabelFontSize,
                Stroke = OxyColors.Undefined,
                StrokeThickness = 0,
            });
        }
        model.Series.Add(meets);
        model.Series.Add(misses);
        model.Legends.Add(ChartImage.LegendBelow());
        return ChartImage.ToPng(model, 1000, Height(shown.Length, 36));
    }

    /// <summary>The category axis on the left, first label at the top.</summary>
    private static CategoryAxis Categories(IEnumerable<string> labels, double gapWidth)
    {
        var axis = new CategoryAxis
        {
            Position = AxisPosition.Left,
            GapWidth = gapWidth,
            StartPosition = 1, // reversed: category 0 at the top, in reading order
            EndPosition = 0,
            IsPanEnabled = false,
            IsZoomEnabled = false,
        };
        axis.Labels.AddRange(labels);
        return axis;
    }

    /// <summary>
    /// The value axis from 0 to <paramref name="max"/>; ticks and grid lines stop at 100 %, the rest is room for labels.
    /// </summary>
    private static LinearAxis Fractions(string title, double max)
    {
        var axis = ChartImage.ValueAxis(AxisPosition.Bottom, title, grid: false);
        axis.Minimum = 0;
        axis.Maximum = max;
        axis.MajorStep = 0.2;
        axis.MinorTickSize = 0;
        axis.ExtraGridlines = [0.2, 0.4, 0.6, 0.8, 1.0];
        axis.ExtraGridlineColor = ChartImage.GridColor;
        axis.LabelFormatter = v => v <= 1 + 1e-9 ? (v * 100).ToString("0", CultureInfo.InvariantCulture) + "%" : "";
        return axis;
    }

    private static BarSeries Bars(string title, OxyColor color, IEnumerable<double> values)
    {
        var series = new BarSeries
        {
            Title = title,
            FillColor = color,
            LabelFormatString = "{0:0.0%}",
            LabelPlacement = LabelPlacement.Outside,
            FontSize = BarLabelFontSize,
        };
        series.Items.AddRange(values.Select(v => new BarItem(Finite(v))));
        return series;
    }

    private static double Finite(double value) => double.IsFinite(value) ? value : 0;

    private static string Percent(double fraction) => (fraction * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static int Height(int rows, int rowPixels) => Math.Max(320, 170 + rows * rowPixels);
}
