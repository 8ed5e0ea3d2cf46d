using System.Buffers;

namespace EfficientCnn.Backbones.Training.Fractals;

/// <summary>
/// Renders the attractor of an <see cref="IteratedFunctionSystem"/> by the chaos game: start at the origin, apply a
/// randomly picked map over and over, and plot every point. The bounding box of the plotted points is stretched to
/// the image (each axis on its own, as FractalDB does) inside a small margin.
/// </summary>
public static class ChaosGame
{
    /// <summary>
    /// Points iterated before plotting starts: the walk from the origin converges onto the attractor geometrically,
    /// and these first points would otherwise stretch the bounding box (FractalDB plots from the origin).
    /// </summary>
    public const int DiscardedPoints = 100;

    /// <summary>A coordinate beyond this (or not finite) means the system is not contractive on average: no attractor.</summary>
    public const double DivergenceBound = 1e6;

    /// <summary>
    /// Plays <paramref name="points"/> rounds (after <see cref="DiscardedPoints"/>) and counts the hits per pixel of a
    /// <paramref name="size"/>×<paramref name="size"/> image. Deterministic for a given <paramref name="rng"/> state.
    /// </summary>
    /// <returns>The hit counts, or null when the walk diverges (the system has no bounded attractor).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> &lt; 4 or <paramref name="points"/> &lt; 1.</exception>
    public static FractalRaster? Render(IteratedFunctionSystem system, int size, int points, Random rng)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 4);
        return Render(system, points, rng, new int[size * size], size);
    }

    /// <summary>
    /// <see cref="Render(IteratedFunctionSystem, int, int, Random)"/> into <paramref name="counts"/> (size², all zero),
    /// which the raster then wraps: the category search reuses one buffer for its thousands of rejected draws.
    /// </summary>
    internal static FractalRaster? Render(IteratedFunctionSystem system, int points, Random rng, int[] counts, int size)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 1);
        var xs = ArrayPool<double>.Shared.Rent(points);
        var ys = ArrayPool<double>.Shared.Rent(points);
        try
        {
            return Walk(system, points, rng, xs, ys) ? Plot(xs, ys, points, counts, size) : null;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(xs);
            ArrayPool<double>.Shared.Return(ys);
        }
    }

    private static bool Walk(IteratedFunctionSystem system, int points, Random rng, double[] xs, double[] ys)
    {
        var maps = system.MapArray;
        // One draw per point: a SplitMix64 stream seeded from rng, inline, rather than a virtual Random call per point.
        ulong state = unchecked((ulong)rng.NextInt64());
        double x = 0, y = 0;
        for (int i = -DiscardedPoints; i < points; i++)
        {
            ref readonly var m = ref maps[system.Pick(NextUniform(ref state))];
            (x, y) = (m.A * x + m.B * y + m.E, m.C * x + m.D * y + m.F);
            // Written so that NaN fails the test too.
            if (!(Math.Abs(x) < DivergenceBound && Math.Abs(y) < DivergenceBound)) return false;
            if (i < 0) continue;
            xs[i] = x;
            ys[i] = y;
        }
        return true;
    }

    private static FractalRaster Plot(double[] xs, double[] ys, int points, int[] counts, int size)
    {
        var (minX, maxX) = Range(xs, points);
        var (minY, maxY) = Range(ys, points);
        // FractalDB keeps 6 px of its 512 px free at each side; the same fraction, at least one pixel.
        int margin = Math.Max(1, (int)Math.Round(size * 6.0 / 512));
        int span = size - 1 - 2 * margin;
        double sx = Scale(maxX - minX, span), sy = Scale(maxY - minY, span);
        // A degenerate axis (all points on a line) is centred rather than divided by zero.
        double ox = sx == 0 ? size / 2 : margin, oy = sy == 0 ? size / 2 : margin;
        int covered = 0;
        for (int i = 0; i < points; i++)
        {
            int px = (int)Math.Round(ox + (xs[i] - minX) * sx);
            int py = (int)Math.Round(oy + (ys[i] - minY) * sy);
            if (counts[py * size + px]++ == 0) covered++;
        }
        return new FractalRaster(size, counts, covered);
    }

    private static (double Min, double Max) Range(double[] values, int count)
    {
        double min = double.MaxValue, max = double.MinValue;
        for (int i = 0; i < count; i++)
        {
            min = Math.Min(min, values[i]);
            max = Math.Max(max, values[i]);
        }
        return (min, max);
    }

    /// <summary>SplitMix64 step, as a double uniform in [0, 1) from the top 53 bits.</summary>
    private static double NextUniform(ref ulong state)
    {
        ulong z = state = unchecked(state + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    private static double Scale(double extent, int span) => extent > 1e-12 ? span / extent : 0;
}
