using SkiaSharp;

namespace EfficientCnn.Backbones.Training.Fractals;

/// <summary>One image of a category: the varied system's render, its symmetry and colour.</summary>
/// <param name="Raster">Hit counts after the symmetry.</param>
/// <param name="Colour">Colour of the most-hit pixels.</param>
/// <param name="Parameter">Which parameter (0 = a … 5 = f) of every map was scaled; null for the category's own system.</param>
/// <param name="Weight">The factor that parameter was multiplied by (1 when unscaled).</param>
/// <param name="Symmetry">The square symmetry applied (see <see cref="FractalRaster.Transform"/>).</param>
public sealed record FractalInstance(FractalRaster Raster, (byte R, byte G, byte B) Colour, int? Parameter, double Weight, int Symmetry)
{
    /// <summary>Opaque RGBA pixels (see <see cref="FractalRaster.ToRgba"/>).</summary>
    public byte[] ToRgba() => Raster.ToRgba(Colour);

    /// <summary>The image as PNG bytes (deterministic for the same pixels).</summary>
    public byte[] EncodePng()
    {
        var info = new SKImageInfo(Raster.Size, Raster.Size, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var image = SKImage.FromPixelCopy(info, ToRgba());
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
