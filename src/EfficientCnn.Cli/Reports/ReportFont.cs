using SkiaSharp;

namespace EfficientCnn.Cli.Reports;

/// <summary>The typeface for text drawn with SkiaSharp directly (ScottPlot picks its own).</summary>
internal static class ReportFont
{
    private static readonly Lazy<SKTypeface> Lazy = new(Resolve);

    /// <summary>A sans-serif system font, or Skia's default when none is installed.</summary>
    public static SKTypeface Typeface => Lazy.Value;

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
