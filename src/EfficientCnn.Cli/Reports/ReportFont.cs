using SkiaSharp;

namespace EfficientCnn.Cli.Reports;

/// <summary>The report's typeface, for the charts (by family name) and for text drawn with SkiaSharp directly.</summary>
internal static class ReportFont
{
    private static readonly Lazy<SKTypeface> Lazy = new(Resolve);

    /// <summary>A sans-serif system font, or Skia's default when none is installed.</summary>
    public static SKTypeface Typeface => Lazy.Value;

    /// <summary>Text in the report typeface at <paramref name="size"/> pixels: draws and measures (SkiaSharp 3: SKFont + SKPaint).</summary>
    public static ReportText Text(float size, SKColor color, SKTextAlign align = SKTextAlign.Left) => new(size, color, align);

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

/// <summary>A font, ink and alignment for text drawn with SkiaSharp directly.</summary>
internal sealed class ReportText : IDisposable
{
    private readonly SKFont font;
    private readonly SKPaint paint;
    private readonly SKTextAlign align;

    public ReportText(float size, SKColor color, SKTextAlign align)
    {
        font = new SKFont(ReportFont.Typeface, size) { Edging = SKFontEdging.Antialias };
        paint = new SKPaint { Color = color, IsAntialias = true };
        this.align = align;
    }

    /// <summary>Draws <paramref name="text"/> with its baseline at <paramref name="y"/>, aligned on <paramref name="x"/>.</summary>
    public void Draw(SKCanvas canvas, string text, float x, float y) => canvas.DrawText(text, x, y, align, font, paint);

    /// <summary>Advance width of <paramref name="text"/> in pixels.</summary>
    public float Measure(string text) => font.MeasureText(text);

    public void Dispose()
    {
        font.Dispose();
        paint.Dispose();
    }
}
