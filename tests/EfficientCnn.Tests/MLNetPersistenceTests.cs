using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.MLNet;
using EfficientCnn.MLNet.Persistence;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;
using Onnx;

namespace EfficientCnn.Tests;

/// <summary>Input row: one image path.</summary>
public sealed class ImagePathRow
{
    /// <summary>Path of the image file.</summary>
    public string ImagePath { get; set; } = "";
}

/// <summary>Output row of the tiny classifier.</summary>
public sealed class ScoredImageRow
{
    /// <summary>Class probabilities.</summary>
    public float[] Score { get; set; } = [];

    /// <summary>Most probable class.</summary>
    public string PredictedLabel { get; set; } = "";
}

/// <summary>
/// The ML.NET round trip: a transformer holding an ONNX network is saved with <c>mlContext.Model.Save</c> into one zip,
/// then loaded by <c>mlContext.Model.Load</c> in a fresh process (this test assembly re-run through its own Main) that
/// must reproduce the predictions exactly.
/// </summary>
public sealed class MLNetPersistenceTests
{
    private static readonly string[] Labels = ["cat", "dog", "bird"];
    private static readonly PreprocessingSpec Spec = new() { Resolution = 32, ResizeMode = ResizeMode.ShorterSideCenterCrop };

    [Test]
    public void EveryDeclaredComponentHasALoaderInTheLoaderAssembly()
    {
        // The build writes the loaders from the [ModelLoader] declarations; a component it missed would save models
        // that Model.Load cannot read back.
        var declared = typeof(OnnxImageTransformer).Assembly.GetTypes()
            .Select(t => (Type: t, Attribute: t.GetCustomAttributes(typeof(ModelLoaderAttribute), false).Cast<ModelLoaderAttribute>().SingleOrDefault()))
            .Where(d => d.Attribute is not null)
            .ToList();
        Assert.That(declared.Select(d => d.Type), Does.Contain(typeof(OnnxImageTransformer)));
        // The LoadableClass attributes hold a null Type argument that reflection will not decode; their signature
        // strings are in the assembly's attribute blobs.
        string image = System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(ModelLoaderAssembly.Instance.Location));
        foreach (var (type, attribute) in declared)
        {
            var loader = ModelLoaderAssembly.Instance.GetType($"{ModelLoaderAssembly.AssemblyName}.{type.Name}Loader");
            Assert.That(loader?.GetMethod("Create")?.ReturnType, Is.EqualTo(type), type.Name);
            Assert.That(image, Does.Contain(attribute!.LoaderSignature), type.Name);
        }
    }

    [Test]
    public void SavedZipLoadsInAFreshProcessWithIdenticalPredictions()
    {
        var ml = new MLContext(seed: 1);
        var paths = WriteImages(5);
        var data = ml.Data.LoadFromEnumerable(paths.Select(p => new ImagePathRow { ImagePath = p }));
        var model = ml.Transforms.ScoreImagesWithOnnx(new OnnxImageModel(TinyOnnx(), Spec, Labels), batchSize: 2).Fit(data);
        var expected = ReadScores(model.Transform(data));

        string dir = TempDir();
        string zip = Path.Combine(dir, "model.zip");
        ml.Model.Save(model, data.Schema, zip);
        using (var archive = ZipFile.OpenRead(zip))
            Assert.That(archive.Entries.Any(e => e.FullName.EndsWith("Model.onnx", StringComparison.Ordinal)), Is.True,
                "the network is stored as a plain ONNX entry in the zip: " + string.Join(", ", archive.Entries.Select(e => e.FullName)));

        // Loading in this process gives back our transformer, batched, with the same outputs.
        var loaded = ml.Model.Load(zip, out var schema);
        Assert.That(schema.GetColumnOrNull("ImagePath"), Is.Not.Null);
        AssertSame(ReadScores(loaded.Transform(data)), expected, "same process");

        // A fresh process: nothing shared but the zip.
        string listFile = Path.Combine(dir, "images.txt");
        File.WriteAllLines(listFile, paths);
        string outFile = Path.Combine(dir, "fresh.txt");
        var (code, output) = RunFreshProcess("mlnet-load", zip, listFile, outFile, "register");
        Assert.That(code, Is.EqualTo(0), output);
        var fresh = File.ReadAllLines(outFile).Select(ParseRow).ToList();
        AssertSame(fresh.Select(f => f.Scores).ToList(), expected.Select(e => e.Scores).ToList(), "fresh process");
        Assert.That(fresh.Select(f => f.Label), Is.EqualTo(expected.Select(e => e.Label)));
        Assert.That(fresh.Select(f => f.Label), Is.All.AnyOf(Labels));
        TestContext.Out.WriteLine(output);
    }

    [Test]
    public void PlainModelLoadWorksInAFreshProcessThatNeverRanLibraryCode()
    {
        // The child process calls mlContext.Model.Load first thing: no EfficientCnn.MLNet code has run, so ML.NET itself
        // must find EfficientCnn.MLNet.ModelLoaders.dll (Assembly.Load by the name in the zip) on disk.
        var ml = new MLContext(seed: 1);
        var paths = WriteImages(3);
        var data = ml.Data.LoadFromEnumerable(paths.Select(p => new ImagePathRow { ImagePath = p }));
        var model = ml.Transforms.ScoreImagesWithOnnx(new OnnxImageModel(TinyOnnx(), Spec, Labels)).Fit(data);
        var expected = ReadScores(model.Transform(data));
        string dir = TempDir();
        string zip = Path.Combine(dir, "model.zip");
        ml.Model.Save(model, data.Schema, zip);
        File.WriteAllLines(Path.Combine(dir, "images.txt"), paths);
        string outFile = Path.Combine(dir, "out.txt");
        var (code, output) = RunFreshProcess("mlnet-load", zip, Path.Combine(dir, "images.txt"), outFile, "no-register");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("EfficientCnn.MLNet was not loaded before Model.Load"), output);
        var fresh = File.ReadAllLines(outFile).Select(ParseRow).ToList();
        AssertSame(fresh.Select(f => f.Scores).ToList(), expected.Select(e => e.Scores).ToList(), "fresh process, plain Model.Load");
        Assert.That(fresh.Select(f => f.Label), Is.EqualTo(expected.Select(e => e.Label)));
    }

    [Test]
    public void ClassifierScoreColumnCarriesMLNetScoreKindAnnotations()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(WriteImages(1).Select(p => new ImagePathRow { ImagePath = p }));
        var schema = ml.Transforms.ScoreImagesWithOnnx(new OnnxImageModel(TinyOnnx(), Spec, Labels)).Fit(data).GetOutputSchema(data.Schema);
        var annotations = schema["Score"].Annotations;
        ReadOnlyMemory<char> kind = default, valueKind = default;
        annotations.GetValue("ScoreColumnKind", ref kind);
        annotations.GetValue("ScoreValueKind", ref valueKind);
        Assert.That(kind.ToString(), Is.EqualTo("MulticlassClassification"));
        Assert.That(valueKind.ToString(), Is.EqualTo("Score"));
        // A featurizer (no labels) is not a score column.
        var features = ml.Transforms.ScoreImagesWithOnnx(new OnnxImageModel(TinyOnnx(), Spec), predictedLabelColumnName: null).Fit(data).GetOutputSchema(data.Schema);
        Assert.That(features["Score"].Annotations.Schema.GetColumnOrNull("ScoreColumnKind"), Is.Null);
    }

    [Test]
    public void BatchedTransformPredictionEngineAndDirectScoringAgree()
    {
        var ml = new MLContext(seed: 1);
        var paths = WriteImages(5);
        var data = ml.Data.LoadFromEnumerable(paths.Select(p => new ImagePathRow { ImagePath = p }));
        var model = ml.Transforms.ScoreImagesWithOnnx(new OnnxImageModel(TinyOnnx(), Spec, Labels), batchSize: 4).Fit(data);
        var batched = ReadScores(model.Transform(data));
        var engine = ml.Model.CreatePredictionEngine<ImagePathRow, ScoredImageRow>(model);
        var direct = model.Score(paths.Select(ImageInput.FromFile).ToList());
        for (int i = 0; i < paths.Length; i++)
        {
            var single = engine.Predict(new ImagePathRow { ImagePath = paths[i] });
            Assert.That(single.Score, Is.EqualTo(batched[i].Scores).Within(1e-5f), $"row {i}: prediction engine vs batched");
            Assert.That(direct[i], Is.EqualTo(batched[i].Scores).Within(1e-5f), $"row {i}: direct vs batched");
            Assert.That(single.PredictedLabel, Is.EqualTo(batched[i].Label));
            Assert.That(batched[i].Scores.Sum(), Is.EqualTo(1f).Within(1e-5f), "softmax output");
        }
        // Different images give different outputs (the network is not constant).
        Assert.That(batched.Select(b => b.Scores[0]).Distinct().Count(), Is.GreaterThan(1));
        // Only pass-through columns requested: no image is decoded (a missing file would otherwise throw).
        var withMissing = ml.Data.LoadFromEnumerable([new ImagePathRow { ImagePath = "/no/such/file.png" }]);
        var column = ml.Data.CreateEnumerable<ImagePathRow>(model.Transform(withMissing), reuseRowObject: false).Single();
        Assert.That(column.ImagePath, Is.EqualTo("/no/such/file.png"));
        var error = Assert.Throws<InvalidDataException>(() => ReadScores(model.Transform(withMissing)));
        Assert.That(error!.Message, Does.Contain("/no/such/file.png").And.Contain("row 0"));
    }

    [Test]
    public void EncodedBytesColumnIsScoredLikePaths()
    {
        var ml = new MLContext(seed: 1);
        var paths = WriteImages(3);
        var rows = paths.Select(p => new BytesRow { Image = File.ReadAllBytes(p) }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.ScoreImagesWithOnnx(new OnnxImageModel(TinyOnnx(), Spec, Labels), inputColumnName: "Image").Fit(data);
        var fromBytes = ReadScores(model.Transform(data));
        var fromPaths = model.Score(paths.Select(ImageInput.FromFile).ToList());
        for (int i = 0; i < paths.Length; i++)
            Assert.That(fromBytes[i].Scores, Is.EqualTo(fromPaths[i]).Within(1e-6f));
    }

    /// <summary>Input row: encoded image bytes.</summary>
    public sealed class BytesRow
    {
        /// <summary>PNG bytes.</summary>
        [VectorType]
        public byte[] Image { get; set; } = [];
    }

    private static List<(float[] Scores, string Label)> ReadScores(IDataView view) =>
        view.Preview(maxRows: 1000).RowView.Select(r =>
        {
            var values = r.Values.ToDictionary(kv => kv.Key, kv => kv.Value);
            var scores = ((VBuffer<float>)values["Score"]).DenseValues().ToArray();
            return (scores, values["PredictedLabel"].ToString()!);
        }).ToList();

    private static void AssertSame(List<(float[] Scores, string Label)> actual, List<(float[] Scores, string Label)> expected, string what)
    {
        AssertSame(actual.Select(a => a.Scores).ToList(), expected.Select(e => e.Scores).ToList(), what);
        Assert.That(actual.Select(a => a.Label), Is.EqualTo(expected.Select(e => e.Label)), what);
    }

    private static void AssertSame(List<float[]> actual, List<float[]> expected, string what)
    {
        Assert.That(actual, Has.Count.EqualTo(expected.Count), what);
        for (int i = 0; i < actual.Count; i++)
            Assert.That(actual[i].Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected[i].Select(BitConverter.SingleToInt32Bits)),
                $"{what}: row {i} differs ({string.Join(" ", actual[i])} vs {string.Join(" ", expected[i])})");
    }

    private static (float[] Scores, string Label) ParseRow(string line)
    {
        var parts = line.Split('\t');
        return (parts[1].Split(' ').Select(s => BitConverter.Int32BitsToSingle(int.Parse(s, CultureInfo.InvariantCulture))).ToArray(), parts[0]);
    }

    /// <summary>Runs this test assembly as a fresh process (see <see cref="FreshProcessProgram"/>).</summary>
    internal static (int Code, string Output) RunFreshProcessPublic(params string[] args) => RunFreshProcess(args);

    /// <summary>The scored row as the fresh process reads it.</summary>
    internal sealed class ScoredImageRowPublic
    {
        /// <summary>Class probabilities.</summary>
        public float[] Score { get; set; } = [];

        /// <summary>Most probable class.</summary>
        public string PredictedLabel { get; set; } = "";
    }

    private static (int Code, string Output) RunFreshProcess(params string[] args)
    {
        string testAssembly = typeof(MLNetPersistenceTests).Assembly.Location;
        string host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(testAssembly);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the fresh process did not finish in 120 s");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "efficientcnn-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string[] WriteImages(int count) =>
        Enumerable.Range(0, count).Select(i => TestImages.WriteTemp(TestImages.Png(40 + 7 * i, 36 + 3 * i, seed: i), ".png")).ToArray();

    /// <summary>
    /// A tiny classifier written with OnnxSharp: Conv(3->4, 3x3, stride 2) -> Relu -> GlobalAveragePool -> Flatten ->
    /// Gemm(4->3), input [N, 3, 32, 32] with a symbolic batch, deterministic weights.
    /// </summary>
    internal static byte[] TinyOnnx()
    {
        var rng = new Random(7);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        TensorProto Init(string name, float[] values, params long[] dims)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.AddRange(dims);
            t.FloatData.AddRange(values);
            return t;
        }
        ValueInfoProto Value(string name, params object[] dims)
        {
            var shape = new TensorShapeProto();
            foreach (var d in dims)
                shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = (int)d });
            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }
        NodeProto Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = op, Name = output };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            node.Attribute.AddRange(attributes);
            return node;
        }
        AttributeProto Ints(string name, params long[] values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(values);
            return a;
        }

        var graph = new GraphProto { Name = "tiny" };
        graph.Input.Add(Value("input", "N", 3, 32, 32));
        graph.Output.Add(Value("logits", "N", 3));
        graph.Initializer.Add(Init("conv_w", Values(4 * 3 * 3 * 3), 4, 3, 3, 3));
        graph.Initializer.Add(Init("conv_b", Values(4), 4));
        graph.Initializer.Add(Init("fc_w", Values(3 * 4), 3, 4));
        graph.Initializer.Add(Init("fc_b", Values(3), 3));
        graph.Node.Add(Node("Conv", ["input", "conv_w", "conv_b"], "conv", Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1)));
        graph.Node.Add(Node("Relu", ["conv"], "relu"));
        graph.Node.Add(Node("GlobalAveragePool", ["relu"], "pool"));
        graph.Node.Add(Node("Flatten", ["pool"], "flat"));
        var gemm = Node("Gemm", ["flat", "fc_w", "fc_b"], "logits");
        gemm.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        graph.Node.Add(gemm);
        var model = new ModelProto { IrVersion = 7, ProducerName = "EfficientCnn.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 13 });
        return model.ToByteArray();
    }
}

/// <summary>
/// Entry point of the test assembly when run as a program (<c>dotnet exec EfficientCnn.Tests.dll ...</c>): the fresh
/// process of the model round-trip tests. Test runners never call it.
/// </summary>
public static class FreshProcessProgram
{
    /// <summary><c>mlnet-load zip imageList outFile register|no-register</c>: loads the zip and writes one line per image.</summary>
    public static int Main(string[] args)
    {
        if (args.Length != 5 || args[0] != "mlnet-load")
        {
            Console.Error.WriteLine("usage: mlnet-load <model.zip> <image-list.txt> <out.txt> register|no-register");
            return 2;
        }
        if (args[4] == "register") RegisterLoaders();
        return LoadAndScore(args[1], args[2], args[3]);
    }

    // Separate methods so the no-register path never executes EfficientCnn.MLNet code.
    private static void RegisterLoaders() => ModelLoaderAssembly.EnsureRegistered();

    private static int LoadAndScore(string zip, string list, string outFile)
    {
        // Proof for the test that nothing of ours ran before ML.NET's Load.
        if (!AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "EfficientCnn.MLNet"))
            Console.WriteLine("EfficientCnn.MLNet was not loaded before Model.Load");
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(zip, out _);
        var rows = File.ReadAllLines(list).Select(p => new ImagePathRow { ImagePath = p });
        var scored = model.Transform(ml.Data.LoadFromEnumerable(rows));
        var lines = ml.Data.CreateEnumerable<ScoredImageRow>(scored, reuseRowObject: false)
            .Select(r => r.PredictedLabel + "\t" + string.Join(" ", r.Score.Select(s => BitConverter.SingleToInt32Bits(s).ToString(CultureInfo.InvariantCulture))));
        File.WriteAllLines(outFile, lines);
        Console.WriteLine($"loaded {model.GetType().Name} from {zip} in a fresh process");
        return 0;
    }
}
