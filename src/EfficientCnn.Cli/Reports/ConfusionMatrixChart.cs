using System.Globalization;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Series;

namespace EfficientCnn.Cli.Reports;

/// <summary>
/// confusion_matrix.png: one cell per (true, predicted) pair with its count; rows are true classes (first at the top),
/// columns predicted classes. The shade is the count's share of its row, so rare classes are as visible as common ones.
/// </summary>
internal static class ConfusionMatrixChart
{
    private static readonly OxyColor Light = OxyColor.Parse("#f7fbff");
    private static readonly OxyColor Dark = OxyColor.Parse("#08306b");

    public static byte[] Render(long[,] counts, IReadOnlyList<string> classes)
    {
        int n = classes.Count;
        int cell = n <= 6 ? 80 : n <= 12 ? 56 : 40;
        long max = 0;
        foreach (long c in counts) max = Math.Max(max, c);
        int digits = max.ToString(CultureInfo.InvariantCulture).Length;
        // Counts must fit their cell: about 0.6 em per digit.
        double fontSize = Math.Min(Math.Min(cell * 0.3, 18), cell * 0.85 / (0.6 * digits));

        var model = ChartImage.NewModel("Confusion matrix");
        var labels = classes.Select(c => ChartImage.Shorten(c, 24)).ToArray();
        var predicted = ClassAxis(AxisPosition.Bottom, "predicted", labels);
        predicted.Angle = -45; // long class names side by side would overlap
        model.Axes.Add(predicted);
        model.Axes.Add(ClassAxis(AxisPosition.Left, "true", labels.Reverse()));
        model.Axes.Add(new LinearColorAxis
        {
            Position = AxisPosition.Right,
            Title = "share of the true class",
            TitleFontSize = ChartImage.AxisTitleFontSize,
            Palette = OxyPalette.Interpolate(256, Light, Dark),
            Minimum = 0,
            Maximum = 1,
            MajorStep = 0.2,
            LabelFormatter = v => (v * 100).ToString("0", CultureInfo.InvariantCulture) + "%",
            IsPanEnabled = false,
            IsZoomEnabled = false,
        });

        // Heat map data is [x, y] with y upwards; the first class's row goes on top.
        var shares = new double[n, n];
        for (int row = 0; row < n; row++)
        {
            long total = 0;
            for (int col = 0; col < n; col++) total += counts[row, col];
            for (int col = 0; col < n; col++) shares[col, n - 1 - row] = total > 0 ? (double)counts[row, col] / total : 0;
        }
        model.Series.Add(new CountHeatMapSeries(counts)
        {
            X0 = 0,
            X1 = n - 1,
            Y0 = 0,
            Y1 = n - 1,
            Data = shares,
            Interpolate = false,
            RenderMethod = HeatMapRenderMethod.Rectangles,
            LabelFontSize = fontSize / cell, // a fraction of the cell height
        });

        // The plot area gets n cells each way; the margins hold the titles, the (rotated) class names and the colour bar.
        using var paint = ReportFont.TextPaint((float)ChartImage.TickFontSize, SkiaSharp.SKColors.Black);
        double longest = labels.Max(l => paint.MeasureText(l));
        int side = n * cell;
        int left = (int)Math.Ceiling(longest) + 70, bottom = (int)Math.Ceiling(longest * Math.Sqrt(0.5)) + 80;
        return ChartImage.ToPng(model, left + side + 150, side + bottom + 60);
    }

    private static CategoryAxis ClassAxis(AxisPosition position, string title, IEnumerable<string> labels)
    {
        var axis = new CategoryAxis
        {
            Position = position,
            Title = title,
            TitleFontSize = ChartImage.AxisTitleFontSize,
            IsPanEnabled = false,
            IsZoomEnabled = false,
        };
        axis.Labels.AddRange(labels);
        return axis;
    }

    /// <summary>A heat map whose cells are shaded by row share but labelled with the raw counts.</summary>
    private sealed class CountHeatMapSeries(long[,] counts) : HeatMapSeries
    {
        /// <summary>The count of cell (<paramref name="i"/>, <paramref name="j"/>) = (predicted, rows from the bottom).</summary>
        protected override string GetLabel(double v, int i, int j) =>
            counts[counts.GetLength(0) - 1 - j, i].ToString(CultureInfo.InvariantCulture);
    }
}
