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
    /// <summary>ColorBrewer "Blues": stays saturated in the middle, where a plain white-to-navy blend turns grey.</summary>
    private static readonly OxyPalette Blues = OxyPalette.Interpolate(256,
        [.. new[] { "#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b" }.Select(OxyColor.Parse)]);

    /// <summary>Pixels above the plot area taken by the 18 px title and its spacing (measured with DejaVu Sans).</summary>
    private const int TitleHeight = 26;

    private const int ColourBarMargin = 120, Padding = 12;

    public static byte[] Render(long[,] counts, IReadOnlyList<string> classes)
    {
        int n = classes.Count;
        // At least 240 px a side, so a one- or two-class matrix still leaves room for the colour bar's labels.
        int cell = Math.Max(n <= 6 ? 80 : n <= 12 ? 56 : 40, 240 / n);
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
            Palette = Blues,
            RenderAsImage = true, // one smooth bar instead of 256 bands with seams between them
            Minimum = 0,
            Maximum = 1,
            MajorStep = 0.2,
            MinorTickSize = 0,
            LabelFormatter = v => (v * 100).ToString("0", CultureInfo.InvariantCulture) + "%",
            IsPanEnabled = false,
            IsZoomEnabled = false,
        });
        model.Series.Add(new CountHeatMapSeries(counts, fontSize));

        // Fixed margins make every cell exactly cell x cell pixels; they hold the axis titles, the class names (turned
        // by 45 degrees below) and the colour bar.
        using var paint = ReportFont.Text((float)ChartImage.TickFontSize, SkiaSharp.SKColors.Black);
        double longest = labels.Max(l => paint.Measure(l));
        int left = (int)Math.Ceiling(longest) + 48;
        int bottom = (int)Math.Ceiling((longest + ChartImage.TickFontSize) * Math.Sqrt(0.5)) + 44;
        model.Padding = new OxyThickness(Padding);
        model.PlotMargins = new OxyThickness(left, 0, ColourBarMargin, bottom);
        int side = n * cell;
        return ChartImage.ToPng(model, 2 * Padding + left + side + ColourBarMargin, 2 * Padding + TitleHeight + side + bottom);
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

    /// <summary>
    /// A heat map shaded by each count's share of its row and labelled with the counts themselves: white text on dark
    /// cells, bold on the diagonal (the correct predictions), white lines between cells.
    /// </summary>
    private sealed class CountHeatMapSeries : HeatMapSeries
    {
        private readonly long[,] counts;
        private readonly double fontSize;

        public CountHeatMapSeries(long[,] counts, double fontSize)
        {
            this.counts = counts;
            this.fontSize = fontSize;
            int n = counts.GetLength(0);
            // Heat map data is [x, y] with y upwards, so the first class's row goes on top.
            var shares = new double[n, n];
            for (int row = 0; row < n; row++)
            {
                long total = 0;
                for (int col = 0; col < n; col++) total += counts[row, col];
                for (int col = 0; col < n; col++) shares[col, n - 1 - row] = total > 0 ? (double)counts[row, col] / total : 0;
            }
            Data = shares;
            // Edge coordinates (cell borders at -0.5 ... n - 0.5) also work for a single class, where centres would
            // give zero-width cells.
            CoordinateDefinition = HeatMapCoordinateDefinition.Edge;
            X0 = Y0 = -0.5;
            X1 = Y1 = n - 0.5;
            Interpolate = false;
            RenderMethod = HeatMapRenderMethod.Rectangles;
        }

        /// <inheritdoc />
        public override void Render(IRenderContext rc)
        {
            base.Render(rc);
            int n = counts.GetLength(0);
            var separator = OxyColors.White;
            for (int k = 1; k < n; k++)
            {
                double at = k - 0.5;
                rc.DrawLine([Transform(new DataPoint(at, -0.5)), Transform(new DataPoint(at, n - 0.5))], separator, 1, EdgeRenderingMode.PreferSharpness);
                rc.DrawLine([Transform(new DataPoint(-0.5, at)), Transform(new DataPoint(n - 0.5, at))], separator, 1, EdgeRenderingMode.PreferSharpness);
            }
            for (int row = 0; row < n; row++)
            for (int col = 0; col < n; col++)
            {
                double share = Data[col, n - 1 - row];
                rc.DrawText(
                    Transform(new DataPoint(col, n - 1 - row)),
                    counts[row, col].ToString(CultureInfo.InvariantCulture),
                    share > 0.5 ? OxyColors.White : OxyColors.Black,
                    ActualFont,
                    fontSize,
                    row == col ? FontWeights.Bold : FontWeights.Normal,
                    0,
                    HorizontalAlignment.Center,
                    VerticalAlignment.Middle);
            }
        }
    }
}
