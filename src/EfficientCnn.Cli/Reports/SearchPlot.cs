using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Search;
using EfficientCnn.Backbones.Training;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Series;

namespace EfficientCnn.Cli.Reports;

/// <summary>A hand-designed zoo variant measured on the same proxy task and machine as the search.</summary>
/// <param name="Name">Zoo variant.</param>
/// <param name="Accuracy">Proxy accuracy (fraction).</param>
/// <param name="LatencyMs">Measured latency.</param>
public sealed record ZooPoint(string Name, double Accuracy, double LatencyMs);

/// <summary>The search's picture: every sampled architecture, the Pareto front, the zoo variants and the latency target.</summary>
public static class SearchPlot
{
    /// <summary>File name of the plot in the search output folder.</summary>
    public const string FileName = "accuracy_vs_latency.png";

    /// <summary>Reads zoo.csv (name,accuracy,latency_ms,...) as written by the search command; empty when absent.</summary>
    public static IReadOnlyList<ZooPoint> ReadZoo(string path) => !File.Exists(path) ? [] :
        CsvTable.Read(path).Rows.Select(r => r.Fields).Where(f => f.Count >= 3)
            .Select(f => new ZooPoint(f[0], double.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture),
                double.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture)))
            .ToArray();

    /// <summary>Writes the plot atomically and returns its path.</summary>
    public static string Write(IReadOnlyList<SearchSample> samples, IReadOnlyList<ZooPoint> zoo, double targetMs, string directory)
    {
        var model = ChartImage.NewModel("Searched architectures vs hand-designed zoo");
        model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Bottom, Title = "latency per batch (ms, log scale)", TitleFontSize = ChartImage.AxisTitleFontSize,
            MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = ChartImage.GridColor,
            MinimumPadding = 0.06, MaximumPadding = 0.03 }); // room for the leftmost zoo label
        var accuracy = ChartImage.ValueAxis(AxisPosition.Left, "proxy accuracy (%)");
        model.Axes.Add(accuracy);
        var all = new ScatterSeries { Title = "sampled", MarkerType = MarkerType.Circle, MarkerSize = 3.5, MarkerFill = OxyColor.FromAColor(120, ChartImage.Primary) };
        all.Points.AddRange(samples.Where(s => s.LatencyMs > 0).Select(s => new ScatterPoint(s.LatencyMs, 100 * s.Accuracy)));
        var front = new LineSeries { Title = "Pareto front", Color = ChartImage.Primary, StrokeThickness = 2, MarkerType = MarkerType.Circle, MarkerSize = 4, MarkerFill = ChartImage.Primary };
        front.Points.AddRange(ParetoFront.Of(samples.Where(s => s.LatencyMs > 0), s => s.Accuracy, s => s.LatencyMs)
            .OrderBy(s => s.LatencyMs).Select(s => new DataPoint(s.LatencyMs, 100 * s.Accuracy)));
        var hand = new ScatterSeries { Title = "zoo (hand-designed)", MarkerType = MarkerType.Diamond, MarkerSize = 7, MarkerFill = ChartImage.Secondary };
        hand.Points.AddRange(zoo.Where(z => z.LatencyMs > 0).Select(z => new ScatterPoint(z.LatencyMs, 100 * z.Accuracy)));
        model.Series.Add(all);
        model.Series.Add(front);
        model.Series.Add(hand);
        // Labels alternate above and below in order of latency: neighbouring variants often share an accuracy
        // (mnasnet_a1 and mnasnet_b1_1.0), and their names would overlap on one side.
        foreach (var (z, k) in zoo.Where(z => z.LatencyMs > 0).OrderBy(z => z.LatencyMs).Select((z, k) => (z, k)))
            model.Annotations.Add(new TextAnnotation { Text = z.Name, TextPosition = new DataPoint(z.LatencyMs, 100 * z.Accuracy), FontSize = 11,
                Stroke = OxyColors.Transparent, TextVerticalAlignment = k % 2 == 0 ? VerticalAlignment.Bottom : VerticalAlignment.Top,
                Offset = new ScreenVector(0, k % 2 == 0 ? -6 : 6), Background = OxyColor.FromAColor(200, OxyColors.White) });
        // The target's name sits at the bottom of its line, away from the Pareto front that crosses it higher up.
        model.Annotations.Add(new LineAnnotation { Type = LineAnnotationType.Vertical, X = targetMs, Color = ChartImage.Failing, StrokeThickness = 2,
            LineStyle = LineStyle.Dash, Text = $"target {targetMs:0.##} ms", TextLinePosition = 0.02, TextHorizontalAlignment = HorizontalAlignment.Left });
        model.Legends.Add(ChartImage.LegendBelow());
        string path = Path.Combine(directory, FileName);
        OnnxExporter.WriteAtomically(path, ChartImage.ToPng(model, 1000, 640));
        return path;
    }
}
