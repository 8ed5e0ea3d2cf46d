namespace EfficientCnn.Backbones.Training.Fractals;

/// <summary>
/// Settings of a FractalDB-style database (Kataoka et al., "Pre-training without Natural Images", ACCV 2020).
/// Defaults follow the paper where a 2-core CPU allows it; see <see cref="FractalDatabase"/> for what differs.
/// </summary>
public sealed record FractalDatabaseOptions
{
    /// <summary>Fewest categories: a classifier needs two.</summary>
    public const int MinClasses = 2;

    /// <summary>Smallest image side in pixels.</summary>
    public const int MinSize = 16;

    /// <summary>Largest image side in pixels (keeps the per-image buffers reasonable).</summary>
    public const int MaxSize = 4096;

    /// <summary>Fewest chaos-game points per image.</summary>
    public const int MinPoints = 100;

    /// <summary>Number of categories (FractalDB-1k: 1000).</summary>
    public int Classes { get; init; } = 100;

    /// <summary>Images per category (FractalDB-1k: 1000).</summary>
    public int ImagesPerClass { get; init; } = 100;

    /// <summary>Image side in pixels (FractalDB: 512).</summary>
    public int Size { get; init; } = 128;

    /// <summary>Seed: the same options give byte-identical images, whatever the parallelism.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// A drawn system becomes a category only if its render covers at least this fraction of the pixels (FractalDB: 0.2),
    /// measured at FractalDB's points per pixel (<see cref="FractalDatabase.FillingGridSize"/>), whatever <see cref="Size"/>.
    /// </summary>
    public double FillThreshold { get; init; } = 0.2;

    /// <summary>Chaos-game points plotted per image (FractalDB: 100,000).</summary>
    public int Points { get; init; } = 100_000;

    /// <summary>Categories generated at once (default: one per processor). Does not change the images.</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Systems drawn for one category before giving up (the threshold is unreachable at this size and point count).</summary>
    public int MaxDrawsPerClass { get; init; } = 10_000;

    /// <summary>
    /// The highest filling rate <paramref name="points"/> can reach on their <see cref="FractalDatabase.FillingGridSize"/>
    /// grid, every point on its own pixel (about 0.38, FractalDB's 100,000 / 512²).
    /// </summary>
    public static double ReachableFill(int points)
    {
        int grid = FractalDatabase.FillingGridSize(points);
        return Math.Min(1, points / (double)(grid * grid));
    }

    /// <summary>Throws <see cref="ArgumentException"/> (ParamName = the property) when a setting is out of range; returns this.</summary>
    public FractalDatabaseOptions Validate()
    {
        if (Classes < MinClasses) throw new ArgumentException($"Classes must be >= {MinClasses}, got {Classes}.", nameof(Classes));
        if (ImagesPerClass < 1) throw new ArgumentException($"ImagesPerClass must be >= 1, got {ImagesPerClass}.", nameof(ImagesPerClass));
        if (Size is < MinSize or > MaxSize) throw new ArgumentException($"Size must be in [{MinSize}, {MaxSize}], got {Size}.", nameof(Size));
        if (!(FillThreshold > 0 && FillThreshold < 1))
            throw new ArgumentException($"FillThreshold must be in (0, 1), got {FillThreshold}.", nameof(FillThreshold));
        if (Points < MinPoints) throw new ArgumentException($"Points must be >= {MinPoints}, got {Points}.", nameof(Points));
        if (FillThreshold > ReachableFill(Points))
            throw new ArgumentException($"FillThreshold {FillThreshold} cannot be reached: {Points} points cover at most {ReachableFill(Points):F3} " +
                                        $"of the {FractalDatabase.FillingGridSize(Points)}² grid it is measured on.", nameof(FillThreshold));
        if (Parallelism < 1) throw new ArgumentException($"Parallelism must be >= 1, got {Parallelism}.", nameof(Parallelism));
        if (MaxDrawsPerClass < 1) throw new ArgumentException($"MaxDrawsPerClass must be >= 1, got {MaxDrawsPerClass}.", nameof(MaxDrawsPerClass));
        return this;
    }
}
