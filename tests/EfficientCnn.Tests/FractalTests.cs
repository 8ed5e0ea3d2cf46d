using EfficientCnn.Backbones.Training;
using EfficientCnn.Backbones.Training.Fractals;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>The FractalDB-style generator (iterated function systems, chaos game) and the <c>fractals</c> command, at 32-48 px.</summary>
public sealed class FractalTests
{
    /// <summary>Small and fast: 2,000 points (filling rate measured on a 72² grid), 32 px images.</summary>
    private static readonly FractalDatabaseOptions Tiny = new() { Classes = 4, ImagesPerClass = 3, Size = 32, Points = 2_000, Seed = 7 };

    private string folder = "";

    [SetUp]
    public void CreateFolder() => folder = TrainingFixtures.TempFolder("fractals");

    [TearDown]
    public void DeleteFolder() => TrainingFixtures.DeleteQuietly(folder);

    /// <summary>Without whitespace: the test console wraps lines at 80 columns.</summary>
    private static string Squash(string text) => string.Concat(text.Where(c => !char.IsWhiteSpace(c)));

    private static Dictionary<string, byte[]> ReadTree(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), File.ReadAllBytes);

    [Test]
    public void TheSameSeedWritesByteIdenticalFilesWhateverTheParallelism()
    {
        string serial = Path.Combine(folder, "serial"), parallel = Path.Combine(folder, "parallel"), other = Path.Combine(folder, "other");
        new FractalDatabase(Tiny with { Parallelism = 1 }).Write(serial);
        new FractalDatabase(Tiny with { Parallelism = 3 }).Write(parallel);
        new FractalDatabase(Tiny with { Seed = Tiny.Seed + 1 }).Write(other);

        var a = ReadTree(serial);
        var b = ReadTree(parallel);
        Assert.That(a, Has.Count.EqualTo(Tiny.Classes * Tiny.ImagesPerClass + 1), "every PNG plus the manifest");
        Assert.That(b.Keys, Is.EquivalentTo(a.Keys));
        foreach (var (name, bytes) in a) Assert.That(b[name], Is.EqualTo(bytes), name);
        var c = ReadTree(other);
        Assert.That(a.Keys.Where(k => k.EndsWith(".png")).Count(k => !c[k].SequenceEqual(a[k])), Is.EqualTo(Tiny.Classes * Tiny.ImagesPerClass),
            "another seed changes every image");
    }

    [Test]
    public void DifferentClassesHaveDifferentSystemsAndImages()
    {
        var database = new FractalDatabase(Tiny);
        var categories = Enumerable.Range(0, Tiny.Classes).Select(database.SearchCategory).ToArray();
        for (int i = 0; i < categories.Length; i++)
        for (int j = i + 1; j < categories.Length; j++)
        {
            Assert.That(categories[j].System.Maps, Is.Not.EqualTo(categories[i].System.Maps), $"classes {i} and {j}");
            Assert.That(database.RenderInstance(categories[j], 0).ToRgba(), Is.Not.EqualTo(database.RenderInstance(categories[i], 0).ToRgba()));
        }
    }

    [Test]
    public void EveryAcceptedClassReachesTheFillingRateAndAStricterThresholdRejectsMore()
    {
        var loose = new FractalDatabase(Tiny with { FillThreshold = 0.1 });
        var strict = new FractalDatabase(Tiny with { FillThreshold = 0.25 });
        int grid = FractalDatabase.FillingGridSize(Tiny.Points);
        Assert.That(grid, Is.EqualTo(72), "FractalDB's 100,000 points per 512² pixels, kept for 2,000 points");
        long looseRejected = 0, strictRejected = 0;
        for (int c = 0; c < Tiny.Classes; c++)
        {
            var (l, s) = (loose.SearchCategory(c), strict.SearchCategory(c));
            foreach (var (category, threshold) in new[] { (l, 0.1), (s, 0.25) })
            {
                Assert.That(category.Raster.Size, Is.EqualTo(grid));
                int covered = 0;
                for (int y = 0; y < grid; y++)
                for (int x = 0; x < grid; x++)
                    if (category.Raster[x, y] > 0) covered++;
                Assert.That(covered / (double)(grid * grid), Is.GreaterThanOrEqualTo(threshold), $"class {c} at threshold {threshold}");
            }
            // Both searches walk the same stream of draws: the strict one can only stop later.
            Assert.That(s.Rejected, Is.GreaterThanOrEqualTo(l.Rejected), $"class {c}");
            looseRejected += l.Rejected;
            strictRejected += s.Rejected;
        }
        Assert.That(strictRejected, Is.GreaterThan(looseRejected));
    }

    [Test]
    public void InstancesOfAClassOverlapMoreThanInstancesOfDifferentClasses()
    {
        var database = new FractalDatabase(Tiny with { Classes = 5, Size = 48, Points = 4_000 });
        var masks = Enumerable.Range(0, 5).Select(database.SearchCategory)
            .Select(category => Enumerable.Range(0, 5).Select(i => database.RenderInstance(category, i).Raster).ToArray()).ToArray();
        var within = new List<double>();
        var between = new List<double>();
        for (int c = 0; c < masks.Length; c++)
        for (int d = c; d < masks.Length; d++)
        for (int i = 0; i < masks[c].Length; i++)
        for (int j = 0; j < masks[d].Length; j++)
        {
            if (c == d && j <= i) continue;
            (c == d ? within : between).Add(SymmetricIoU(masks[c][i], masks[d][j]));
        }
        TestContext.Out.WriteLine($"mean IoU within classes {within.Average():F3}, between {between.Average():F3}");
        Assert.That(within.Average(), Is.GreaterThan(between.Average() + 0.05));
    }

    /// <summary>Pixel IoU of the covered pixels, best over the 8 square symmetries (instances are flipped and rotated at random).</summary>
    private static double SymmetricIoU(FractalRaster a, FractalRaster b) =>
        Enumerable.Range(0, 8).Select(b.Transform).Max(t =>
        {
            int both = 0, either = 0;
            for (int y = 0; y < a.Size; y++)
            for (int x = 0; x < a.Size; x++)
            {
                bool p = a[x, y] > 0, q = t[x, y] > 0;
                if (p && q) both++;
                if (p || q) either++;
            }
            return both / (double)Math.Max(1, either);
        });

    [Test]
    public void ProbabilitiesFollowTheDeterminantsAndScalingTouchesOneParameterOfEveryMap()
    {
        var rng = new Random(3);
        var counts = new HashSet<int>();
        for (int n = 0; n < 200; n++)
        {
            var system = IteratedFunctionSystem.Random(rng);
            counts.Add(system.Maps.Count);
            Assert.That(system.Maps.SelectMany(m => new[] { m.A, m.B, m.C, m.D, m.E, m.F }), Has.All.InRange(-1.0, 1.0));
            double total = system.Maps.Sum(m => Math.Abs(m.Determinant));
            for (int i = 0; i < system.Maps.Count; i++)
                Assert.That(system.Probabilities[i], Is.EqualTo(Math.Abs(system.Maps[i].Determinant) / total).Within(1e-12));
        }
        Assert.That(counts, Is.EquivalentTo(Enumerable.Range(IteratedFunctionSystem.MinMaps, IteratedFunctionSystem.MaxMaps - IteratedFunctionSystem.MinMaps + 1)));

        var original = IteratedFunctionSystem.Random(rng);
        var scaled = original.ScaleParameter(4, 1.2);
        for (int i = 0; i < original.Maps.Count; i++)
            Assert.That(scaled.Maps[i], Is.EqualTo(original.Maps[i] with { E = original.Maps[i].E * 1.2 }));
        Assert.That(scaled.Probabilities, Is.EqualTo(original.Probabilities));
    }

    [Test]
    public void TheChaosGameDrawsAKnownAttractorAndRejectsAnExpandingSystem()
    {
        // The Sierpinski triangle: three half-size copies; its render covers the corners and leaves the centre empty.
        var sierpinski = IteratedFunctionSystem.FromMaps([new(0.5, 0, 0, 0.5, 0, 0), new(0.5, 0, 0, 0.5, 0.5, 0), new(0.5, 0, 0, 0.5, 0, 0.5)]);
        var raster = ChaosGame.Render(sierpinski, 64, 20_000, new Random(1))!;
        Assert.That(raster, Is.Not.Null);
        Assert.That(raster[1, 1] > 0 && raster[62, 1] > 0 && raster[1, 62] > 0, Is.True, "the three corners of the triangle");
        Assert.That(raster[62, 62], Is.EqualTo(0), "the fourth corner is outside");
        Assert.That(raster[25, 25], Is.EqualTo(0), "(0.4, 0.4) lies in the removed middle triangle");
        Assert.That(raster.FillingRate, Is.InRange(0.1, 0.5));

        var expanding = IteratedFunctionSystem.FromMaps([new(2, 0, 0, 2, 1, 0), new(0.5, 0, 0, 0.5, 0, 0)]);
        Assert.That(ChaosGame.Render(expanding, 64, 20_000, new Random(1)), Is.Null);
    }

    [Test]
    public void TheCommandWritesClassFoldersThatPretrainingReads()
    {
        string output = Path.Combine(folder, "db");
        int code = CliRunner.Run(out var text, "fractals", "--classes", "3", "--per-class", "4", "--size", "32", "--points", "2000", "--seed", "1", "--out", output);
        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(Directory.GetDirectories(output).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "class_000", "class_001", "class_002" }));
        Assert.That(Directory.GetFiles(Path.Combine(output, "class_001")).Select(Path.GetFileName).Order(),
            Is.EqualTo(new[] { "0.png", "1.png", "2.png", "3.png" }));
        Assert.That(File.Exists(Path.Combine(output, FractalDatabase.ManifestFileName)), Is.True);
        Assert.That(Squash(text), Does.Contain("rejectedIFS").And.Contain("│3│12│"));

        var dataset = ImageDataset.FromFolder(output);
        Assert.That(dataset.Classes, Has.Count.EqualTo(3));
        Assert.That(dataset.ClassCounts(), Is.EqualTo(new[] { 4, 4, 4 }));

        Assert.That(CliRunner.Run(out var again, "fractals", "--classes", "3", "--size", "32", "--out", output), Is.Not.EqualTo(0));
        Assert.That(Squash(again), Does.Contain("--out").And.Contain("notempty"));
    }

    [Test]
    public void HelpListsTheCommand()
    {
        Assert.That(CliRunner.Run(out var help, "fractals", "--help"), Is.EqualTo(0), help);
        Assert.That(help, Does.Contain("--per-class").And.Contain("--fill"));
        Assert.That(CliRunner.Run(out var all, "--help"), Is.EqualTo(0), all);
        Assert.That(all, Does.Contain("fractals"));
    }

    [TestCase("--classes", "1")]
    [TestCase("--per-class", "0")]
    [TestCase("--size", "8")]
    [TestCase("--fill", "0")]
    [TestCase("--fill", "1")]
    [TestCase("--fill", "0.5")]
    [TestCase("--points", "10")]
    public void BadOptionsAreRefusedNamingTheOption(string option, string value)
    {
        string output = Path.Combine(folder, "never");
        int code = CliRunner.Run(out var text, "fractals", option, value, "--out", output);
        Assert.That(code, Is.Not.EqualTo(0), text);
        Assert.That(text, Does.Contain(option));
        Assert.That(Directory.Exists(output), Is.False);
    }

    [Test]
    public void BadLibraryOptionsNameTheSetting()
    {
        foreach (var (options, name) in new[]
                 {
                     (Tiny with { Classes = 1 }, nameof(FractalDatabaseOptions.Classes)),
                     (Tiny with { ImagesPerClass = 0 }, nameof(FractalDatabaseOptions.ImagesPerClass)),
                     (Tiny with { Size = 15 }, nameof(FractalDatabaseOptions.Size)),
                     (Tiny with { FillThreshold = 1 }, nameof(FractalDatabaseOptions.FillThreshold)),
                     (Tiny with { FillThreshold = double.NaN }, nameof(FractalDatabaseOptions.FillThreshold)),
                     (Tiny with { Points = 99 }, nameof(FractalDatabaseOptions.Points)),
                     (Tiny with { Parallelism = 0 }, nameof(FractalDatabaseOptions.Parallelism)),
                 })
            Assert.That(Assert.Throws<ArgumentException>(() => new FractalDatabase(options))!.ParamName, Is.EqualTo(name));

        // 2,000 points cannot cover more than 2000 / 72² = 0.386 of the grid.
        Assert.That(Assert.Throws<ArgumentException>(() => new FractalDatabase(Tiny with { FillThreshold = 0.39 }))!.ParamName,
            Is.EqualTo(nameof(FractalDatabaseOptions.FillThreshold)));
        // A threshold no system reaches within the draw budget is reported against the threshold, not left to loop.
        var unreachable = new FractalDatabase(Tiny with { FillThreshold = 0.38, MaxDrawsPerClass = 20 });
        Assert.That(Assert.Throws<ArgumentException>(() => unreachable.Write(Path.Combine(folder, "x")))!.ParamName,
            Is.EqualTo(nameof(FractalDatabaseOptions.FillThreshold)));
    }
}
