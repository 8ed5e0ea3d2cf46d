using SkiaSharp;

namespace EfficientCnn.Cli.Reports;

/// <summary>The report's typeface, for the charts (by family name) and for text drawn with SkiaSharp directly.</summary>
internal static class ReportFont
{
    private static readonly Lazy<SKTypeface> Lazy = new(Resolve);

    /// <summary>A sans-serif system font, or Skia's default when none is installed.</summary>
    public static SKTypeface Typeface => Lazy.Value;

    /// <summary>A paint that draws (and measures) text in the report typeface.</summary>
    public static SKPaint TextPaint(float size, SKColor color, SKTextAlign align = SKTextAlign.Left) => new()
    {
        Typeface = Typeface,
        TextSize = size,
        Color = color,
        TextAlign = align,
        IsAntialias = true,
    };

    private static SKTypeface Resolve()
    {
        foreach (string family in new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" })
        {
            var typeface = SKFontManager.Default.MatchFamily(family);
            if (typeface is not null) return typeface;
        }
        return SKTypeface.Default;
    }
}
