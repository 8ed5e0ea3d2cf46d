using EfficientCnn.Backbones;
using SkiaSharp;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

/// <summary>Image folders and a tiny backbone for training tests.</summary>
public static class TrainingFixtures
{
    /// <summary>The repository root (the folder holding EfficientCnn.MLNet.sln).</summary>
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EfficientCnn.MLNet.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new DirectoryNotFoundException("EfficientCnn.MLNet.sln not found above the test binaries.");
        }
    }

    /// <summary>samples/data/clipart4: 220 real public-domain drawings, 4 classes, with split.csv.</summary>
    public static string Clipart4 => Path.Combine(RepoRoot, "samples", "data", "clipart4");

    /// <summary>
    /// Writes a folder of class folders: "horizontal" and "vertical" stripes of random colours and phases under noise,
    /// <paramref name="perClass"/> PNGs each of <paramref name="size"/> px. Returns the folder.
    /// </summary>
    public static string WriteStripes(string directory, int perClass, int size = 40, int seed = 0)
    {
        var rng = new Random(seed);
        foreach (var (name, vertical) in new[] { ("horizontal", false), ("vertical", true) })
        {
            string dir = Path.Combine(directory, name);
            Directory.CreateDirectory(dir);
            for (int i = 0; i < perClass; i++)
            {
                using var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul));
                var a = new SKColor((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
                var b = new SKColor((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
                int period = 4 + rng.Next(6), phase = rng.Next(period);
                for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int t = vertical ? x : y;
                    var c = (t + phase) % period < period / 2 ? a : b;
                    int n = rng.Next(-30, 31);
                    bitmap.SetPixel(x, y, new SKColor(Clamp(c.Red + n), Clamp(c.Green + n), Clamp(c.Blue + n)));
                }
                using var image = SKImage.FromBitmap(bitmap);
                using var data = image.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(dir, $"{name}_{i:D3}.png"), data.ToArray());
            }
        }
        return directory;
    }

    private static byte Clamp(int v) => (byte)Math.Clamp(v, 0, 255);

    /// <summary>A fresh temporary folder, deleted by the caller's [TearDown] via <see cref="DeleteQuietly"/>.</summary>
    public static string TempFolder(string prefix) =>
        Directory.CreateTempSubdirectory("ecnn-" + prefix + "-").FullName;

    /// <summary>Deletes a folder, ignoring errors (tests must not fail on cleanup).</summary>
    public static void DeleteQuietly(string? directory)
    {
        try { if (directory is not null && Directory.Exists(directory)) Directory.Delete(directory, true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>A two-stage conv net (8 and 16 channels) used to test the training engine quickly.</summary>
public sealed class TinyNet : Backbone
{
    private readonly Sequential stem;
    private readonly Sequential stage;

    /// <summary>Creates the net without a head.</summary>
    public TinyNet() : base("TinyNet", 0)
    {
        stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride: 2, padding: 1, bias: false), nn.BatchNorm2d(8), nn.ReLU());
        stage = nn.Sequential(nn.Conv2d(8, 16, 3, stride: 2, padding: 1, bias: false), nn.BatchNorm2d(16), nn.ReLU());
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int FeatureDim => 16;

    /// <inheritdoc />
    public override int MinInputSize => 8;

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => null;

    /// <inheritdoc />
    public override IReadOnlyList<nn.Module> Stages => [stem, stage];

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input) =>
        nn.functional.adaptive_avg_pool2d(stage.call(stem.call(input)), 1).flatten(1);
}
