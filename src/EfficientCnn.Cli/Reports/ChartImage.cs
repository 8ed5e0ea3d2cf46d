using System.Globalization;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.SkiaSharp;
using SkiaSharp;

namespace EfficientCnn.Cli.Reports;

/// <summary>Rendering shared by the report charts: colours, fonts, label shortening, and plot models to PNG bytes.</summary>
internal static class ChartImage
{
    /// <summary>Training series, precision bars, latency-meeting candidates (tab10 blue).</summary>
    public static readonly OxyColor Primary = OxyColor.Parse("#1f77b4");

    /// <summary>Validation series and recall bars (tab10 orange).</summary>
    public static readonly OxyColor Secondary = OxyColor.Parse("#ff7f0e");

    /// <summary>Candidates that miss the latency budget (tab10 red, lightened so the label stays readable).</summary>
    public static readonly OxyColor Failing = OxyColor.Parse("#e8908f");

    /// <summary>Font size of tick labels, legends and bar labels.</summary>
    public const double TickFontSize = 13;

    /// <summary>Font size of axis titles.</summary>
    public const double AxisTitleFontSize = 15;

    /// <summary>Grid lines: light enough to stay behind the data.</summary>
    public static readonly OxyColor GridColor = OxyColor.FromRgb(0xe4, 0xe4, 0xe4);

    /// <summary>Shortens <paramref name="text"/> to at most <paramref name="max"/> characters with an ellipsis.</summary>
    public static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    /// <summary>A plot model with the report's common styling: the report font, invariant number formats, white background.</summary>
    public static PlotModel NewModel(string title) => new()
    {
        Title = title,
        TitleFontSize = 18,
        TitleFontWeight = FontWeights.Bold,
        DefaultFont = ReportFont.Typeface.FamilyName,
        DefaultFontSize = TickFontSize,
        Culture = CultureInfo.InvariantCulture,
        Background = OxyColors.White,
        TextColor = OxyColor.FromRgb(0x22, 0x22, 0x22),
        PlotAreaBorderColor = OxyColor.FromRgb(0x99, 0x99, 0x99),
        Padding = new OxyThickness(12),
    };

    /// <summary>A value axis with light grid lines (or none when <paramref name="grid"/> is false).</summary>
    public static LinearAxis ValueAxis(AxisPosition position, string title, bool grid = true) => new()
    {
        Position = position,
        Title = title,
        TitleFontSize = AxisTitleFontSize,
        MajorGridlineStyle = grid ? LineStyle.Solid : LineStyle.None,
        MajorGridlineColor = GridColor,
        IsPanEnabled = false,
        IsZoomEnabled = false,
    };

    /// <summary>A legend under the plot area, where it cannot cover a bar or its label.</summary>
    public static Legend LegendBelow() => new()
    {
        LegendPlacement = LegendPlacement.Outside,
        LegendPosition = LegendPosition.BottomCenter,
        LegendOrientation = LegendOrientation.Horizontal,
        LegendFontSize = TickFontSize,
        LegendSymbolLength = 18,
    };

    /// <summary>A legend in a corner of the plot area, on a white box so grid lines do not run through it.</summary>
    public static Legend LegendInside(LegendPosition position) => new()
    {
        LegendPlacement = LegendPlacement.Inside,
        LegendPosition = position,
        LegendFontSize = TickFontSize,
        LegendBackground = OxyColor.FromAColor(230, OxyColors.White),
        LegendBorder = OxyColor.FromRgb(0xcc, 0xcc, 0xcc),
        LegendBorderThickness = 1,
        LegendSymbolLength = 24,
    };

    /// <summary>Renders one plot to PNG.</summary>
    public static byte[] ToPng(PlotModel model, int width, int height) => ToPng([model], width, height);

    /// <summary>Renders plots side by side, each <paramref name="panelWidth"/> wide, into one PNG.</summary>
    /// <remarks>
    /// Drawn through OxyPlot's Skia render context rather than its PngExporter so that several panels share one picture.
    /// Text shaping is off: it needs HarfBuzz's native library, which is not shipped for Linux, and plain left-to-right
    /// labels do not need it.
    /// </remarks>
    public static byte[] ToPng(IReadOnlyList<PlotModel> panels, int panelWidth, int height)
    {
        int width = panelWidth * panels.Count;
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"Cannot allocate a {width}x{height} chart.");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        for (int i = 0; i < panels.Count; i++)
        {
            canvas.Save();
            canvas.Translate(i * panelWidth, 0);
            canvas.ClipRect(SKRect.Create(panelWidth, height));
            using (var context = new SkiaRenderContext { RenderTarget = RenderTarget.PixelGraphic, SkCanvas = canvas, UseTextShaping = false })
            {
                IPlotModel model = panels[i];
                model.Update(true);
                model.Render(context, new OxyRect(0, 0, panelWidth, height));
            }
            canvas.Restore();
        }
        return Encode(surface);
    }

    /// <summary>PNG bytes of a surface's content.</summary>
    public static byte[] Encode(SKSurface surface)
    {
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
