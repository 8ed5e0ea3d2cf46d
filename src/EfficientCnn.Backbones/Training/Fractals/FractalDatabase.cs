using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using EfficientCnn.Backbones.Imaging;

namespace EfficientCnn.Backbones.Training.Fractals;

/// <summary>
/// Formula-driven pretraining data: a FractalDB-style database of fractal categories (Kataoka et al., "Pre-training
/// without Natural Images", ACCV 2020), written as a folder of class folders that <see cref="ImageDataset.FromFolder"/>
/// and <c>efficientcnn pretrain --data</c> read.
/// </summary>
/// <remarks>
/// <para>
/// Follows the paper and its reference code: a category is an iterated function system of N ∈ [2, 8] affine maps with
/// parameters uniform in [−1, 1], each map picked with probability ∝ |det A|; a drawn system becomes a category only if
/// its chaos-game render (100,000 points by default) covers at least 0.2 of 512² pixels; the attractor's bounding box is
/// stretched to the image per axis with a margin of 6/512 of the side; an image of a category multiplies one of the
/// parameters a…f of every map by 0.8, 0.9, 1.1 or 1.2, or keeps the system (the 25 variants of FractalDB's renderer),
/// and flips it.
/// </para>
/// <para>
/// Changed for a small CPU and for determinism: images are 128 px by default, not 512. The filling rate is still
/// measured at the paper's 100,000 points per 512² pixels (<see cref="FillingGridSize"/>): at 128 px the same points
/// cover most pixels of nearly any attractor, and the threshold, whose job is to reject shapes that collapse to a
/// speck or a line, would pass almost every draw. Each category searches with its own seeded generator
/// (<see cref="ImageAugmentation.CreateRandom"/> of seed and category) instead of one sequential search, so categories
/// are generated in parallel and stay reproducible. The first <see cref="ChaosGame.DiscardedPoints"/> points are not
/// plotted and diverging systems are rejected (the reference code plots from the origin and drops NaN points). Each
/// image draws its variant at random instead of enumerating all 25 × 4 flips × 10 renderings, and uses any of the 8
/// symmetries of the square (flips and 90° rotations), not only the 4 flips. Pixels are points shaded by log hit
/// density in a random colour per image (grey included) instead of FractalDB-1k's grey random 3×3 patches, which at
/// 128 px would cover 16 times more of the image than at 512. The reference code draws N from 2..7; the paper's 2..8
/// is used.
/// </para>
/// </remarks>
public sealed class FractalDatabase
{
    /// <summary>Name of the file, next to the class folders, that records the options and every category's system.</summary>
    public const string ManifestFileName = "fractals.json";

    /// <summary>FractalDB's intra-category weights other than 1.</summary>
    private static readonly double[] Weights = [0.8, 0.9, 1.1, 1.2];

    /// <summary>The category itself plus each of the 6 parameters times each weight.</summary>
    private static readonly int Variants = 1 + AffineMap.ParameterCount * Weights.Length;

    /// <summary>Diverging variants tried before an image falls back to the category's own (converging) system.</summary>
    private const int VariantAttempts = 8;

    /// <summary>Stream index of the search generator; images use their index (≥ 0).</summary>
    private const long SearchStream = -1;

    /// <summary>Creates a generator; the options are validated.</summary>
    /// <exception cref="ArgumentException">A setting is out of range (ParamName names it).</exception>
    public FractalDatabase(FractalDatabaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validate();
    }

    /// <summary>The settings.</summary>
    public FractalDatabaseOptions Options { get; }

    /// <summary>Folder name of category <paramref name="index"/> (<c>class_007</c>): zero-padded so that ordinal order is numeric order.</summary>
    public string ClassFolderName(int index) => "class_" + index.ToString($"D{Math.Max(3, Digits(Options.Classes - 1))}");

    /// <summary>File name of image <paramref name="instance"/> of a category (<c>07.png</c>), zero-padded likewise.</summary>
    public string ImageFileName(int instance) => instance.ToString($"D{Digits(Options.ImagesPerClass - 1)}") + ".png";

    /// <summary>
    /// Draws systems for category <paramref name="index"/> until one's render reaches the filling-rate threshold.
    /// Depends only on the seed, the index and the options.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not a category.</exception>
    /// <exception cref="ArgumentException">No system reached the threshold in <see cref="FractalDatabaseOptions.MaxDrawsPerClass"/> draws (ParamName FillThreshold).</exception>
    public FractalCategory SearchCategory(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Options.Classes);
        var rng = ImageAugmentation.CreateRandom(Options.Seed, index, SearchStream);
        int grid = FillingGridSize(Options.Points);
        var counts = new int[grid * grid];
        for (int draw = 0; draw < Options.MaxDrawsPerClass; draw++)
        {
            var system = IteratedFunctionSystem.Random(rng);
            Array.Clear(counts);
            var raster = ChaosGame.Render(system, Options.Points, rng, counts, grid);
            if (raster is not null && raster.FillingRate >= Options.FillThreshold) return new FractalCategory(index, system, raster, draw);
        }
        throw new ArgumentException(
            $"No iterated function system among {Options.MaxDrawsPerClass} draws for category {index} covered {Options.FillThreshold:P0} of the " +
            $"{FillingGridSize(Options.Points)}² grid with {Options.Points} points: lower the filling-rate threshold.", nameof(FractalDatabaseOptions.FillThreshold));
    }

    /// <summary>
    /// Image <paramref name="instance"/> of <paramref name="category"/>: a random FractalDB variant of its system,
    /// symmetry and colour. Depends only on the seed, the category, the instance index and the options.
    /// </summary>
    /// <exception cref="InvalidOperationException">Even the category's own system diverged (not seen in practice).</exception>
    public FractalInstance RenderInstance(FractalCategory category, int instance)
    {
        ArgumentNullException.ThrowIfNull(category);
        ArgumentOutOfRangeException.ThrowIfNegative(instance);
        var rng = ImageAugmentation.CreateRandom(Options.Seed, category.Index, instance);
        for (int attempt = 0; attempt <= VariantAttempts; attempt++)
        {
            // A scaled parameter can make an on-average contracting system expand; after a few such draws, the
            // category's own system, which converged in the search.
            int variant = attempt < VariantAttempts ? rng.Next(Variants) : 0;
            int? parameter = variant == 0 ? null : (variant - 1) / Weights.Length;
            double weight = variant == 0 ? 1 : Weights[(variant - 1) % Weights.Length];
            var system = parameter is { } p ? category.System.ScaleParameter(p, weight) : category.System;
            var raster = ChaosGame.Render(system, Options.Size, Options.Points, rng);
            if (raster is null) continue;
            int symmetry = rng.Next(8);
            return new FractalInstance(raster.Transform(symmetry), RandomColour(rng), parameter, weight, symmetry);
        }
        throw new InvalidOperationException($"Category {category.Index}, image {instance}: the chaos game diverged for every variant, the category's own system included.");
    }

    /// <summary>
    /// Writes <c>directory/class_NNN/MM.png</c> for every category and image, and <see cref="ManifestFileName"/> with the
    /// options and each category's maps. Categories run in parallel (<see cref="FractalDatabaseOptions.Parallelism"/>);
    /// the files do not depend on it.
    /// </summary>
    /// <param name="directory">Output folder: must not exist or be empty.</param>
    /// <param name="imageWritten">Called after each PNG is written, from worker threads (for progress).</param>
    /// <param name="cancellationToken">Stops between images (the folder is then incomplete).</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is a file or a non-empty folder.</exception>
    public FractalDatabaseSummary Write(string directory, Action? imageWritten = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (File.Exists(directory)) throw new ArgumentException($"'{directory}' is a file; give a folder.", nameof(directory));
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            throw new ArgumentException($"'{directory}' is not empty; give a new or empty folder.", nameof(directory));
        var watch = Stopwatch.StartNew();
        var categories = new object[Options.Classes];
        var rejected = new int[Options.Classes];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Options.Parallelism, CancellationToken = cancellationToken };
        try
        {
            Parallel.For(0, Options.Classes, parallel, c =>
            {
                var category = SearchCategory(c);
                string folder = Path.Combine(directory, ClassFolderName(c));
                Directory.CreateDirectory(folder);
                for (int i = 0; i < Options.ImagesPerClass; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    File.WriteAllBytes(Path.Combine(folder, ImageFileName(i)), RenderInstance(category, i).EncodePng());
                    imageWritten?.Invoke();
                }
                rejected[c] = category.Rejected;
                categories[c] = new
                {
                    name = ClassFolderName(c), fillingRate = category.FillingRate, rejected = category.Rejected,
                    maps = category.System.Maps.Select(m => new[] { m.A, m.B, m.C, m.D, m.E, m.F }), probabilities = category.System.Probabilities,
                };
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // One clear error (e.g. an unreachable threshold) rather than the parallel loop's wrapper.
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        var manifest = new
        {
            method = "FractalDB (Kataoka et al., ACCV 2020): iterated function systems, chaos game; x' = a x + b y + e, y' = c x + d y + f",
            options = new { Options.Classes, Options.ImagesPerClass, Options.Size, Options.Seed, Options.FillThreshold, Options.Points },
            classes = categories,
        };
        File.WriteAllText(Path.Combine(directory, ManifestFileName), JsonSerializer.Serialize(manifest, ManifestJson));
        return new FractalDatabaseSummary(Options.Classes, Options.Classes * Options.ImagesPerClass, rejected.Sum(r => (long)r), watch.Elapsed);
    }

    /// <summary>
    /// Side of the grid the filling rate is measured on: FractalDB's density of 100,000 points on 512² pixels, kept for
    /// other point counts. Measured at a small image size instead, the same points cover most pixels of nearly any
    /// bounded attractor and the threshold stops selecting.
    /// </summary>
    public static int FillingGridSize(int points) => Math.Max(16, (int)Math.Round(512 * Math.Sqrt(points / 100_000.0)));

    private static readonly JsonSerializerOptions ManifestJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static int Digits(int value) => Math.Max(1, value.ToString(System.Globalization.CultureInfo.InvariantCulture).Length);

    /// <summary>A random colour from the whole hue circle, any saturation (grey included), bright enough to see.</summary>
    private static (byte R, byte G, byte B) RandomColour(Random rng)
    {
        double h = rng.NextDouble() * 6, s = rng.NextDouble(), v = 0.6 + 0.4 * rng.NextDouble();
        int sector = (int)h;
        double f = h - sector, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
        var (r, g, b) = sector switch
        {
            0 => (v, t, p),
            1 => (q, v, p),
            2 => (p, v, t),
            3 => (p, q, v),
            4 => (t, p, v),
            _ => (v, p, q),
        };
        return ((byte)Math.Round(255 * r), (byte)Math.Round(255 * g), (byte)Math.Round(255 * b));
    }
}
