using System.Diagnostics;
using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.MLNet;
using Google.Protobuf;
using NUnit.Framework;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

public sealed class OnnxTests
{
    private static string RealResNet18Path =>
        Path.Combine(TestContext.CurrentContext.TestDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    private static void RandomizeBatchNorm(nn.Module model, int seed = 1) => OnnxAssert.RandomizeBatchNorm(model, new Generator((ulong)seed));

    private static Tensor Batch(int n, int size, int seed = 0) =>
        rand(new long[] { n, 3, size, size }, generator: new Generator((ulong)seed)) * 2 - 1;

    private static void AssertClose(Tensor reference, Tensor actual, string what) => OnnxAssert.Close(reference, actual, what);

    private static (Tensor Features, Tensor Logits) Torch(Backbone model, Tensor x)
    {
        model.eval();
        using var _ = inference_mode();
        var f = model.ForwardFeatures(x);
        return (f, model.Head is null ? f : model.call(x));
    }

    private static IEnumerable<string> AllVariants() => BackboneRegistry.Names;

    /// <summary>
    /// Every registered variant (random weights and BN statistics, eval mode, its smallest input plus 8 px in width)
    /// exports, runs in ONNX Runtime with the same features and logits as TorchSharp, and imports back into a
    /// TorchSharp module that computes the same logits.
    /// </summary>
    [TestCaseSource(nameof(AllVariants))]
    public void EveryZooVariantExportsWithParityAndImportsBack(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        using var model = BackboneRegistry.Create(name, new BackboneOptions { NumClasses = 5 });
        RandomizeBatchNorm(model);
        var sw = Stopwatch.StartNew();
        var bytes = OnnxExporter.ExportBytes(model, new OnnxExportOptions { VariantName = name });
        long exportMs = sw.ElapsedMilliseconds;
        var x = rand(new long[] { 2, 3, model.MinInputSize, model.MinInputSize + 8 }, generator: new Generator(7)) * 2 - 1;
        var (f, y) = Torch(model, x);
        var ort = OnnxParity.Run(bytes, x);
        AssertClose(ort["features"], f, $"{name} features");
        AssertClose(ort["logits"], y, $"{name} logits");

        sw.Restart();
        using var imported = OnnxImportedModule.Load(bytes);
        long importMs = sw.ElapsedMilliseconds;
        imported.eval();
        using (inference_mode())
            AssertClose(ort["logits"], imported.call(x), $"{name} imported logits");
        TestContext.Out.WriteLine($"{name}: export {exportMs} ms, import {importMs} ms, {bytes.Length / 1e6:F1} MB");
    }

    [TestCase("resnet18", true)]
    [TestCase("resnet18", false)]
    [TestCase("resnet50", true)]
    public void ResNetExportMatchesOnnxRuntimeWithDynamicBatch(string name, bool foldBn)
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        using var model = BackboneRegistry.Create(name, new BackboneOptions { NumClasses = 10 });
        RandomizeBatchNorm(model);
        var sw = Stopwatch.StartNew();
        var bytes = OnnxExporter.ExportBytes(model, new OnnxExportOptions { VariantName = name, FoldBatchNorm = foldBn });
        TestContext.Out.WriteLine($"{name} export {sw.ElapsedMilliseconds} ms, {bytes.Length / 1e6:F1} MB, fold={foldBn}");
        var info = OnnxModelInfo.From(ModelProto.Parser.ParseFrom(bytes));
        Assert.That(info.Opset, Is.EqualTo(17));
        Assert.That(info.Inputs.Single().Dims, Is.EqualTo(new[] { "N", "3", "H", "W" }));
        Assert.That(info.Outputs.Select(o => o.Name), Is.EqualTo(new[] { "features", "logits" }));
        Assert.That(info.Operators.ContainsKey("BatchNormalization"), Is.EqualTo(!foldBn));

        foreach (int n in new[] { 1, 3 })
        {
            var x = Batch(n, 64, seed: n);
            var (f, y) = Torch(model, x);
            var ort = OnnxParity.Run(bytes, x);
            Assert.That(ort["features"].shape, Is.EqualTo(new long[] { n, model.FeatureDim }));
            Assert.That(ort["logits"].shape, Is.EqualTo(new long[] { n, 10 }));
            AssertClose(ort["features"], f, $"{name} features batch {n}");
            AssertClose(ort["logits"], y, $"{name} logits batch {n}");
        }
    }

    [Test]
    public void ExportImportExportIsStable()
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        using var model = BackboneRegistry.Create("resnet18", new BackboneOptions { NumClasses = 7 });
        RandomizeBatchNorm(model);
        var first = OnnxExporter.ExportBytes(model, new OnnxExportOptions { VariantName = "resnet18", FoldBatchNorm = false });
        var sw = Stopwatch.StartNew();
        using var imported = OnnxImportedModule.Load(first);
        TestContext.Out.WriteLine($"resnet18 import {sw.ElapsedMilliseconds} ms");
        Assert.That(imported.FeatureDim, Is.EqualTo(512));
        Assert.That(imported.NumClasses, Is.EqualTo(7));
        Assert.That(imported.Head, Is.InstanceOf<Linear>());

        var x = Batch(2, 64);
        var (f0, y0) = Torch(model, x);
        var (f1, y1) = Torch(imported, x);
        AssertClose(f0, f1, "import features");
        AssertClose(y0, y1, "import logits");

        var second = OnnxExporter.ExportBytes(imported);
        var ort1 = OnnxParity.Run(first, x);
        var ort2 = OnnxParity.Run(second, x);
        AssertClose(ort1["features"], ort2["features"], "re-export features");
        AssertClose(ort1["logits"], ort2["logits"], "re-export logits");
        // The metadata survives the round trip.
        Assert.That(OnnxImportedModule.Load(second).Metadata[OnnxMetadataKeys.Variant], Is.EqualTo("resnet18"));
    }

    [Test]
    public void ImportedModuleTrainsAndReExportReflectsTheStep()
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        using var model = BackboneRegistry.Create("resnet18", new BackboneOptions { NumClasses = 3 });
        RandomizeBatchNorm(model);
        var bytes = OnnxExporter.ExportBytes(model, new OnnxExportOptions { FoldBatchNorm = false });
        using var imported = OnnxImportedModule.Load(bytes);
        var before = imported.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        Assert.That(imported.parameters().All(p => p.requires_grad));
        Assert.That(imported.named_buffers().Any(b => b.name.Contains("running_mean")), "BN running stats are buffers");

        var x = Batch(4, 64);
        var labels = tensor(new long[] { 0, 1, 2, 0 });
        imported.train();
        var opt = optim.SGD(imported.parameters(), 0.05);
        opt.zero_grad();
        var loss = nn.functional.cross_entropy(imported.call(x), labels);
        loss.backward();
        opt.step();

        var after = imported.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach());
        Assert.That(after.Count(p => !p.Value.allclose(before[p.Key], rtol: 0, atol: 0)), Is.GreaterThan(after.Count / 2), "most parameters moved");

        var reExported = OnnxExporter.ExportBytes(imported);
        var ortBefore = OnnxParity.Run(bytes, x);
        var ortAfter = OnnxParity.Run(reExported, x);
        var (_, y) = Torch(imported, x);
        Assert.That(ortAfter["logits"].allclose(ortBefore["logits"], rtol: 0, atol: 1e-4), Is.False, "the step changed the exported model");
        AssertClose(ortAfter["logits"], y, "re-exported after a step");
    }

    [Test]
    public void RealResNet18FromNuGetMatchesOnnxRuntimeAndFineTunes()
    {
        Assert.That(File.Exists(RealResNet18Path), Is.True, RealResNet18Path);
        using var scope = NewDisposeScope();
        var sw = Stopwatch.StartNew();
        using var imported = OnnxImportedModule.Load(RealResNet18Path);
        TestContext.Out.WriteLine($"ResNet18.onnx (opset {imported.SourceOpset}) import {sw.ElapsedMilliseconds} ms; ops {string.Join(", ", imported.Operators.Select(o => $"{o.Key}={o.Value}"))}");
        Assert.That(imported.FeatureTensorName, Is.EqualTo("Pooling395_Output_0"));
        Assert.That(imported.FeatureDim, Is.EqualTo(512));
        Assert.That(imported.Head, Is.Null);
        Assert.That((imported.InputHeight, imported.InputWidth), Is.EqualTo(((long?)224, (long?)224)));

        // The file's batch is fixed to 1: ORT runs image by image, the import runs the batch at once.
        var x = Batch(2, 224) * 50;   // the model expects mean-subtracted 0-255 pixels
        var model = OnnxModelReader.Read(RealResNet18Path);
        var ort = OnnxParity.Run(model.ToByteArray(), x);
        var (f, _) = Torch(imported, x);
        AssertClose(ort["Pooling395_Output_0"], f, "ResNet18.onnx features");

        // Re-exported with a symbolic batch, it runs a batch of 2 in ORT.
        var reExported = OnnxExporter.ExportBytes(imported);
        Assert.That(OnnxModelInfo.From(ModelProto.Parser.ParseFrom(reExported)).Inputs[0].Dims, Is.EqualTo(new[] { "N", "3", "224", "224" }));
        AssertClose(OnnxParity.Run(reExported, x)["features"], f, "ResNet18.onnx re-exported");

        // Fine-tunable: one step on a linear probe plus the backbone changes the features.
        imported.train();
        var probe = nn.Linear(512, 2);
        var opt = optim.SGD(imported.parameters().Concat(probe.parameters()), 1e-3);
        var loss = nn.functional.cross_entropy(probe.call(imported.ForwardFeatures(x)), tensor(new long[] { 0, 1 }));
        loss.backward();
        opt.step();
        var (f2, _) = Torch(imported, x);
        Assert.That((f2 - f).abs().max().item<float>(), Is.GreaterThan(1e-4f), "one step changed the output");
    }

    [Test]
    public void StandardModulesAndSqueezeExcitationMatchOnnxRuntimeAndImport()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new MixedNet();
        RandomizeBatchNorm(model);
        var x = Batch(2, 37);   // odd size exercises ceil_mode
        var (f, y) = Torch(model, x);
        foreach (bool fold in new[] { true, false })
        {
            var bytes = OnnxExporter.ExportBytes(model, new OnnxExportOptions { FoldBatchNorm = fold });
            var ort = OnnxParity.Run(bytes, x);
            AssertClose(ort["features"], f, $"mixed features fold={fold}");
            AssertClose(ort["logits"], y, $"mixed logits fold={fold}");
            using var imported = OnnxImportedModule.Load(bytes);
            var (fi, yi) = Torch(imported, x);
            AssertClose(ort["features"], fi, $"mixed import features fold={fold}");
            AssertClose(ort["logits"], yi, $"mixed import logits fold={fold}");
        }
    }

    [Test]
    public void MetadataRoundTripsPreprocessingAndLabels()
    {
        using var model = BackboneRegistry.Create("resnet18", new BackboneOptions { NumClasses = 2 });
        var spec = new PreprocessingSpec { Resolution = 160, ResizeMode = ResizeMode.Stretch, Mean = [0.5f, 0.5f, 0.5f], Std = [0.25f, 0.25f, 0.25f] };
        var bytes = OnnxExporter.ExportBytes(model, new OnnxExportOptions
        {
            VariantName = "resnet18", Preprocessing = spec, ClassLabels = ["cat", "dog"], WeightsProvenance = "random init (test)",
            FixedSpatialSize = true,
        });
        using var imported = OnnxImportedModule.Load(bytes);
        Assert.That(imported.Preprocessing, Is.EqualTo(spec));
        Assert.That(imported.ClassLabels, Is.EqualTo(new[] { "cat", "dog" }));
        Assert.That(imported.Metadata[OnnxMetadataKeys.Weights], Is.EqualTo("random init (test)"));
        Assert.That(imported.Metadata[OnnxMetadataKeys.FeatureDim], Is.EqualTo("512"));
        Assert.That(imported.Metadata[PreprocessingSpec.KeyChannelOrder], Is.EqualTo("RGB"));
        Assert.That(imported.InputHeight, Is.EqualTo(160));
        Assert.Throws<ArgumentException>(() => OnnxExporter.ExportBytes(model, new OnnxExportOptions { ClassLabels = ["one"] }));
    }

    [Test]
    public void CutAtNamedTensorAndAtomicFileExport()
    {
        using var model = BackboneRegistry.Create("resnet18", new BackboneOptions { NumClasses = 4 });
        string dir = Path.Combine(Path.GetTempPath(), "onnx-test-" + Guid.NewGuid().ToString("N"));
        string path = Path.Combine(dir, "r18.onnx");
        try
        {
            OnnxExporter.ExportFile(model, path);
            Assert.That(Directory.GetFiles(dir), Is.EqualTo(new[] { path }), "no temporary file left");
            var graph = OnnxModelReader.Read(path).Graph;
            string layer3 = graph.Node.Last(n => n.Name.StartsWith("layer3", StringComparison.Ordinal)).Output[0];
            using var cut = OnnxImportedModule.Load(path, new OnnxImportOptions { CutAt = layer3, ProbeResolution = 64 });
            Assert.That(cut.Head, Is.Null);
            Assert.That(cut.FeatureDim, Is.EqualTo(256 * 4 * 4), "layer3 at 64 px: 256 x 4 x 4");
            Assert.That(cut.Operators.ContainsKey("Gemm"), Is.False);
            var ex = Assert.Throws<ArgumentException>(() => OnnxImportedModule.Load(path, new OnnxImportOptions { CutAt = "no_such_node" }));
            Assert.That(ex!.Message, Does.Contain("no_such_node"));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Test]
    public void BadFilesGiveClearErrors()
    {
        string dir = Path.Combine(Path.GetTempPath(), "onnx-bad-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string missing = Path.Combine(dir, "missing.onnx");
            var nf = Assert.Throws<FileNotFoundException>(() => OnnxImportedModule.Load(missing));
            Assert.That(nf!.Message, Does.Contain(missing));

            string empty = Path.Combine(dir, "empty.onnx");
            File.WriteAllBytes(empty, []);
            Assert.That(Assert.Throws<InvalidDataException>(() => OnnxImportedModule.Load(empty))!.Message, Does.Contain("empty"));

            string text = Path.Combine(dir, "text.onnx");
            File.WriteAllText(text, "this is not an ONNX model, just some text that happens to be here\n");
            Assert.Throws<InvalidDataException>(() => OnnxImportedModule.Load(text));

            string truncated = Path.Combine(dir, "truncated.onnx");
            var real = File.ReadAllBytes(RealResNet18Path);
            File.WriteAllBytes(truncated, real[..(real.Length / 2)]);
            Assert.Throws<InvalidDataException>(() => OnnxImportedModule.Load(truncated));

            var gray = TinyModel("Relu", channels: 1);
            var ex = Assert.Throws<InvalidDataException>(() => OnnxImportedModule.Load(gray.ToByteArray()));
            Assert.That(ex!.Message, Does.Contain("[N,3,H,W]"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void UnsupportedOperatorNamesOperatorNodeAndSupportedList()
    {
        var model = TinyModel("LRN");
        var ex = Assert.Throws<NotSupportedException>(() => OnnxImportedModule.Load(model.ToByteArray()));
        Assert.That(ex!.Message, Does.Contain("'LRN'").And.Contain("'my_lrn'").And.Contain("Conv").And.Contain("GlobalAveragePool"));
    }

    /// <summary>
    /// An opset-10 graph with a fixed batch of 1 and the old attribute forms (Clip min/max, Pad pads, Squeeze/Unsqueeze
    /// axes, Softmax's 2-D semantics), SAME_UPPER padding, asymmetric AveragePool padding, a Reshape to [1,-1] and a Gemm
    /// head with alpha/beta: the import batches, matches ORT image by image, and re-exports to opset 17.
    /// </summary>
    [Test]
    public void OldOpsetFixedBatchGraphImportsBatchesAndReExports()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var g = new GraphProto { Name = "old" };
        g.Input.Add(ValueInfo("x", "1", "3", "15", "15"));
        g.Output.Add(ValueInfo("y", "1", "5"));
        void Init(string name, Tensor t) => g.Initializer.Add(OnnxTensors.ToProto(t, name));
        Init("w", randn(4, 3, 3, 3) * 0.3f);
        Init("b", randn(4) * 0.1f);
        Init("shape", tensor(new long[] { 1, -1 }));
        Init("fcw", randn(5, 4));
        Init("fcb", randn(5));
        void Node(string op, string[] ins, string output, params AttributeProto[] attrs)
        {
            var n = new NodeProto { OpType = op, Name = op.ToLowerInvariant() + "_" + g.Node.Count };
            n.Input.AddRange(ins);
            n.Output.Add(output);
            n.Attribute.AddRange(attrs);
            g.Node.Add(n);
        }
        Node("Conv", ["x", "w", "b"], "c", OnnxTensors.Attr("auto_pad", "SAME_UPPER"), OnnxTensors.Attr("strides", new long[] { 2, 2 }));
        Node("Clip", ["c"], "r", OnnxTensors.Attr("min", 0f), OnnxTensors.Attr("max", 0.8f));
        Node("Pad", ["r"], "p", OnnxTensors.Attr("pads", new long[] { 0, 0, 1, 0, 0, 0, 0, 2 }), OnnxTensors.Attr("value", 0.5f));
        Node("AveragePool", ["p"], "a", OnnxTensors.Attr("kernel_shape", new long[] { 3, 3 }), OnnxTensors.Attr("strides", new long[] { 2, 2 }),
            OnnxTensors.Attr("pads", new long[] { 1, 0, 0, 1 }));
        Node("GlobalAveragePool", ["a"], "gap");
        Node("Squeeze", ["gap"], "sq", OnnxTensors.Attr("axes", new long[] { 2, 3 }));
        Node("Unsqueeze", ["sq"], "un", OnnxTensors.Attr("axes", new long[] { 2 }));
        Node("Reshape", ["un", "shape"], "flat");
        Node("Softmax", ["flat"], "soft", OnnxTensors.Attr("axis", 1L));
        Node("Gemm", ["soft", "fcw", "fcb"], "y", OnnxTensors.Attr("transB", 1L), OnnxTensors.Attr("alpha", 0.5f), OnnxTensors.Attr("beta", 2f));
        var model = new ModelProto { IrVersion = 5, Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 10 });
        var bytes = model.ToByteArray();

        using var imported = OnnxImportedModule.Load(bytes);
        Assert.That(imported.FeatureTensorName, Is.EqualTo("soft"));
        Assert.That((imported.FeatureDim, imported.NumClasses, imported.HeadOutputName), Is.EqualTo((4, 5, "y")));
        var x = Batch(3, 15);
        var ort = OnnxParity.Run(WithOutputs(model, "soft"), x);   // image by image: the file's batch is 1
        var (f, y) = Torch(imported, x);
        AssertClose(ort["soft"], f, "old-opset features");
        AssertClose(ort["y"], y, "old-opset logits");

        var reExported = OnnxExporter.ExportBytes(imported);
        var info = OnnxModelInfo.From(ModelProto.Parser.ParseFrom(reExported));
        Assert.That(info.Inputs[0].Dims, Is.EqualTo(new[] { "N", "3", "15", "15" }));
        var ort2 = OnnxParity.Run(reExported, x);
        AssertClose(ort2["features"], f, "re-exported old-opset features");
        AssertClose(ort2["logits"], y, "re-exported old-opset logits");
    }

    private static byte[] WithOutputs(ModelProto model, params string[] names) => OnnxParity.WithOutputs(model, names);

    [Test]
    public void BackboneWithoutExportNamesItsClass()
    {
        using var model = new NoExportNet();
        var ex = Assert.Throws<NotSupportedException>(() => OnnxExporter.Export(model));
        Assert.That(ex!.Message, Does.Contain(nameof(NoExportNet)));
    }

    [Test]
    public void PreprocessingSpecMetadataRoundTrip()
    {
        var spec = PreprocessingSpec.ImageNet(192);
        var back = PreprocessingSpec.FromMetadata(spec.ToMetadata().ToDictionary());
        Assert.That(back, Is.EqualTo(spec));
        Assert.That(PreprocessingSpec.FromMetadata(new Dictionary<string, string>()), Is.Null);
    }

    /// <summary>Timings for the report (explicit: slow and machine-dependent). Prints, asserts only parity.</summary>
    [Test, Explicit("benchmark"), Category("Benchmark")]
    public void BenchmarkExportImportAndBatchNormFolding()
    {
        foreach (var name in new[] { "resnet18", "resnet50" })
        {
            using var scope = NewDisposeScope();
            manual_seed(0);
            using var model = BackboneRegistry.Create(name);
            RandomizeBatchNorm(model);
            model.eval();
            byte[] folded = [], kept = [];
            var exportMs = Enumerable.Range(0, 3).Select(_ =>
            {
                var sw = Stopwatch.StartNew();
                folded = OnnxExporter.ExportBytes(model);
                return sw.Elapsed.TotalMilliseconds;
            }).ToList();
            kept = OnnxExporter.ExportBytes(model, new OnnxExportOptions { FoldBatchNorm = false });
            var importMs = Enumerable.Range(0, 3).Select(_ =>
            {
                var sw = Stopwatch.StartNew();
                using var m = OnnxImportedModule.Load(folded);
                return sw.Elapsed.TotalMilliseconds;
            }).ToList();
            var x = Batch(2, 224);
            var (f, y) = Torch(model, x);
            var ort = OnnxParity.Run(folded, x);
            var (df, mf) = OnnxParity.Compare(ort["features"], f);
            var (dy, my) = OnnxParity.Compare(ort["logits"], y);
            TestContext.Out.WriteLine($"{name}: export {exportMs.Min():F0} ms (runs {string.Join("/", exportMs.Select(v => v.ToString("F0")))}), " +
                $"import {importMs.Min():F0} ms (runs {string.Join("/", importMs.Select(v => v.ToString("F0")))}), 224px |Δ| features {df:E2} (max {mf:F2}), logits {dy:E2} (max {my:F2})");

            foreach (var level in new[] { Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL })
            {
                var sessions = new[] { folded, kept }.Select(bytes =>
                {
                    var o = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 2, GraphOptimizationLevel = level };
                    return new Microsoft.ML.OnnxRuntime.InferenceSession(bytes, o);
                }).ToArray();
                var one = Batch(1, 224);
                var times = new[] { new List<double>(), new List<double>() };
                for (int rep = 0; rep < 12; rep++)
                    for (int s = 0; s < 2; s++)
                    {
                        var sw = Stopwatch.StartNew();
                        OnnxParity.Run(sessions[s], one);
                        if (rep >= 2) times[s].Add(sw.Elapsed.TotalMilliseconds);
                    }
                double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }
                TestContext.Out.WriteLine($"  ORT {level}, batch 1, 224 px, 2 threads: folded {Median(times[0]):F1} ms, BN kept {Median(times[1]):F1} ms (median of 10, interleaved)");
                foreach (var session in sessions) session.Dispose();
            }
            Assert.That(df, Is.LessThanOrEqualTo(OnnxParity.Tolerance(mf)));
            Assert.That(dy, Is.LessThanOrEqualTo(OnnxParity.Tolerance(my)));
        }
    }

    [Test]
    public void CliExportInspectAndCheckOnnx()
    {
        string dir = Path.Combine(Path.GetTempPath(), "onnx-cli-" + Guid.NewGuid().ToString("N"));
        string path = Path.Combine(dir, "r18.onnx");
        try
        {
            Assert.That(Cli(out _, "export", "--backbone", "resnet18", "--classes", "3", "--resolution", "64", "--output", path), Is.EqualTo(0));
            Assert.That(Cli(out var inspect, "inspect", path, "--json"), Is.EqualTo(0));
            using (var doc = System.Text.Json.JsonDocument.Parse(inspect))
            {
                Assert.That(doc.RootElement.GetProperty("opset").GetInt64(), Is.EqualTo(17));
                Assert.That(doc.RootElement.GetProperty("operators").GetProperty("Conv").GetInt32(), Is.EqualTo(20));
                Assert.That(doc.RootElement.GetProperty("metadata").GetProperty("efficientcnn.input_size").GetString(), Is.EqualTo("64"));
            }
            Assert.That(Cli(out var check, "check-onnx", path, "--json"), Is.EqualTo(0), check);
            using (var doc = System.Text.Json.JsonDocument.Parse(check))
            {
                Assert.That(doc.RootElement.GetProperty("maxAbsDiff").GetDouble(), Is.LessThan(1e-4));
                Assert.That(doc.RootElement.GetProperty("outputs").GetArrayLength(), Is.EqualTo(2));
                Assert.That(doc.RootElement.GetProperty("ops").GetProperty("Conv").GetInt32(), Is.EqualTo(20));
            }
            Assert.That(Cli(out var bad, "check-onnx", Path.Combine(dir, "missing.onnx"), "--json"), Is.EqualTo(1));
            Assert.That(bad, Does.Contain("missing.onnx"));
            Assert.That(Cli(out _, "export", "--backbone", "nope", "--output", path), Is.EqualTo(1));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    private static int Cli(out string stdout, params string[] args) => CliRunner.Run(out stdout, args);

    /// <summary>Input [N,C,H,W] → (op) → GlobalAveragePool → output; the op node is named my_{op}.</summary>
    private static ModelProto TinyModel(string op, int channels = 3)
    {
        var g = new GraphProto { Name = "tiny" };
        g.Input.Add(ValueInfo("x", "N", channels.ToString(), "8", "8"));
        g.Output.Add(ValueInfo("y", "N", channels.ToString(), "1", "1"));
        var n1 = new NodeProto { OpType = op, Name = "my_" + op.ToLowerInvariant() };
        n1.Input.Add("x");
        n1.Output.Add("h");
        if (op == "LRN") n1.Attribute.Add(OnnxTensors.Attr("size", 3L));
        var n2 = new NodeProto { OpType = "GlobalAveragePool", Name = "gap" };
        n2.Input.Add("h");
        n2.Output.Add("y");
        g.Node.Add(n1);
        g.Node.Add(n2);
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Version = 17 });
        return m;
    }

    private static ValueInfoProto ValueInfo(string name, params string[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(long.TryParse(d, out var v) ? new TensorShapeProto.Types.Dimension { DimValue = v } : new TensorShapeProto.Types.Dimension { DimParam = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }

    /// <summary>A small backbone built only from standard modules and SqueezeExcitation, to test the builder's mappings.</summary>
    private sealed class MixedNet : Backbone
    {
        private readonly Sequential features;
        private readonly Sequential classifier;

        public MixedNet() : base(nameof(MixedNet), 5)
        {
            features = nn.Sequential(
                ("0", ConvNormActivation.Create(3, 8, 3, 2, activation: Activation.ReLU6)),
                ("1", nn.MaxPool2d(3, stride: 2, padding: 1, ceil_mode: true)),
                ("2", ConvNormActivation.Create(8, 8, 3, 1, groups: 8, activation: Activation.SiLU)),
                ("3", new SqueezeExcitation(8, 4)),
                ("4", ConvNormActivation.Create(8, 16, 1, activation: Activation.GELU)),
                ("5", nn.Hardswish()),
                ("6", nn.AvgPool2d(3, stride: 2, ceil_mode: true, count_include_pad: false)),
                ("7", nn.Conv2d(16, 16, 3, padding: 1, bias: true)),
                ("8", nn.BatchNorm2d(16)),
                ("9", nn.LeakyReLU(0.1)),
                ("10", nn.Sigmoid()),
                ("11", nn.AdaptiveAvgPool2d(1)),
                ("12", nn.Flatten()));
            classifier = TorchvisionLayout.DropoutLinear(16, 5, 0.2);
            RegisterComponents();
        }

        public override int FeatureDim => 16;
        public override nn.Module<Tensor, Tensor>? Head => classifier;
        public override IReadOnlyList<nn.Module> Stages => [features];
        public override int MinInputSize => 8;
        protected override Tensor ExtractFeatures(Tensor input) => features.call(input);
        protected internal override string ExportFeatures(OnnxGraphBuilder g, string input) => g.Export(features, input);
    }

    private sealed class NoExportNet : Backbone
    {
        private readonly Conv2d conv = nn.Conv2d(3, 4, 3);

        public NoExportNet() : base(nameof(NoExportNet), 0) => RegisterComponents();

        public override int FeatureDim => 4;
        public override nn.Module<Tensor, Tensor>? Head => null;
        public override IReadOnlyList<nn.Module> Stages => [conv];
        protected override Tensor ExtractFeatures(Tensor input) => conv.call(input).mean([2, 3]);
    }
}
