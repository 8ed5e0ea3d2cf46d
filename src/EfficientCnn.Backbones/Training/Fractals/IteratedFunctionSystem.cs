namespace EfficientCnn.Backbones.Training.Fractals;

/// <summary>
/// An iterated function system: affine maps, each picked with its own probability by the chaos game
/// (<see cref="ChaosGame"/>). Its attractor is the fractal; FractalDB draws one per category.
/// </summary>
public sealed class IteratedFunctionSystem
{
    /// <summary>Fewest maps a random system has (FractalDB: N ∈ [2, 8]).</summary>
    public const int MinMaps = 2;

    /// <summary>Most maps a random system has (FractalDB: N ∈ [2, 8]).</summary>
    public const int MaxMaps = 8;

    private readonly AffineMap[] maps;
    private readonly double[] probabilities;
    private readonly double[] cumulative;

    /// <summary>Creates a system from maps and their selection probabilities (normalised to sum to 1).</summary>
    /// <exception cref="ArgumentException">No maps, a length mismatch, or probabilities that are negative, not finite, or all zero.</exception>
    public IteratedFunctionSystem(IReadOnlyList<AffineMap> maps, IReadOnlyList<double> probabilities)
    {
        ArgumentNullException.ThrowIfNull(maps);
        ArgumentNullException.ThrowIfNull(probabilities);
        if (maps.Count == 0) throw new ArgumentException("An iterated function system needs at least one map.", nameof(maps));
        if (probabilities.Count != maps.Count)
            throw new ArgumentException($"{maps.Count} maps but {probabilities.Count} probabilities.", nameof(probabilities));
        if (probabilities.Any(p => !double.IsFinite(p) || p < 0))
            throw new ArgumentException("Map probabilities must be finite and non-negative.", nameof(probabilities));
        double sum = probabilities.Sum();
        if (sum <= 0) throw new ArgumentException("At least one map probability must be positive.", nameof(probabilities));
        this.maps = maps.ToArray();
        this.probabilities = probabilities.Select(p => p / sum).ToArray();
        cumulative = new double[this.probabilities.Length];
        double running = 0;
        for (int i = 0; i < cumulative.Length; i++) cumulative[i] = running += this.probabilities[i];
        cumulative[^1] = 1; // rounding must never leave a uniform draw in [0, 1) without a map
    }

    /// <summary>The maps.</summary>
    public IReadOnlyList<AffineMap> Maps => maps;

    /// <summary>Probability of picking each map (sums to 1).</summary>
    public IReadOnlyList<double> Probabilities => probabilities;

    /// <summary>
    /// FractalDB's category draw: N maps (uniform in [<see cref="MinMaps"/>, <see cref="MaxMaps"/>]) with parameters
    /// uniform in [−1, 1], picked with probability proportional to |det A|.
    /// </summary>
    public static IteratedFunctionSystem Random(Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        int n = rng.Next(MinMaps, MaxMaps + 1);
        var drawn = new AffineMap[n];
        for (int i = 0; i < n; i++) drawn[i] = AffineMap.Random(rng);
        return FromMaps(drawn);
    }

    /// <summary>A system whose map probabilities are proportional to |det A| (FractalDB's choice).</summary>
    /// <exception cref="ArgumentException">Every map is singular (all determinants zero).</exception>
    public static IteratedFunctionSystem FromMaps(IReadOnlyList<AffineMap> maps)
    {
        ArgumentNullException.ThrowIfNull(maps);
        return new IteratedFunctionSystem(maps, maps.Select(m => Math.Abs(m.Determinant)).ToArray());
    }

    /// <summary>
    /// FractalDB's intra-category variation: parameter <paramref name="parameter"/> (0 = a … 5 = f) of every map
    /// multiplied by <paramref name="weight"/>; the probabilities stay those of the category, as in FractalDB's renderer.
    /// </summary>
    public IteratedFunctionSystem ScaleParameter(int parameter, double weight) =>
        new(maps.Select(m => m.Scale(parameter, weight)).ToArray(), probabilities);

    /// <summary>The maps as an array, for the chaos game's inner loop (an interface call per point costs).</summary>
    internal AffineMap[] MapArray => maps;

    /// <summary>Index of the map a uniform draw <paramref name="u"/> in [0, 1) selects.</summary>
    internal int Pick(double u)
    {
        // Counts the boundaries at or below u (the same as searching for the first one above it) without a
        // data-dependent branch: the pick is random, so a search loop mispredicts on most points.
        var bounds = cumulative;
        int i = 0;
        for (int j = 0; j < bounds.Length - 1; j++) i += u >= bounds[j] ? 1 : 0;
        return i;
    }
}
