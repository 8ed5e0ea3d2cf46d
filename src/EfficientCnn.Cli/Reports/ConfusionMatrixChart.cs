using System.Globalization;
using ScottPlot;
using SkiaSharp;

namespace EfficientCnn.Cli.Reports;

/// <summary>
/// confusion_matrix.png: one cell per (true, predicted) pair with its count; rows are true classes (first at the top),
/// columns predicted classes. The shade is the count's share of its row, so rare classes are as visible as common ones.
/// </summary>
internal static class ConfusionMatrixChart
{
    private static readonly Color Light = Color.FromHex("#f7fbff");
    private static readonly Color Dark = Color.FromHex("#08306b");

    public static byte[] Render(long[,] counts, IReadOnlyList<string> classes)
    {
        int n = classes.Count;
        int cell = n <= 6 ? 80 : n <= 12 ? 56 : 40;
        long max = 0;
        foreach (long c in counts) max = Math.Max(max, c);
        int digits = max.ToString(CultureInfo.InvariantCulture).Length;
        // Counts must fit their cell: about 0.6 em per digit.
        float fontSize = Math.Min(Math.Min(cell * 0.3f, 18f), cell * 0.85f / (0.6f * digits));

        var plot = ChartImage.NewPlot("Confusion matrix", "predicted", "true");
        for (int row = 0; row < n; row++)
        {
            long total = 0;
            for (int col = 0; col < n; col++) total += counts[row, col];
            double y = n - 1 - row;
            for (int col = 0; col < n; col++)
            {
                double share = total > 0 ? (double)counts[row, col] / total : 0;
                var rect = plot.Add.Rectangle(col - 0.5, col + 0.5, y - 0.5, y + 0.5);
                rect.FillColor = Lerp(Light, Dark, share);
                rect.LineColor = Colors.White;
                rect.LineWidth = 1;
                var text = plot.Add.Text(counts[row, col].ToString(CultureInfo.InvariantCulture), col, y);
                text.LabelFontSize = fontSize;
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontColor = share > 0.5 ? Colors.White : Colors.Black;
                text.LabelBold = row == col;
            }
        }

        var labels = classes.Select(c => ChartImage.Shorten(c, 24)).ToArray();
        var positions = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(positions, labels);
        plot.Axes.Left.SetTicks(positions.Select(p => n - 1 - p).ToArray(), labels);
        plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.UpperRight;
        // ScottPlot sizes the axis for unrotated labels: reserve the height of the longest label turned by 45 degrees.
        using var font = new SKFont(ReportFont.Typeface, ChartImage.TickFontSize);
        float longest = labels.Max(l => font.MeasureText(l));
        plot.Axes.Bottom.MinimumSize = (longest + ChartImage.TickFontSize) * MathF.Sqrt(0.5f) + 35;
        plot.Axes.Right.MinimumSize = 24; // keep the last column off the image edge
        plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);
        plot.HideGrid();

        int side = n * cell;
        return ChartImage.ToPng(plot, side + 260, side + 230);
    }

    private static Color Lerp(Color from, Color to, double t) => new(
        (byte)Math.Round(from.R + (to.R - from.R) * t),
        (byte)Math.Round(from.G + (to.G - from.G) * t),
        (byte)Math.Round(from.B + (to.B - from.B) * t));
}
