using System.Diagnostics;
using EfficientCnn.Backbones.Imaging;
using NUnit.Framework;
using SkiaSharp;

namespace EfficientCnn.Tests;

/// <summary>Fixture images written on the fly with SkiaSharp (no binaries in the repository).</summary>
internal static class TestImages
{
    /// <summary>A smooth colour gradient with a diagonal stripe, so crops and flips change the pixels.</summary>
    public static SKBitmap Pattern(int width, int height, SKColorType colorType = SKColorType.Rgba8888, SKAlphaType alpha = SKAlphaType.Unpremul, int seed = 0)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, colorType, alpha));
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            byte r = (byte)((x * 255 / Math.Max(1, width - 1) + seed * 37) & 255);
            byte g = (byte)((y * 255 / Math.Max(1, height - 1) + seed * 71) & 255);
            byte b = (byte)(Math.Abs(x - y) < 3 ? 250 : (x + y + seed * 13) & 127);
            byte a = alpha == SKAlphaType.Opaque ? (byte)255 : (byte)(128 + (x & 127));
            bitmap.SetPixel(x, y, new SKColor(r, g, b, a));
        }
        return bitmap;
    }

    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 95)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }

    public static byte[] Png(int width, int height, int seed = 0)
    {
        using var bitmap = Pattern(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque, seed);
        return Encode(bitmap);
    }

    public static string WriteTemp(byte[] bytes, string extension)
    {
        string dir = Path.Combine(Path.GetTempPath(), "efficientcnn-tests");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, $"{Guid.NewGuid():N}{extension}");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}

public sealed class ImagingTests
{
    private static readonly ImagePreprocessor Eval224 = new(PreprocessingSpec.ImageNet(224));

    [Test]
    public void EvalPreprocessingIsIdenticalAcrossCallsAndBetweenPathAndBytes()
    {
        byte[] png = TestImages.Png(300, 200);
        string path = TestImages.WriteTemp(png, ".png");
        var fromPath = Eval224.Preprocess(path);
        var again = Eval224.Preprocess(path);
        var fromBytes = Eval224.Preprocess(png, "fixture.png");
        var batch = new float[2 * Eval224.TensorLength];
        Eval224.PreprocessBatch([ImageInput.FromFile(path), ImageInput.FromBytes(png)], batch);

        Assert.That(fromPath, Has.Length.EqualTo(3 * 224 * 224));
        AssertBitwiseEqual(again, fromPath, "two calls on the same file");
        AssertBitwiseEqual(fromBytes, fromPath, "path vs bytes");
        AssertBitwiseEqual(batch.AsSpan(Eval224.TensorLength).ToArray(), fromPath, "parallel batch");
    }

    [Test]
    public void GreyRgbaAndPaletteInputsBecomeThreeChannels()
    {
        using var rgb = TestImages.Pattern(64, 48, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var grey = new SKBitmap(new SKImageInfo(64, 48, SKColorType.Gray8, SKAlphaType.Opaque));
        for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) grey.SetPixel(x, y, new SKColor((byte)(x * 4), (byte)(x * 4), (byte)(x * 4)));
        using var rgba = TestImages.Pattern(64, 48, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var spec = new PreprocessingSpec { Resolution = 32, ResizeMode = ResizeMode.Stretch };
        var pre = new ImagePreprocessor(spec);

        var g = pre.Preprocess(TestImages.Encode(grey), "grey.png");
        Assert.That(g, Has.Length.EqualTo(3 * 32 * 32));
        // A grey image gives equal R, G, B before normalization: undo mean/std and compare the planes.
        int plane = 32 * 32;
        for (int i = 0; i < plane; i += 37)
        {
            float r = g[i] * spec.Std[0] + spec.Mean[0], gg = g[plane + i] * spec.Std[1] + spec.Mean[1], b = g[2 * plane + i] * spec.Std[2] + spec.Mean[2];
            Assert.That(gg, Is.EqualTo(r).Within(1e-5f));
            Assert.That(b, Is.EqualTo(r).Within(1e-5f));
        }

        // RGBA: alpha is dropped, the colour channels are kept (PIL convert("RGB")): equal to the opaque image's colours
        // wherever the fixture's RGB values are the same.
        var a = pre.Preprocess(TestImages.Encode(rgba), "rgba.png");
        Assert.That(a, Has.Length.EqualTo(3 * plane));
        Assert.That(a.All(float.IsFinite));

        // Palette-indexed PNG.
        var p = new ImagePreprocessor(spec with { Resolution = 16 }).Preprocess(PalettePng(), "palette.png");
        plane = 16 * 16;
        Assert.That(p, Has.Length.EqualTo(3 * plane));
        Assert.That(p[0] * spec.Std[0] + spec.Mean[0], Is.EqualTo(1f).Within(1e-5f), "white palette entry, red channel");
        Assert.That(p[2 * plane] * spec.Std[2] + spec.Mean[2], Is.EqualTo(1f).Within(1e-5f), "white palette entry, blue channel");
    }

    [Test]
    public void NormalizationMatchesMeanAndStdPerChannelAndChannelOrder()
    {
        using var solid = new SKBitmap(new SKImageInfo(16, 16, SKColorType.Rgba8888, SKAlphaType.Opaque));
        solid.Erase(new SKColor(255, 128, 0));
        byte[] png = TestImages.Encode(solid);
        var rgbSpec = new PreprocessingSpec { Resolution = 8, ResizeMode = ResizeMode.Stretch };
        var rgb = new ImagePreprocessor(rgbSpec).Preprocess(png);
        int plane = 64;
        Assert.That(rgb[0], Is.EqualTo((1f - 0.485f) / 0.229f).Within(1e-5f));
        Assert.That(rgb[plane], Is.EqualTo((128f / 255f - 0.456f) / 0.224f).Within(1e-5f));
        Assert.That(rgb[2 * plane], Is.EqualTo((0f - 0.406f) / 0.225f).Within(1e-5f));

        var bgr = new ImagePreprocessor(rgbSpec with { ChannelOrder = ChannelOrder.Bgr }).Preprocess(png);
        AssertBitwiseEqual(bgr.AsSpan(0, plane).ToArray(), rgb.AsSpan(2 * plane, plane).ToArray(), "BGR puts blue first");
        AssertBitwiseEqual(bgr.AsSpan(2 * plane, plane).ToArray(), rgb.AsSpan(0, plane).ToArray(), "BGR puts red last");

        var raw = new ImagePreprocessor(rgbSpec with { Mean = [0f, 0f, 0f], Std = [1f, 1f, 1f] }).Preprocess(png);
        Assert.That(raw[0], Is.EqualTo(1f));
        Assert.That(raw[2 * plane], Is.EqualTo(0f));
    }

    [Test]
    public void CenterCropKeepsTheCentreAndStretchKeepsEverything()
    {
        // 400x200, black for x < 100, white elsewhere. The centre crop (side 0.875 * 200 = 175 px, x in 112.5..287.5)
        // sees only white; stretch keeps the black left quarter.
        using var bmp = new SKBitmap(new SKImageInfo(400, 200, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(bmp))
        using (var white = new SKPaint { Color = SKColors.White })
        {
            canvas.Clear(SKColors.Black);
            canvas.DrawRect(new SKRect(100, 0, 400, 200), white);
        }
        byte[] png = TestImages.Encode(bmp);
        var zeroMean = new PreprocessingSpec { Resolution = 32, Mean = [0f, 0f, 0f], Std = [1f, 1f, 1f] };
        var crop = new ImagePreprocessor(zeroMean).Preprocess(png);
        var stretch = new ImagePreprocessor(zeroMean with { ResizeMode = ResizeMode.Stretch }).Preprocess(png);
        int row = 16 * 32;
        Assert.That(crop.Min(), Is.GreaterThan(0.95f), "centre crop is all white");
        Assert.That(stretch[row + 2], Is.LessThan(0.05f), "stretch keeps the black left edge");
        Assert.That(stretch[row + 29], Is.GreaterThan(0.95f));
    }

    [Test]
    public void AugmentationIsReproducibleWithASeedAndDiffersAcrossSeeds()
    {
        byte[] png = TestImages.Png(160, 120, seed: 3);
        var input = ImageInput.FromBytes(png, "aug.png");
        var pre = new ImagePreprocessor(new PreprocessingSpec { Resolution = 64 });
        float[] Run(int seed, long index)
        {
            var dest = new float[pre.TensorLength];
            pre.PreprocessForTraining(input, dest, ImageAugmentation.Default, ImageAugmentation.CreateRandom(seed, 0, index));
            return dest;
        }

        var a = Run(42, 7);
        AssertBitwiseEqual(Run(42, 7), a, "same seed and index");
        Assert.That(Run(43, 7).SequenceEqual(a), Is.False, "other seed");
        Assert.That(Run(42, 8).SequenceEqual(a), Is.False, "other sample index");
        Assert.That(pre.Preprocess(input).SequenceEqual(a), Is.False, "augmented != evaluation");

        // The draw itself respects the torchvision ranges.
        var rng = new Random(1);
        for (int i = 0; i < 200; i++)
        {
            var d = ImageAugmentation.Default.Sample(160, 120, rng);
            Assert.That(d.CropX + d.CropWidth, Is.LessThanOrEqualTo(160));
            Assert.That(d.CropY + d.CropHeight, Is.LessThanOrEqualTo(120));
            Assert.That(d.Brightness, Is.InRange(0.6f, 1.4f));
            Assert.That(d.JitterOrder, Is.EquivalentTo(new[] { 0, 1, 2 }));
        }
        var none = ImageAugmentation.Default with { Brightness = 0, Contrast = 0, Saturation = 0, HorizontalFlipProbability = 0 };
        Assert.That(none.Sample(160, 120, new Random(5)).Flip, Is.False);
    }

    [Test]
    public void MissingCorruptAndUnsupportedImagesNameTheFile()
    {
        string missing = Path.Combine(Path.GetTempPath(), "efficientcnn-tests", "no-such-image.png");
        var e1 = Assert.Throws<FileNotFoundException>(() => Eval224.Preprocess(missing));
        Assert.That(e1!.Message, Does.Contain("no-such-image.png"));

        byte[] png = TestImages.Png(64, 64);
        string truncated = TestImages.WriteTemp(png[..(png.Length / 2)], ".png");
        var e2 = Assert.Throws<InvalidDataException>(() => Eval224.Preprocess(truncated));
        Assert.That(e2!.Message, Does.Contain(Path.GetFileName(truncated)));

        string text = TestImages.WriteTemp("not an image"u8.ToArray(), ".jpg");
        var e3 = Assert.Throws<InvalidDataException>(() => Eval224.Preprocess(text));
        Assert.That(e3!.Message, Does.Contain(Path.GetFileName(text)));

        var e4 = Assert.Throws<InvalidDataException>(() => Eval224.PreprocessBatch(
            [ImageInput.FromBytes(png, "good.png"), ImageInput.FromBytes(new byte[] { 1, 2, 3 }, "bad-bytes.bin")], new float[2 * Eval224.TensorLength]));
        Assert.That(e4!.Message, Does.Contain("bad-bytes.bin"));
    }

    [Test]
    public void BadSpecOptionsNameTheOption()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new ImagePreprocessor(new PreprocessingSpec { Resolution = 0 }))!.ParamName, Is.EqualTo("Resolution"));
        Assert.That(Assert.Throws<ArgumentException>(() => new ImagePreprocessor(new PreprocessingSpec { CropFraction = 1.5f }))!.ParamName, Is.EqualTo("CropFraction"));
        Assert.That(Assert.Throws<ArgumentException>(() => new ImagePreprocessor(new PreprocessingSpec { Std = [1f, 0f, 1f] }))!.ParamName, Is.EqualTo("Std"));
        var spec = new PreprocessingSpec { Resolution = 96, ChannelOrder = ChannelOrder.Bgr };
        Assert.That(PreprocessingSpec.FromJson(spec.ToJson()), Is.EqualTo(spec));
    }

    private static void AssertBitwiseEqual(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        int bad = -1;
        for (int i = 0; i < actual.Length; i++)
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i])) { bad = i; break; }
        Assert.That(bad, Is.EqualTo(-1), $"{what}: first difference at index {bad}");
    }

    /// <summary>Decode + 224 px evaluation preprocessing throughput on a 640x480 JPEG and PNG (reported, not asserted).</summary>
    [Test]
    public void MeasureEvalThroughput()
    {
        foreach (var (format, ext) in new[] { (SKEncodedImageFormat.Jpeg, ".jpg"), (SKEncodedImageFormat.Png, ".png") })
        {
            using var bmp = TestImages.Pattern(640, 480, SKColorType.Rgba8888, SKAlphaType.Opaque, seed: 9);
            byte[] bytes = TestImages.Encode(bmp, format, 90);
            var inputs = Enumerable.Range(0, 64).Select(i => ImageInput.FromBytes(bytes, $"img{i}{ext}")).ToArray();
            var dest = new float[inputs.Length * Eval224.TensorLength];
            Eval224.PreprocessBatch(inputs[..4], dest); // warm up
            foreach (int dop in new[] { 1, Environment.ProcessorCount })
            {
                var process = Process.GetCurrentProcess();
                var cpu0 = process.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                Eval224.PreprocessBatch(inputs, dest, dop);
                sw.Stop();
                process.Refresh();
                double cpuMs = (process.TotalProcessorTime - cpu0).TotalMilliseconds / inputs.Length;
                // CPU time per image is the figure to trust on a shared machine; wall time shows the parallel speed-up.
                TestContext.Out.WriteLine($"640x480 {ext} ({bytes.Length / 1024} KiB) -> 224 eval, {dop} thread(s): wall {inputs.Length / sw.Elapsed.TotalSeconds:F0} images/s, CPU {cpuMs:F1} ms/image = {1000 / cpuMs:F0} images/s per core");
            }
        }
    }

    // An 8-bit palette PNG (colour type 3) written by hand: Skia's encoder never writes palettes. Index 0 is white,
    // 1 black, 2 red; pixel (0, 0) is white.
    private static byte[] PalettePng(int width = 16, int height = 16)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0); // filter: none
            for (int x = 0; x < width; x++) raw.WriteByte((byte)((x / 4 + y / 4) % 3));
        }
        var z = new MemoryStream();
        using (var zs = new System.IO.Compression.ZLibStream(z, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            raw.WriteTo(zs);
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        byte[] ihdr = [.. BigEndian(width), .. BigEndian(height), 8, 3, 0, 0, 0];
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "PLTE", [255, 255, 255, 0, 0, 0, 255, 0, 0]);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();

        static byte[] BigEndian(int v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];
        static void Chunk(Stream s, string type, byte[] data)
        {
            s.Write(BigEndian(data.Length));
            byte[] body = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
            s.Write(body);
            uint crc = 0xFFFFFFFF;
            foreach (byte b in body)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
            s.Write(BigEndian((int)~crc));
        }
    }
}

/// <summary>The move from SkiaSharp 2.88 to 3.x (ML.NET 6) must not change what the networks see.</summary>
public sealed class PreprocessingParityTests
{
    /// <summary>
    /// data/preprocessing-skiasharp-2.88.9.*: the evaluation preprocessing of 28 clipart4 drawings (every 10th at 112 px,
    /// every 40th at 224 px), computed with SkiaSharp 2.88.9 before the move and stored as bytes (0-255 per channel).
    /// Today's preprocessing must give the same pixels within one grey level (rounding in Skia's raster pipeline).
    /// </summary>
    [Test]
    public void PreprocessingMatchesSkiaSharp288OnTheSampleImages()
    {
        string dir = Path.Combine(TrainingFixtures.RepoRoot, "tests", "EfficientCnn.Tests", "data");
        var index = File.ReadAllLines(Path.Combine(dir, "preprocessing-skiasharp-2.88.9.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        using var gz = new System.IO.Compression.GZipStream(File.OpenRead(Path.Combine(dir, "preprocessing-skiasharp-2.88.9.u8.gz")), System.IO.Compression.CompressionMode.Decompress);
        using var reference = new MemoryStream();
        gz.CopyTo(reference);
        var bytes = reference.ToArray();
        var mean = PreprocessingSpec.ImageNetMean;
        var std = PreprocessingSpec.ImageNetStd;
        int offset = 0, identical = 0, worst = 0;
        long differing = 0, total = 0;
        foreach (var row in index)
        {
            int res = int.Parse(row[0], System.Globalization.CultureInfo.InvariantCulture);
            var tensor = new ImagePreprocessor(PreprocessingSpec.ImageNet(res)).Preprocess(Path.Combine(TrainingFixtures.Clipart4, row[1]));
            int plane = res * res, imageWorst = 0;
            for (int i = 0; i < tensor.Length; i++)
            {
                int c = i / plane;
                int now = (int)MathF.Round((tensor[i] * std[c] + mean[c]) * 255f);
                int d = Math.Abs(now - bytes[offset + i]);
                imageWorst = Math.Max(imageWorst, d);
                if (d > 0) differing++;
            }
            offset += tensor.Length;
            total += tensor.Length;
            worst = Math.Max(worst, imageWorst);
            if (imageWorst == 0) identical++;
            Assert.That(imageWorst, Is.LessThanOrEqualTo(1), $"{row[1]} at {res} px differs from SkiaSharp 2.88.9 by {imageWorst} grey levels");
        }
        Assert.That(offset, Is.EqualTo(bytes.Length), "reference size");
        TestContext.Out.WriteLine($"{identical} of {index.Length} images identical to SkiaSharp 2.88.9; worst difference {worst} grey level(s); {differing} of {total} values differ");
    }
}
