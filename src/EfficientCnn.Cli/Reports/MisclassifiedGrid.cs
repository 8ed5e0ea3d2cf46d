using System.Globalization;
using SkiaSharp;

namespace EfficientCnn.Cli.Reports;

/// <summary>
/// misclassified.png: up to <see cref="MaxItems"/> thumbnails, each captioned "true → predicted (score)". Drawn with
/// SkiaSharp directly: ScottPlot has no image grid. An image that cannot be read becomes a grey "unreadable" tile.
/// </summary>
internal static class MisclassifiedGrid
{
    /// <summary>Most thumbnails drawn.</summary>
    public const int MaxItems = 24;

    private const int Columns = 6, Thumb = 150, Pad = 12, TileWidth = Thumb + 2 * Pad, CaptionHeight = 44, Header = 48;
    private const int TileHeight = Thumb + CaptionHeight + Pad;

    public static byte[] Render(IReadOnlyList<Misclassified> items)
    {
        var shown = items.Take(MaxItems).ToArray();
        int columns = Math.Min(Columns, shown.Length), rows = (shown.Length + Columns - 1) / Columns;
        int width = Math.Max(columns * TileWidth, 420), height = Header + rows * TileHeight + Pad;
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"Cannot allocate a {width}x{height} image.");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);

        var typeface = ReportFont.Typeface;
        using var titleFont = new SKFont(typeface, 20) { Edging = SKFontEdging.Antialias };
        using var captionFont = new SKFont(typeface, 13) { Edging = SKFontEdging.Antialias };
        using var ink = new SKPaint { Color = new SKColor(0x22, 0x22, 0x22), IsAntialias = true };
        using var scoreInk = new SKPaint { Color = new SKColor(0x66, 0x66, 0x66), IsAntialias = true };
        string title = items.Count > shown.Length ? $"Misclassified images (first {shown.Length} of {items.Count})" : "Misclassified images";
        canvas.DrawText(title, Pad, 32, SKTextAlign.Left, titleFont, ink);

        string arrow = typeface.ContainsGlyph('→') ? " → " : " -> ";
        for (int i = 0; i < shown.Length; i++)
        {
            var item = shown[i];
            float x = i % Columns * TileWidth + Pad, y = Header + i / Columns * TileHeight;
            DrawThumbnail(canvas, item.ImagePath, SKRect.Create(x, y, Thumb, Thumb), captionFont);
            float cx = x + Thumb / 2f, line1 = y + Thumb + 18, line2 = line1 + 17;
            string labels = Caption(item.TrueLabel, arrow, item.PredictedLabel, captionFont, Thumb + Pad);
            canvas.DrawText(labels, cx, line1, SKTextAlign.Center, captionFont, ink);
            canvas.DrawText($"({item.Score.ToString("0.00", CultureInfo.InvariantCulture)})", cx, line2, SKTextAlign.Center, captionFont, scoreInk);
        }
        return ChartImage.Encode(surface);
    }

    /// <summary>Draws the image scaled to fit <paramref name="box"/> (aspect kept, centred), or a grey "unreadable" tile.</summary>
    private static void DrawThumbnail(SKCanvas canvas, string path, SKRect box, SKFont font)
    {
        using var image = TryDecode(path);
        using var frame = new SKPaint { Color = new SKColor(0xcc, 0xcc, 0xcc), Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
        if (image is null)
        {
            using var grey = new SKPaint { Color = new SKColor(0xb0, 0xb0, 0xb0) };
            using var text = new SKPaint { Color = new SKColor(0x40, 0x40, 0x40), IsAntialias = true };
            canvas.DrawRect(box, grey);
            canvas.DrawText("unreadable", box.MidX, box.MidY + 5, SKTextAlign.Center, font, text);
            return;
        }
        float scale = Math.Min(box.Width / image.Width, box.Height / image.Height);
        float w = image.Width * scale, h = image.Height * scale;
        var target = SKRect.Create(box.MidX - w / 2, box.MidY - h / 2, w, h);
        // Mipmapped sampling keeps large photos from aliasing when shrunk; cubic is smoother for enlarged icons.
        var sampling = scale < 1 ? new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear) : new SKSamplingOptions(SKCubicResampler.Mitchell);
        canvas.DrawImage(image, target, sampling);
        canvas.DrawRect(box, frame);
    }

    /// <summary>Decodes any format SkiaSharp reads (PNG, JPEG, ...; grey, RGBA, palette); null when missing or corrupt.</summary>
    private static SKImage? TryDecode(string path)
    {
        try
        {
            if (!File.Exists(path)) return null;
            using var data = SKData.Create(path);
            return data is null ? null : SKImage.FromEncodedData(data);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>"true → predicted", shortening the longer label (with an ellipsis) until it fits <paramref name="width"/> pixels.</summary>
    private static string Caption(string trueLabel, string arrow, string predicted, SKFont font, float width)
    {
        string a = trueLabel, b = predicted;
        while (font.MeasureText(a + arrow + b) > width && (a.Length > 2 || b.Length > 2))
        {
            if (a.Length >= b.Length) a = a[..(a.TrimEnd('…').Length - 1)] + "…";
            else b = b[..(b.TrimEnd('…').Length - 1)] + "…";
        }
        return a + arrow + b;
    }
}
