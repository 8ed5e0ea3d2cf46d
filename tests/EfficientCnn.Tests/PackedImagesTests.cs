using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Training;
using System.Text.RegularExpressions;
using NUnit.Framework;
using SkiaSharp;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

/// <summary>The packed uint8 corpus file (<see cref="PackedImages"/>) and <c>efficientcnn pack</c>.</summary>
public sealed class PackedImagesTests
{
    private string dir = "";

    [SetUp]
    public void CreateFolder()
    {
        dir = Path.Combine(Path.GetTempPath(), "efficientcnn-tests", "pack-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
    }

    [TearDown]
    public void RemoveFolder() => Directory.Delete(dir, recursive: true);

    /// <summary>Three differently shaped and encoded images: landscape PNG, portrait JPEG, translucent PNG.</summary>
    private string[] WriteImages()
    {
        using var translucent = TestImages.Pattern(97, 97, seed: 3);
        var images = new (byte[] Bytes, string Name)[]
        {
            (TestImages.Png(300, 200, seed: 1), "landscape.png"),
            (TestImages.Encode(TestImages.Pattern(150, 260, SKColorType.Rgba8888, SKAlphaType.Opaque, seed: 2), SKEncodedImageFormat.Jpeg, 90), "portrait.jpg"),
            (TestImages.Encode(translucent), "translucent.png"),
        };
        return images.Select(i =>
        {
            string path = Path.Combine(dir, i.Name);
            File.WriteAllBytes(path, i.Bytes);
            return path;
        }).ToArray();
    }

    [Test]
    public void RoundTripGivesExactlyTheProjectsOwnDecodeAndResize()
    {
        const int size = 40;
        var files = WriteImages();
        string pack = Path.Combine(dir, "three.pack");
        var progress = new List<(int Done, int Total)>();
        var result = PackedImages.Write(pack, files, size, progress: (d, t) => progress.Add((d, t)));
        Assert.That(result.Written, Is.EqualTo(3));
        Assert.That(result.Skipped, Is.Empty);
        Assert.That(progress[^1], Is.EqualTo((3, 3)));

        // The float evaluation path with mean 0 / std 1 and a full-side crop is the same decode and resize, scaled to [0, 1].
        var reference = new ImagePreprocessor(new PreprocessingSpec { Resolution = size, CropFraction = 1f, Mean = [0f, 0f, 0f], Std = [1f, 1f, 1f] });
        using var packed = PackedImages.Open(pack);
        Assert.That((packed.Count, packed.Size, packed.Path), Is.EqualTo((3, size, pack)));
        var pixels = new byte[3 * size * size];
        var first = new byte[pixels.Length];
        for (int i = 0; i < files.Length; i++)
        {
            packed.CopyTo(i, pixels);
            var expected = reference.Preprocess(files[i]).Select(v => (byte)Math.Round(v * 255f)).ToArray();
            Assert.That(pixels, Is.EqualTo(expected), $"image {i} ({Path.GetFileName(files[i])})");
            Assert.That(packed.SourceOf(i), Is.EqualTo(files[i]));
            if (i == 0) pixels.CopyTo(first, 0);
        }
        Assert.That(first.Distinct().Count(), Is.GreaterThan(50), "the fixture images have real content");

        using var batch = packed.Batch([2, 0]);
        Assert.That(batch.shape, Is.EqualTo(new long[] { 2, 3, size, size }));
        Assert.That(batch.dtype, Is.EqualTo(ScalarType.Byte));
        packed.CopyTo(2, pixels);
        Assert.That(batch[0].data<byte>().ToArray(), Is.EqualTo(pixels));
        Assert.That(batch[1].data<byte>().ToArray(), Is.EqualTo(first));
        Assert.Throws<ArgumentOutOfRangeException>(() => packed.CopyTo(3, pixels));
    }

    [Test]
    public void CorruptTruncatedOrForeignFilesAreRejectedNamingTheFile()
    {
        var files = WriteImages();
        string pack = Path.Combine(dir, "good.pack");
        PackedImages.Write(pack, files, 24);
        byte[] good = File.ReadAllBytes(pack);

        string truncated = Path.Combine(dir, "truncated.pack");
        File.WriteAllBytes(truncated, good[..^7]);
        string badMagic = Path.Combine(dir, "magic.pack");
        var magic = (byte[])good.Clone();
        magic[0] = (byte)'X';
        File.WriteAllBytes(badMagic, magic);
        string badCount = Path.Combine(dir, "count.pack");
        var count = (byte[])good.Clone();
        count[12] = 4; // header says 4 images, the file holds 3
        File.WriteAllBytes(badCount, count);
        string badIndex = Path.Combine(dir, "index.pack");
        var index = (byte[])good.Clone();
        index[64 + 3 * 3 * 24 * 24] = 0xFF; // first index entry's length
        File.WriteAllBytes(badIndex, index);
        string foreign = Path.Combine(dir, "foreign.pack");
        File.WriteAllBytes(foreign, TestImages.Png(30, 30));
        string tiny = Path.Combine(dir, "tiny.pack");
        File.WriteAllBytes(tiny, "ECNN"u8.ToArray());

        foreach (string bad in new[] { truncated, badMagic, badCount, badIndex, foreign, tiny })
        {
            var e = Assert.Throws<InvalidDataException>(() => PackedImages.Open(bad).Dispose(), Path.GetFileName(bad));
            Assert.That(e!.Message, Does.Contain(bad));
        }
        using var reopened = PackedImages.Open(pack);
        Assert.That(reopened.Count, Is.EqualTo(3));
        Assert.Throws<FileNotFoundException>(() => PackedImages.Open(Path.Combine(dir, "missing.pack")));
    }

    [Test]
    public void UnreadableImagesAreSkippedAndReportedAndTheRestKeepTheirOrder()
    {
        var files = WriteImages();
        string notAnImage = Path.Combine(dir, "notes.png");
        File.WriteAllText(notAnImage, "not a PNG");
        string missing = Path.Combine(dir, "missing.jpg");
        string truncatedJpeg = Path.Combine(dir, "cut.jpg");
        File.WriteAllBytes(truncatedJpeg, File.ReadAllBytes(files[1])[..40]);
        string[] input = [files[2], notAnImage, files[0], missing, truncatedJpeg, files[1]];
        string pack = Path.Combine(dir, "mixed.pack");

        var result = PackedImages.Write(pack, input, 16);

        Assert.That(result.Written, Is.EqualTo(3));
        Assert.That(result.Skipped.Select(s => s.Path), Is.EqualTo(new[] { notAnImage, missing, truncatedJpeg }));
        Assert.That(result.Skipped.All(s => s.Error.Length > 0));
        using var packed = PackedImages.Open(pack);
        Assert.That(Enumerable.Range(0, packed.Count).Select(packed.SourceOf), Is.EqualTo(new[] { files[2], files[0], files[1] }));
        Assert.That(Directory.GetFiles(dir, "*.tmp"), Is.Empty, "the temporary file was renamed");
    }

    [Test]
    public void CliPacksClipart4FromItsCsvAndRefusesToOverwriteItsInput()
    {
        string csv = Path.Combine(TrainingFixtures.Clipart4, "split.csv");
        Assume.That(File.Exists(csv), "samples/data/clipart4 ships with the repository");
        int rows = File.ReadAllLines(csv).Skip(1).Count(l => l.Trim().Length > 0);
        string pack = Path.Combine(dir, "clipart4.pack");

        int code = CliRunner.Run(out string stdout, "pack", "--input", csv, "--size", "32", "--output", pack);

        Assert.That(code, Is.EqualTo(0), stdout);
        Assert.That(OneLine(stdout), Does.Contain($"Packed {rows} images (0 skipped)"));
        using (var packed = PackedImages.Open(pack))
        {
            Assert.That((packed.Count, packed.Size), Is.EqualTo((rows, 32)));
            Assert.That(packed.SourceOf(0), Does.StartWith(TrainingFixtures.Clipart4));
        }

        string list = Path.Combine(dir, "list.txt");
        File.WriteAllLines(list, [Path.Combine(TrainingFixtures.Clipart4, File.ReadAllLines(csv)[1].Split(',')[0])]);
        Assert.That(CliRunner.Run(out stdout, "pack", "--input", list, "--size", "32", "--output", list), Is.EqualTo(1));
        Assert.That(OneLine(stdout), Does.Contain("is the --input itself"));
        Assert.That(File.ReadAllLines(list), Has.Length.EqualTo(1), "the input list is untouched");
    }

    /// <summary>Spectre wraps long lines at the console width (80 when redirected): compare text, not layout.</summary>
    private static string OneLine(string text) => Regex.Replace(text, @"\s+", " ");
}
