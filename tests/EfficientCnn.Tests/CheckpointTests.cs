using System.Collections;
using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Checkpoints;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

/// <summary>
/// StateDictLoader: PyTorch (.pth via PyBridge's own writer) and safetensors files round-trip into a fresh model,
/// training-checkpoint wrappers and the DataParallel prefix are handled, mismatches are listed, bad files named.
/// </summary>
public sealed class CheckpointTests
{
    private string dir = "";

    [SetUp]
    public void CreateDir() => Directory.CreateDirectory(dir = Path.Combine(Path.GetTempPath(), "ckpt-tests-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void DeleteDir() => Directory.Delete(dir, recursive: true);

    private static ResNet Tiny(int numClasses = 10) => new(ResNet.BlockKind.Basic, [1, 1, 1, 1], numClasses: numClasses, width: 8);

    /// <summary>A model whose BN running stats and num_batches_tracked moved away from their initial values.</summary>
    private static ResNet Trained(int numClasses = 10)
    {
        var m = Tiny(numClasses);
        m.train();
        using (no_grad()) using (var x = randn(4, 3, 32, 32)) m.call(x).Dispose();
        m.eval();
        return m;
    }

    /// <summary>Same shape and every element equal (dtypes may differ; callers check dtype separately).</summary>
    private static bool Same(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }

    private static void AssertSameState(nn.Module expected, nn.Module actual, params string[] except)
    {
        var a = expected.state_dict();
        var b = actual.state_dict();
        Assert.That(b.Keys, Is.EquivalentTo(a.Keys));
        foreach (var (key, t) in a)
        {
            if (except.Contains(key)) continue;
            Assert.That(b[key].dtype, Is.EqualTo(t.dtype), key);
            Assert.That(Same(b[key], t), Is.True, $"tensor '{key}' differs after loading");
        }
    }

    private static void AssertSameOutputs(nn.Module<Tensor, Tensor> a, nn.Module<Tensor, Tensor> b)
    {
        a.eval();
        b.eval();
        using var _ = no_grad();
        using var x = randn(2, 3, 32, 32);
        using var ya = a.call(x);
        using var yb = b.call(x);
        Assert.That(Same(ya, yb), Is.True, "outputs differ after loading");
    }

    private static bool AnyDifference(nn.Module a, nn.Module b) =>
        a.state_dict().Any(kv => !kv.Key.EndsWith("num_batches_tracked") && !Same(kv.Value, b.state_dict()[kv.Key]));

    [Test]
    public void PyTorchFileRoundTripsIntoFreshModel()
    {
        using var source = Trained();
        var path = Path.Combine(dir, "resnet.pth");
        source.save_py(path);
        using var target = Tiny();
        Assert.That(AnyDifference(source, target), Is.True, "the fresh model should start with other weights");

        var report = StateDictLoader.Load(target, path);

        Assert.That(report.Format, Is.EqualTo(CheckpointFormat.PyTorch));
        Assert.That(report.IsExactMatch, Is.True, report.ToString());
        Assert.That(report.LoadedKeys, Has.Count.EqualTo(source.state_dict().Count));
        Assert.That(report.StrippedPrefix, Is.Null);
        AssertSameState(source, target);
        Assert.That(target.state_dict()["bn1.num_batches_tracked"].item<long>(), Is.EqualTo(1L));
        AssertSameOutputs(source, target);
    }

    [Test]
    public void SafetensorsFileRoundTripsIntoFreshModel()
    {
        using var source = Trained();
        var path = Path.Combine(dir, "resnet.safetensors");
        source.save_safetensors(path);
        using var target = Tiny();

        var report = StateDictLoader.Load(target, path);

        Assert.That(report.Format, Is.EqualTo(CheckpointFormat.Safetensors));
        Assert.That(report.IsExactMatch, Is.True, report.ToString());
        AssertSameState(source, target);
        AssertSameOutputs(source, target);
    }

    [TestCase(ScalarType.Float16)]
    [TestCase(ScalarType.BFloat16)]
    public void HalfPrecisionSafetensorsLoadIntoFloatModel(ScalarType dtype)
    {
        using var source = Trained();
        source.to(dtype);
        var path = Path.Combine(dir, "half.safetensors");
        source.save_safetensors(path);
        using var target = Tiny();

        var report = StateDictLoader.Load(target, path);

        Assert.That(report.IsExactMatch, Is.True, report.ToString());
        var expected = source.state_dict();
        foreach (var (key, t) in target.state_dict())
        {
            Assert.That(t.dtype, Is.EqualTo(key.EndsWith("num_batches_tracked") ? ScalarType.Int64 : ScalarType.Float32), key);
            using var e = expected[key].to(t.dtype);
            Assert.That(Same(t, e), Is.True, $"'{key}' not converted exactly from {dtype}");
        }
    }

    [TestCase(null, true)]
    [TestCase("state_dict", false)]
    [TestCase("model", true)]
    public void WrappedCheckpointsAndDataParallelPrefixAreUnwrapped(string? wrapperKey, bool dataParallel)
    {
        using var source = Trained();
        var stateDict = source.state_dict().ToDictionary(kv => (dataParallel ? "module." : "") + kv.Key, kv => kv.Value);
        IDictionary root = wrapperKey is null
            ? stateDict
            : new Hashtable { [wrapperKey] = stateDict, ["epoch"] = 7, ["arch"] = "resnet", ["optimizer"] = new Hashtable { ["lr"] = 0.1 } };
        var path = Path.Combine(dir, "wrapped.pth");
        using (var fs = File.Create(path)) PyTorchPickler.PickleStateDict(fs, root, false);
        using var target = Tiny();

        var report = StateDictLoader.Load(target, path);

        Assert.That(report.WrapperKey, Is.EqualTo(wrapperKey));
        Assert.That(report.StrippedPrefix, Is.EqualTo(dataParallel ? "module." : null));
        Assert.That(report.IsExactMatch, Is.True, report.ToString());
        AssertSameState(source, target);
        AssertSameOutputs(source, target);
    }

    /// <summary>Checkpoint of a 5-class model, minus one key, plus one stray key, loaded into a 10-class model.</summary>
    private string WriteMismatchedCheckpoint(out ResNet source)
    {
        source = Trained(numClasses: 5);
        var sd = source.state_dict().Where(kv => kv.Key != "layer2.0.conv1.weight").ToDictionary(kv => kv.Key, kv => kv.Value);
        sd["extra.weight"] = ones(3);
        var path = Path.Combine(dir, "mismatch.pth");
        using (var fs = File.Create(path)) PyTorchPickler.PickleStateDict(fs, sd, false);
        return path;
    }

    [Test]
    public void StrictLoadListsMissingUnexpectedAndMisShapedKeysAndLeavesModelUnchanged()
    {
        var path = WriteMismatchedCheckpoint(out var source);
        using var _ = source;
        using var target = Tiny(numClasses: 10);
        var before = target.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        var ex = Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.Load(target, path))!;

        Assert.That(ex.Message, Does.Contain(Path.GetFullPath(path)));
        Assert.That(ex.Message, Does.Contain("layer2.0.conv1.weight"), "missing key listed");
        Assert.That(ex.Message, Does.Contain("extra.weight"), "unexpected key listed");
        Assert.That(ex.Message, Does.Contain("fc.weight: checkpoint [5, 64] vs model [10, 64]"), "mis-shaped key listed with both shapes");
        Assert.That(ex.Message, Does.Contain("fc.bias: checkpoint [5] vs model [10]"));
        Assert.That(ex.Report.MissingKeys, Is.EqualTo(new[] { "layer2.0.conv1.weight" }));
        Assert.That(ex.Report.UnexpectedKeys, Is.EqualTo(new[] { "extra.weight" }));
        Assert.That(ex.Report.MismatchedKeys.Select(m => m.Key), Is.EquivalentTo(new[] { "fc.weight", "fc.bias" }));
        foreach (var (key, t) in target.state_dict())
            Assert.That(Same(t, before[key]), Is.True, $"strict failure must not modify '{key}'");
    }

    [Test]
    public void NonStrictLoadCopiesWhatMatchesAndReportsTheRest()
    {
        var path = WriteMismatchedCheckpoint(out var source);
        using var _ = source;
        using var target = Tiny(numClasses: 10);
        using var fcBefore = target.state_dict()["fc.weight"].clone();
        using var missingBefore = target.state_dict()["layer2.0.conv1.weight"].clone();

        var report = StateDictLoader.Load(target, path, strict: false);

        Assert.That(report.IsExactMatch, Is.False);
        Assert.That(report.MissingKeys, Is.EqualTo(new[] { "layer2.0.conv1.weight" }));
        Assert.That(report.UnexpectedKeys, Is.EqualTo(new[] { "extra.weight" }));
        Assert.That(report.MismatchedKeys.Single(m => m.Key == "fc.weight").CheckpointShape, Is.EqualTo(new long[] { 5, 64 }));
        Assert.That(report.LoadedKeys, Has.Count.EqualTo(target.state_dict().Count - 3));
        AssertSameState(source, target, except: ["fc.weight", "fc.bias", "layer2.0.conv1.weight"]);
        Assert.That(Same(target.state_dict()["fc.weight"], fcBefore), Is.True, "mis-shaped key must be skipped");
        Assert.That(Same(target.state_dict()["layer2.0.conv1.weight"], missingBefore), Is.True, "missing key must be left alone");
    }

    [Test]
    public void MissingNumBatchesTrackedIsToleratedLikePyTorch()
    {
        using var source = Trained();
        var skip = source.state_dict().Keys.Where(k => k.EndsWith("num_batches_tracked")).ToList();
        var path = Path.Combine(dir, "nobatches.safetensors");
        source.save_safetensors(path, skip);
        using var target = Tiny();

        var report = StateDictLoader.Load(target, path);

        Assert.That(report.DefaultedKeys, Is.EquivalentTo(skip));
        Assert.That(report.MissingKeys, Is.Empty);
        AssertSameState(source, target, except: [.. skip]);
    }

    [Test]
    public void ScalarBufferStoredAsOneElementVectorStillLoads()
    {
        using var source = Trained();
        var sd = source.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        using var asVector = sd["bn1.num_batches_tracked"].reshape(1);
        sd["bn1.num_batches_tracked"] = asVector;
        var path = Path.Combine(dir, "vector-scalar.pth");
        using (var fs = File.Create(path)) PyTorchPickler.PickleStateDict(fs, sd, false);
        using var target = Tiny();

        var report = StateDictLoader.Load(target, path);

        Assert.That(report.IsExactMatch, Is.True, report.ToString());
        Assert.That(target.state_dict()["bn1.num_batches_tracked"].shape, Is.Empty);
        AssertSameState(source, target);
    }

    [Test]
    public void ZipWithDamagedPickleThrowsInvalidDataNamingTheFile()
    {
        var path = Path.Combine(dir, "damaged.pth");
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create))
        using (var entry = zip.CreateEntry("archive/data.pkl").Open())
            entry.Write([0x80, 0x02, 0x7D, 0x71, 0x00, 0x58, 0xFF, 0xFF]); // dict, then a unicode string cut short
        using var target = Tiny();
        var ex = Assert.Throws<InvalidDataException>(() => StateDictLoader.Load(target, path))!;
        Assert.That(ex.Message, Does.Contain(path));
    }

    [Test]
    public void MissingFileThrowsFileNotFoundWithPath()
    {
        var path = Path.Combine(dir, "nope.pth");
        using var target = Tiny();
        var ex = Assert.Throws<FileNotFoundException>(() => StateDictLoader.Load(target, path))!;
        Assert.That(ex.Message, Does.Contain(path));
        Assert.That(ex.FileName, Is.EqualTo(path));
    }

    [TestCase("resnet.pth", 0.5)]
    [TestCase("resnet.pth", 0.98)]
    [TestCase("resnet.safetensors", 0.5)]
    [TestCase("resnet.safetensors", 0.98)]
    [TestCase("resnet.safetensors", 0.001)]
    public void TruncatedFileThrowsInvalidDataNamingTheFile(string name, double keep)
    {
        using var source = Tiny();
        var path = Path.Combine(dir, name);
        if (name.EndsWith(".pth")) source.save_py(path); else source.save_safetensors(path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..Math.Max(1, (int)(bytes.Length * keep))]);
        using var target = Tiny();

        var ex = Assert.Throws<InvalidDataException>(() => StateDictLoader.Load(target, path))!;
        Assert.That(ex.Message, Does.Contain(path));
    }

    [Test]
    public void GarbageFileThrowsInvalidDataNamingTheFile()
    {
        var path = Path.Combine(dir, "garbage.pth");
        File.WriteAllBytes(path, Enumerable.Range(0, 1000).Select(i => (byte)(i * 37 % 251)).ToArray());
        using var target = Tiny();
        var ex = Assert.Throws<InvalidDataException>(() => StateDictLoader.Load(target, path))!;
        Assert.That(ex.Message, Does.Contain(path));
    }

    [Test]
    public void CliExportLoadsAPyTorchStateDictByName()
    {
        // A torchvision-named resnet18 state dict in PyTorch's format → efficientcnn export --weights → the ONNX file
        // computes what the source model computes (so the weights really were loaded, not a fresh initialisation).
        string dir = Path.Combine(Path.GetTempPath(), "ckpt-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            manual_seed(3);
            using var source = EfficientCnn.Backbones.Registry.BackboneRegistry.Create("resnet18", new EfficientCnn.Backbones.BackboneOptions { NumClasses = 3 });
            string weights = Path.Combine(dir, "resnet18.pth"), onnx = Path.Combine(dir, "resnet18.onnx");
            source.save_py(weights);
            Assert.That(CliRunner.Run(out var log, "export", "--backbone", "resnet18", "--classes", "3", "--resolution", "64",
                "--weights", weights, "--output", onnx), Is.EqualTo(0), log);
            source.eval();
            var x = rand(new long[] { 2, 3, 64, 64 }, generator: new Generator(5));
            using var _ = inference_mode();
            var expected = source.call(x);
            var actual = EfficientCnn.MLNet.OnnxParity.Run(File.ReadAllBytes(onnx), x)["logits"];
            Assert.That((expected - actual).abs().max().item<float>(), Is.LessThan(1e-4));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
