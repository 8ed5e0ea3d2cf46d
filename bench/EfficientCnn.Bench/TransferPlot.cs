using System.Globalization;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;
using OxyPlot.SkiaSharp;
using SkiaSharp;

namespace EfficientCnn.Bench;

/// <summary>A label's rectangle in screen pixels (top-left corner, size).</summary>
/// <param name="X">Left edge.</param>
/// <param name="Y">Top edge.</param>
/// <param name="Width">Width.</param>
/// <param name="Height">Height.</param>
public sealed record LabelBox(double X, double Y, double Width, double Height)
{
    /// <summary>Whether the two rectangles share any area.</summary>
    public bool Overlaps(LabelBox o) => X < o.X + o.Width && o.X < X + Width && Y < o.Y + o.Height && o.Y < Y + Height;
}

/// <summary>
/// The transfer study's picture: test accuracy against backbone latency per image (log scale), one panel per dataset side
/// by side in one PNG, a labelled marker per results row, ML.NET's ResNet18 highlighted, and a dashed line at a fifth
/// of ResNet18's latency (issue 6's aim: its accuracy at a fifth of its cost). Styled like the CLI's report charts
/// (src/EfficientCnn.Cli/Reports/ChartImage.cs, internal there); text shaping off for the same reason.
/// </summary>
public static class TransferPlot
{
    /// <summary>Width of one dataset's panel in pixels.</summary>
    public const int PanelWidth = 860;

    /// <summary>Height of the picture in pixels.</summary>
    public const int Height = 660;

    private const string Font = "DejaVu Sans";
    private const double LabelFontSize = 12;
    private static readonly OxyThickness LabelPadding = new(2, 1, 2, 1);
    private static readonly OxyColor ResNet18Colour = OxyColor.Parse("#ff7f0e");
    private static readonly OxyColor OursColour = OxyColor.Parse("#1f77b4");
    private static readonly OxyColor ScratchColour = OxyColor.Parse("#8c8c8c");
    private static readonly OxyColor GridColour = OxyColor.FromRgb(0xe4, 0xe4, 0xe4);

    /// <summary><c>plot-transfer --results FILE.csv --out PNG [--dataset NAME]</c>.</summary>
    internal static int Run(BenchArgs a)
    {
        var rows = TransferResultsCsv.Read(a.Required("results"));
        string output = a.Required("out");
        byte[] png = Render(rows, a.Get("dataset"));
        if (Path.GetDirectoryName(Path.GetFullPath(output)) is { } dir) Directory.CreateDirectory(dir);
        File.WriteAllBytes(output, png);
        Console.WriteLine($"wrote {output} ({rows.Count} rows)");
        return 0;
    }

    /// <summary>
    /// The PNG: one panel per dataset in order of first appearance (only <paramref name="dataset"/> when given), each
    /// <see cref="PanelWidth"/> wide. Rows without a latency cannot be placed and are left out.
    /// </summary>
    /// <exception cref="ArgumentException">No row with a latency (ParamName "results"), or none for <paramref name="dataset"/> (ParamName "dataset").</exception>
    public static byte[] Render(IReadOnlyList<TransferResult> rows, string? dataset = null)
    {
        var placed = rows.Where(r => r.LatencyMs > 0).ToArray();
        if (placed.Length == 0) throw new ArgumentException("no results row has a latency to plot.", "results");
        var datasets = placed.Select(r => r.Dataset).Distinct().ToArray();
        if (dataset is not null && !datasets.Contains(dataset))
            throw new ArgumentException($"no results rows for dataset '{dataset}'; the file has {string.Join(", ", datasets)}.", "dataset");
        var panels = (dataset is null ? datasets : [dataset]).Select(d => placed.Where(r => r.Dataset == d).ToArray()).ToArray();

        int width = PanelWidth * panels.Length;
        using var surface = SKSurface.Create(new SKImageInfo(width, Height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"Cannot allocate a {width}x{Height} chart.");
        surface.Canvas.Clear(SKColors.White);
        for (int i = 0; i < panels.Length; i++)
        {
            var model = Panel(panels[i]);
            // Labels need the axes' screen transforms: lay the panel out once off-screen, then place them and draw.
            using (var scratch = SKSurface.Create(new SKImageInfo(PanelWidth, Height)))
                AddLabels(model, panels[i], Draw(scratch.Canvas, model));
            surface.Canvas.Save();
            surface.Canvas.Translate(i * PanelWidth, 0);
            surface.Canvas.ClipRect(SKRect.Create(PanelWidth, Height));
            Draw(surface.Canvas, model).Dispose();
            surface.Canvas.Restore();
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>A fifth of ML.NET's ResNet18 latency (median of its rows), or null without ResNet18 rows.</summary>
    public static double? FifthOfResNet18Ms(IEnumerable<TransferResult> rows)
    {
        var latencies = rows.Where(r => r.IsResNet18 && r.LatencyMs > 0).Select(r => r.LatencyMs!.Value).ToArray();
        return latencies.Length == 0 ? null : Measure.Median(latencies) / 5;
    }

    /// <summary>
    /// Moves each label up or down as little as it can so that it covers neither a label placed before it (labels go in
    /// order of their top edge) nor an <paramref name="obstacles"/> box (the markers), staying between
    /// <paramref name="top"/> and <paramref name="bottom"/> where there is room. Labels keep their x.
    /// </summary>
    public static IReadOnlyList<LabelBox> Spread(IReadOnlyList<LabelBox> labels, IReadOnlyList<LabelBox> obstacles, double top, double bottom)
    {
        var result = new LabelBox[labels.Count];
        var taken = new List<LabelBox>(obstacles);
        foreach (int i in Enumerable.Range(0, labels.Count).OrderBy(i => labels[i].Y))
        {
            var label = labels[i];
            // Where a free spot can start: where it is, or just below or above anything already there.
            var spots = taken.SelectMany(t => new[] { t.Y + t.Height, t.Y - label.Height }).Prepend(label.Y)
                .Select(y => label with { Y = y }).Where(c => !taken.Any(c.Overlaps))
                .OrderBy(c => c.Y < top || c.Y + c.Height > bottom).ThenBy(c => Math.Abs(c.Y - label.Y)).ThenBy(c => c.Y);
            result[i] = spots.First(); // the spot below the lowest box is always free
            taken.Add(result[i]);
        }
        return result;
    }

    private static PlotModel Panel(TransferResult[] rows)
    {
        var model = new PlotModel
        {
            Title = rows[0].Dataset,
            Subtitle = "the issue's aim: ResNet18's accuracy at 1/5 of its cost, left of the dashed line",
            TitleFontSize = 18,
            SubtitleFontSize = 12,
            DefaultFont = Font,
            DefaultFontSize = 13,
            Culture = CultureInfo.InvariantCulture,
            Background = OxyColors.White,
            TextColor = OxyColor.FromRgb(0x22, 0x22, 0x22),
            PlotAreaBorderColor = OxyColor.FromRgb(0x99, 0x99, 0x99),
            Padding = new OxyThickness(12),
        };
        double? limit = FifthOfResNet18Ms(rows);
        var xs = rows.Select(r => r.LatencyMs!.Value).Concat(limit is { } l ? [l] : []).ToArray();
        model.Axes.Add(new LogarithmicAxis
        {
            Position = AxisPosition.Bottom, Title = "backbone latency per image (ms; ONNX Runtime, batch 1, 1 thread; log scale)",
            Minimum = xs.Min() / 1.5, Maximum = xs.Max() * 1.8, MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = GridColour,
        });
        var ys = rows.Select(r => 100 * r.MicroAccuracy).ToArray();
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Left, Title = "test accuracy, micro (%)", Minimum = Math.Max(0, ys.Min() - 5), Maximum = Math.Min(100, ys.Max() + 5),
            MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = GridColour,
        });
        AddSeries(model, "ML.NET's ResNet18 (ImageNet)", MarkerType.Diamond, 9, ResNet18Colour, rows.Where(r => r.IsResNet18));
        AddSeries(model, "our pretrained backbones", MarkerType.Circle, 6, OursColour, rows.Where(r => !r.IsResNet18 && !r.IsFromScratch));
        AddSeries(model, "random init (from scratch)", MarkerType.Square, 6, ScratchColour, rows.Where(r => r.IsFromScratch));
        if (limit is { } ms)
        {
            model.Annotations.Add(new LineAnnotation { Type = LineAnnotationType.Vertical, X = ms, Color = ResNet18Colour, StrokeThickness = 2, LineStyle = LineStyle.Dash });
            // Named in the legend (an empty series) rather than along the line, where its text would crowd the labels.
            model.Series.Add(new LineSeries { Title = $"1/5 of ResNet18's latency ({ms:0.#} ms)", Color = ResNet18Colour, StrokeThickness = 2, LineStyle = LineStyle.Dash });
        }
        model.Legends.Add(new Legend
        {
            LegendPlacement = LegendPlacement.Outside, LegendPosition = LegendPosition.BottomCenter,
            LegendOrientation = LegendOrientation.Horizontal, LegendFontSize = 13, LegendSymbolLength = 18,
        });
        return model;
    }

    private static void AddSeries(PlotModel model, string title, MarkerType marker, double size, OxyColor colour, IEnumerable<TransferResult> rows)
    {
        var series = new ScatterSeries { Title = title, MarkerType = marker, MarkerSize = size, MarkerFill = colour, MarkerStroke = OxyColors.White, MarkerStrokeThickness = 1 };
        series.Points.AddRange(rows.Select(r => new ScatterPoint(r.LatencyMs!.Value, 100 * r.MicroAccuracy)));
        if (series.Points.Count > 0) model.Series.Add(series);
    }

    /// <summary>
    /// One label per row beside its marker: right of it, or left in the right third of the plot (so it stays inside),
    /// moved up or down (with a leader line) where it would cover another label or a marker.
    /// </summary>
    private static void AddLabels(PlotModel model, TransferResult[] rows, SkiaRenderContext layout)
    {
        using (layout)
        {
            var x = model.Axes[0];
            var y = model.Axes[1];
            var area = model.PlotArea;
            var anchors = rows.Select(r => x.Transform(r.LatencyMs!.Value, 100 * r.MicroAccuracy, y)).ToArray();
            var texts = rows.Select(r => $"{r.Backbone} · {r.Method}").ToArray();
            var labels = anchors.Select((p, i) =>
            {
                var text = layout.MeasureText(texts[i], Font, LabelFontSize, FontWeights.Normal);
                double width = text.Width + LabelPadding.Left + LabelPadding.Right, height = text.Height + LabelPadding.Top + LabelPadding.Bottom + 1;
                bool left = p.X > area.Left + 2 * area.Width / 3;
                return new LabelBox(left ? p.X - 8 - width : p.X + 8, p.Y - height / 2, width, height);
            }).ToArray();
            var markers = anchors.Select(p => new LabelBox(p.X - 6, p.Y - 6, 12, 12)).ToArray();
            var placed = Spread(labels, markers, area.Top, area.Bottom);
            for (int i = 0; i < rows.Length; i++)
            {
                if (Math.Abs(placed[i].Y - labels[i].Y) > placed[i].Height / 3)
                {
                    // Moved off its point: a thin leader line from the marker to the label's near edge.
                    var edge = new ScreenPoint(placed[i].X < anchors[i].X ? placed[i].X + placed[i].Width : placed[i].X, placed[i].Y + placed[i].Height / 2);
                    model.Annotations.Add(new PolylineAnnotation
                    {
                        Points = { x.InverseTransform(anchors[i].X, anchors[i].Y, y), x.InverseTransform(edge.X, edge.Y, y) },
                        Color = OxyColor.FromRgb(0xaa, 0xaa, 0xaa), StrokeThickness = 1, LineStyle = LineStyle.Solid, Layer = AnnotationLayer.BelowSeries,
                    });
                }
                model.Annotations.Add(new TextAnnotation
                {
                    Text = texts[i], TextPosition = x.InverseTransform(anchors[i].X, anchors[i].Y, y), FontSize = LabelFontSize,
                    TextHorizontalAlignment = HorizontalAlignment.Left, TextVerticalAlignment = VerticalAlignment.Top,
                    Offset = new ScreenVector(placed[i].X - anchors[i].X, placed[i].Y - anchors[i].Y),
                    Padding = LabelPadding, Stroke = OxyColors.Transparent, Background = OxyColor.FromAColor(200, OxyColors.White),
                    TextColor = rows[i].IsResNet18 ? OxyColor.FromRgb(0xb3, 0x58, 0x06) : OxyColor.FromRgb(0x22, 0x22, 0x22),
                });
            }
        }
    }

    /// <summary>A whole <paramref name="model"/> as a PNG, drawn as the panels are (other bench plots use it).</summary>
    internal static byte[] ToPng(PlotModel model, int width, int height)
    {
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"Cannot allocate a {width}x{height} chart.");
        surface.Canvas.Clear(SKColors.White);
        Draw(surface.Canvas, model, width, height).Dispose();
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Lays out and draws <paramref name="model"/> on <paramref name="canvas"/>; the caller disposes the returned context.</summary>
    private static SkiaRenderContext Draw(SKCanvas canvas, PlotModel model, int width = PanelWidth, int height = Height)
    {
        var context = new SkiaRenderContext { RenderTarget = RenderTarget.PixelGraphic, SkCanvas = canvas, UseTextShaping = false };
        IPlotModel plot = model;
        plot.Update(true);
        plot.Render(context, new OxyRect(0, 0, width, height));
        return context;
    }
}
