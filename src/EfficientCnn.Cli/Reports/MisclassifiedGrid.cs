using System.Globalization;
using SkiaSharp;

namespace EfficientCnn.Cli.Reports;

/// <summary>
/// misclassified.png: up to <see cref="MaxItems"/> thumbnails, each captioned "true → predicted (score)". Drawn with
/// SkiaSharp directly: OxyPlot has no image grid. An image that cannot be read becomes a grey "unreadable" tile.
/// </summary>
internal static class MisclassifiedGrid
{
    /// <summary>Most thumbnails drawn.</summary>
    public const int MaxItems = 24;

    private const int Columns = 6, Thumb = 150, Pad = 12, TileWidth = Thumb + 2 * Pad, CaptionHeight = 44, Header = 48;
    private const int TileHeight = Thumb + CaptionHeight + Pad;
    private static readonly SKColor Ink = new(0x22, 0x22, 0x22);

    public static byte[] Render(IReadOnlyList<Misclassified> items)
    {
        var shown = items.Take(MaxItems).ToArray();
        int columns = Math.Min(Columns, shown.Length), rows = (shown.Length + Columns - 1) / Columns;
        int width = Math.Max(columns * TileWidth, 420), height = Header + rows * TileHeight + Pad;
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"Cannot allocate a {width}x{height} image.");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);

        using var titleInk = ReportFont.Text(20, Ink);
        using var captionInk = ReportFont.Text(13, Ink, SKTextAlign.Center);
        using var scoreInk = ReportFont.Text(13, new SKColor(0x66, 0x66, 0x66), SKTextAlign.Center);
        string title = items.Count > shown.Length ? $"Misclassified images (first {shown.Length} of {items.Count})" : "Misclassified images";
        titleInk.Draw(canvas, title, Pad, 32);

        string arrow = ReportFont.Typeface.ContainsGlyph('→') ? " → " : " -> ";
        for (int i = 0; i < shown.Length; i++)
        {
            var item = shown[i];
            float x = i % Columns * TileWidth + Pad, y = Header + i / Columns * TileHeight;
            DrawThumbnail(canvas, item.ImagePath, SKRect.Create(x, y, Thumb, Thumb));
            float cx = x + Thumb / 2f, line1 = y + Thumb + 18, line2 = line1 + 17;
            captionInk.Draw(canvas, Caption(item.TrueLabel, arrow, item.PredictedLabel, captionInk, Thumb + Pad), cx, line1);
            scoreInk.Draw(canvas, $"({item.Score.ToString("0.00", CultureInfo.InvariantCulture)})", cx, line2);
        }
        return ChartImage.Encode(surface);
    }

    /// <summary>Draws the image scaled to fit <paramref name="box"/> (aspect kept, centred), or a grey "unreadable" tile.</summary>
    private static void DrawThumbnail(SKCanvas canvas, string path, SKRect box)
    {
        using var image = TryDecode(path);
        if (image is null)
        {
            using var grey = new SKPaint { Color = new SKColor(0xb0, 0xb0, 0xb0) };
            using var text = ReportFont.Text(13, new SKColor(0x40, 0x40, 0x40), SKTextAlign.Center);
            canvas.DrawRect(box, grey);
            text.Draw(canvas, "unreadable", box.MidX, box.MidY + 5);
            return;
        }
        float scale = Math.Min(box.Width / image.Width, box.Height / image.Height);
        float w = image.Width * scale, h = image.Height * scale;
        var target = SKRect.Create(box.MidX - w / 2, box.MidY - h / 2, w, h);
        // High quality: mipmaps keep large photos from aliasing when shrunk, bicubic keeps enlarged icons smooth.
        using var paint = new SKPaint { IsAntialias = true };
        var sampling = scale < 1 ? new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear) : new SKSamplingOptions(SKCubicResampler.Mitchell);
        canvas.DrawImage(image, target, sampling, paint);
        using var frame = new SKPaint { Color = new SKColor(0xcc, 0xcc, 0xcc), Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
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
    private static string Caption(string trueLabel, string arrow, string predicted, ReportText paint, float width)
    {
        string a = trueLabel, b = predicted;
        while (paint.Measure(a + arrow + b) > width && (a.Length > 2 || b.Length > 2))
        {
            if (a.Length >= b.Length) a = a[..(a.TrimEnd('…').Length - 1)] + "…";
            else b = b[..(b.TrimEnd('…').Length - 1)] + "…";
        }
        return a + arrow + b;
    }
}
