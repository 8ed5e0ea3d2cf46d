using ScottPlot;
using SkiaSharp;

namespace EfficientCnn.Cli.Reports;

/// <summary>Rendering shared by the report charts: colours, label shortening, and plots to PNG bytes.</summary>
internal static class ChartImage
{
    /// <summary>Training series, precision bars, latency-meeting candidates (tab10 blue).</summary>
    public static readonly Color Primary = Color.FromHex("#1f77b4");

    /// <summary>Validation series and recall bars (tab10 orange).</summary>
    public static readonly Color Secondary = Color.FromHex("#ff7f0e");

    /// <summary>Candidates that miss the latency budget (tab10 red, lightened so the label stays readable).</summary>
    public static readonly Color Failing = Color.FromHex("#e8908f");

    /// <summary>Font size of tick labels.</summary>
    public const float TickFontSize = 13;

    /// <summary>Shortens <paramref name="text"/> to at most <paramref name="max"/> characters with an ellipsis.</summary>
    public static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    /// <summary>Renders one plot to PNG.</summary>
    public static byte[] ToPng(Plot plot, int width, int height) => ToPng([plot], width, height);

    /// <summary>Renders plots side by side, each <paramref name="panelWidth"/> wide, into one PNG.</summary>
    public static byte[] ToPng(IReadOnlyList<Plot> panels, int panelWidth, int height)
    {
        using var surface = SKSurface.Create(new SKImageInfo(panelWidth * panels.Count, height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"Cannot allocate a {panelWidth * panels.Count}x{height} chart.");
        surface.Canvas.Clear(SKColors.White);
        for (int i = 0; i < panels.Count; i++)
        {
            // Each panel gets its own surface: ScottPlot clears the whole canvas it renders on.
            using var panel = SKSurface.Create(new SKImageInfo(panelWidth, height, SKColorType.Rgba8888, SKAlphaType.Premul))
                ?? throw new InvalidOperationException($"Cannot allocate a {panelWidth}x{height} chart.");
            panels[i].Render(panel);
            using var image = panel.Snapshot();
            surface.Canvas.DrawImage(image, i * panelWidth, 0);
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

    /// <summary>A plot with the report's common styling (larger fonts than ScottPlot's defaults).</summary>
    public static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        // ScottPlot's automatic choice can be a serif font; a machine without fonts keeps ScottPlot's fallback.
        string family = ReportFont.Typeface.FamilyName;
        if (!string.IsNullOrEmpty(family)) plot.Font.Set(family);
        plot.Title(title, size: 18);
        plot.XLabel(xLabel, size: 15);
        plot.YLabel(yLabel, size: 15);
        plot.Axes.Bottom.TickLabelStyle.FontSize = TickFontSize;
        plot.Axes.Left.TickLabelStyle.FontSize = TickFontSize;
        return plot;
    }
}
