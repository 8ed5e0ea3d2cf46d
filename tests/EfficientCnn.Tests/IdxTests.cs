using System.IO.Compression;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Training;
using NUnit.Framework;

namespace EfficientCnn.Tests;

public class IdxTests
{
    private string folder = "";

    [SetUp]
    public void SetUp() => folder = TrainingFixtures.TempFolder("idx");

    [TearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    private static byte[] Idx(byte rank, int[] dims, byte[] data, byte type = 0x08)
    {
        var bytes = new List<byte> { 0, 0, type, rank };
        foreach (int d in dims) bytes.AddRange(BitConverter.GetBytes(d).Reverse());
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    private void Write(string name, byte[] bytes, bool gzip)
    {
        string path = Path.Combine(folder, name + (gzip ? ".gz" : ""));
        if (!gzip) { File.WriteAllBytes(path, bytes); return; }
        using var file = File.Create(path);
        using var z = new GZipStream(file, CompressionLevel.Fastest);
        z.Write(bytes);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ReadsImagesAndLabelsPlainOrGzipped(bool gzip)
    {
        // Three 2x3 images whose pixels encode (image, position), labels 2, 0, 1.
        var pixels = Enumerable.Range(0, 3 * 6).Select(i => (byte)(i * 10)).ToArray();
        Write("train-images-idx3-ubyte", Idx(3, [3, 2, 3], pixels), gzip);
        Write("train-labels-idx1-ubyte", Idx(1, [3], [2, 0, 1]), gzip);
        var data = ImageDataset.Load(folder);
        Assert.That(data.Count, Is.EqualTo(3));
        Assert.That(data.Classes, Is.EqualTo(new[] { "0", "1", "2" }));
        Assert.That(data.Items.Select(i => i.Label), Is.EqualTo(new[] { 2, 0, 1 }));
        var image = data.Items[1].Image;
        Assert.That((image.PixelWidth, image.PixelHeight), Is.EqualTo((3, 2)));
        Assert.That(image.Bytes.ToArray().Where((_, k) => k % 4 == 0), Is.EqualTo(pixels.Skip(6).Take(6)), "grey value copied to R");
        // Pixels flow through the same preprocessing as files: a 1:1 stretch of grey 60 normalizes to (60/255 - 0.5) / 0.5.
        var spec = new PreprocessingSpec { Resolution = 3, ResizeMode = ResizeMode.Stretch, Mean = [0.5f, 0.5f, 0.5f], Std = [0.5f, 0.5f, 0.5f] };
        var tensor = new ImagePreprocessor(spec).Preprocess(image);
        Assert.That(tensor[0], Is.EqualTo((60 / 255f - 0.5f) / 0.5f).Within(0.05f));
    }

    [Test]
    public void BadIdxFilesAreNamed()
    {
        Write("train-images-idx3-ubyte", Idx(3, [2, 2, 2], new byte[8], type: 0x0D), false);
        Write("train-labels-idx1-ubyte", Idx(1, [2], [0, 1]), false);
        var e = Assert.Throws<InvalidDataException>(() => ImageDataset.Load(folder));
        Assert.That(e!.Message, Does.Contain("train-images-idx3-ubyte").And.Contain("magic"));

        Write("train-images-idx3-ubyte", Idx(3, [2, 2, 2], new byte[5]), false);
        e = Assert.Throws<InvalidDataException>(() => ImageDataset.Load(folder));
        Assert.That(e!.Message, Does.Contain("truncated"));

        Write("train-images-idx3-ubyte", Idx(3, [3, 2, 2], new byte[12]), false);
        e = Assert.Throws<InvalidDataException>(() => ImageDataset.Load(folder));
        Assert.That(e!.Message, Does.Contain("3 images").And.Contain("2 labels"));

        Write("train-images-idx3-ubyte", Idx(3, [2, 2, 2], new byte[8]), false);
        Write("train-labels-idx1-ubyte", Idx(1, [2], [0, 7]), false);
        e = Assert.Throws<InvalidDataException>(() => IdxDataset.Load(Path.Combine(folder, "train-images-idx3-ubyte"), Path.Combine(folder, "train-labels-idx1-ubyte"), ["a", "b"]));
        Assert.That(e!.Message, Does.Contain("label 7"));
    }
}
