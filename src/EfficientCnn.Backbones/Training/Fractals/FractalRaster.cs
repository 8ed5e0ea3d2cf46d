namespace EfficientCnn.Backbones.Training.Fractals;

/// <summary>Chaos-game hit counts on a square pixel grid (row-major, y down), before colouring.</summary>
public sealed class FractalRaster
{
    private readonly int[] counts;
    private readonly int covered;

    /// <summary>Wraps <paramref name="counts"/> (row-major, <paramref name="size"/>² entries, not copied).</summary>
    /// <exception cref="ArgumentException">The count array does not hold size² entries, or a count is negative.</exception>
    public FractalRaster(int size, int[] counts)
        : this(size, counts, Covered(counts))
    {
        if (size < 1 || counts.Length != size * size)
            throw new ArgumentException($"A {size}×{size} raster needs {size * size} counts, got {counts.Length}.", nameof(counts));
        if (counts.Any(c => c < 0)) throw new ArgumentException("Hit counts cannot be negative.", nameof(counts));
    }

    /// <summary>For the chaos game, which counts the covered pixels as it plots (the search measures thousands of rasters).</summary>
    internal FractalRaster(int size, int[] counts, int covered)
    {
        Size = size;
        this.counts = counts;
        this.covered = covered;
    }

    /// <summary>Width and height in pixels.</summary>
    public int Size { get; }

    /// <summary>Hits of pixel (x, y).</summary>
    public int this[int x, int y] => counts[y * Size + x];

    /// <summary>FractalDB's filling rate: the fraction of pixels hit at least once.</summary>
    public double FillingRate => covered / (double)counts.Length;

    /// <summary>
    /// This raster under one of the 8 symmetries of the square: bit 0 mirrors left-right, bit 1 mirrors top-bottom,
    /// bit 2 swaps the axes (transpose) first. 0 is the identity; flips and 90° rotations are all reachable.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="symmetry"/> is not in 0..7.</exception>
    public FractalRaster Transform(int symmetry)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(symmetry);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(symmetry, 7);
        int n = Size, last = n - 1;
        var result = new int[counts.Length];
        for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
        {
            var (tx, ty) = (symmetry & 4) != 0 ? (y, x) : (x, y);
            if ((symmetry & 1) != 0) tx = last - tx;
            if ((symmetry & 2) != 0) ty = last - ty;
            result[ty * n + tx] = counts[y * n + x];
        }
        return new FractalRaster(n, result, covered);
    }

    /// <summary>
    /// Opaque RGBA pixels: black background, hit pixels in <paramref name="colour"/> shaded by log density (a pixel hit
    /// once gets a quarter of the colour, the most-hit pixel all of it), so the image has texture, not just a silhouette.
    /// </summary>
    public byte[] ToRgba((byte R, byte G, byte B) colour)
    {
        var rgba = new byte[counts.Length * 4];
        double logMax = Math.Log(1 + counts.Max());
        for (int i = 0; i < counts.Length; i++)
        {
            rgba[4 * i + 3] = 255;
            if (counts[i] == 0) continue;
            double shade = 0.25 + 0.75 * (Math.Log(1 + counts[i]) / logMax);
            rgba[4 * i] = (byte)Math.Round(colour.R * shade);
            rgba[4 * i + 1] = (byte)Math.Round(colour.G * shade);
            rgba[4 * i + 2] = (byte)Math.Round(colour.B * shade);
        }
        return rgba;
    }

    private static int Covered(int[] counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        return counts.Count(c => c > 0);
    }
}
