using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using EfficientCnn.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>The Model Builder-style commands: train, evaluate, predict, on generated stripes at 32 px.</summary>
public sealed class CliTrainTests
{
    private static readonly string[] Fast = ["--backbone", "mobilenet_v2_0.35", "--resolution", "32", "--batch-size", "8"];
    private string folder = "";
    private string data = "";
    private string model = "";

    /// <summary>One model for the evaluate and predict tests, trained on stripes plus one corrupt file.</summary>
    [OneTimeSetUp]
    public void TrainOnce()
    {
        folder = TrainingFixtures.TempFolder("cli-train");
        data = TrainingFixtures.WriteStripes(Path.Combine(folder, "data"), 8, 32);
        File.WriteAllText(Path.Combine(data, "vertical", "corrupt.png"), "not a png");
        model = Path.Combine(folder, "model.zip");
        int code = CliRunner.Run(out var output, ["train", "--data", data, "--output", model, "--epochs", "1", .. Fast]);
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(Squash(output), Does.Contain("skipped1unreadable"), "the corrupt training image is skipped and reported");
        Assert.That(output, Does.Contain("epoch   1"), "one line per epoch");
    }

    /// <summary>Without whitespace: the test console wraps lines at 80 columns.</summary>
    private static string Squash(string text) => string.Concat(text.Where(c => !char.IsWhiteSpace(c)));

    [OneTimeTearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    private string Fresh(string name)
    {
        string dir = Path.Combine(folder, name + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Test]
    public void TrainedZipLoadsInMLNetWithImagePathInAndClassNameOut()
    {
        var ml = new MLContext(0);
        var loaded = ml.Model.Load(model, out var schema);
        Assert.That(schema.Select(c => c.Name), Is.EqualTo(new[] { "ImagePath" }));
        var images = Directory.GetFiles(Path.Combine(data, "horizontal"), "*.png").Take(3)
            .Select(p => new LabeledImageRow { ImagePath = p }).ToArray();
        var scored = loaded.Transform(ml.Data.LoadFromEnumerable(images));
        Assert.That(scored.Schema["PredictedLabel"].Type, Is.EqualTo(TextDataViewType.Instance));
        var labels = scored.GetColumn<string>("PredictedLabel").ToArray();
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        Assert.That(labels, Has.Length.EqualTo(3).And.All.AnyOf("horizontal", "vertical"));
        for (int i = 0; i < 3; i++)
        {
            Assert.That(scores[i].Sum(), Is.EqualTo(1).Within(1e-4), "Score holds probabilities");
            Assert.That(labels[i], Is.EqualTo(scores[i][0] >= scores[i][1] ? "horizontal" : "vertical"), "PredictedLabel names the arg max");
        }
    }

    [Test]
    public void EvaluateReportWritesThePicturesAndThePage()
    {
        string report = Path.Combine(Fresh("report"), "out");
        int code = CliRunner.Run(out var output, "evaluate", "--model", model, "--data", data, "--report", report);
        Assert.That(code, Is.EqualTo(0), output);
        string html = File.ReadAllText(Path.Combine(report, "index.html"));
        foreach (var png in new[] { "confusion_matrix.png", "per_class.png" })
        {
            Assert.That(File.Exists(Path.Combine(report, png)), Is.True, png);
            Assert.That(html, Does.Contain(png));
        }
        Assert.That(html, Does.Contain("horizontal").And.Contain("vertical"));
    }

    [Test]
    public void EvaluateJsonHoldsTheMetricsOfTheCsvSplit()
    {
        // A CSV with a split column: only the 'test' rows count (three per class).
        string csv = Path.Combine(Fresh("csv"), "split.csv");
        var rows = new[] { "horizontal", "vertical" }.SelectMany(c => Directory.GetFiles(Path.Combine(data, c), "*_0*.png").Order()
            .Select((p, i) => $"{p},{c},{(i < 3 ? "test" : "train")}"));
        File.WriteAllLines(csv, ["path,label,split", .. rows]);
        int code = CliRunner.Run(out var output, "evaluate", "--model", model, "--data", csv, "--json");
        Assert.That(code, Is.EqualTo(0), output);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        foreach (var key in new[] { "microAccuracy", "macroAccuracy", "logLoss", "imagesPerSecond", "perClass", "confusionMatrix" })
            Assert.That(root.TryGetProperty(key, out _), Is.True, key);
        Assert.That(root.GetProperty("images").GetInt32(), Is.EqualTo(6));
        var matrix = root.GetProperty("confusionMatrix").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
        Assert.That(matrix.Sum(r => r.Sum()), Is.EqualTo(6));
        Assert.That(matrix.Select(r => r.Sum()), Is.EqualTo(new long[] { 3, 3 }), "rows are the true classes");
        double diagonal = matrix[0][0] + matrix[1][1];
        Assert.That(root.GetProperty("microAccuracy").GetDouble(), Is.EqualTo(diagonal / 6).Within(1e-12));
        Assert.That(root.GetProperty("macroAccuracy").GetDouble(), Is.EqualTo((matrix[0][0] / 3.0 + matrix[1][1] / 3.0) / 2).Within(1e-12));
        Assert.That(root.GetProperty("logLoss").GetDouble(), Is.GreaterThan(0));
        Assert.That(root.GetProperty("imagesPerSecond").GetDouble(), Is.GreaterThan(0));
        var perClass = root.GetProperty("perClass").EnumerateArray().ToArray();
        Assert.That(perClass.Select(c => c.GetProperty("support").GetInt32()), Is.EqualTo(new[] { 3, 3 }));
        Assert.That(perClass[0].GetProperty("recall").GetDouble(), Is.EqualTo(matrix[0][0] / 3.0).Within(1e-12));
    }

    [Test]
    public void PredictWritesOneRowPerReadableImageAndReportsTheCorruptOne()
    {
        string csv = Path.Combine(Fresh("predict"), "preds.csv");
        int code = CliRunner.Run(out var output, "predict", "--model", model, "--input", data, "--output", csv, "--batch-size", "5");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(Squash(output), Does.Contain("corrupt.png").And.Contain("images/s").And.Contain("1unreadable"));
        var lines = File.ReadAllLines(csv);
        Assert.That(lines[0], Is.EqualTo("path,predictedLabel,score"));
        Assert.That(lines, Has.Length.EqualTo(1 + 16), "one row per readable image");
        foreach (var fields in lines.Skip(1).Select(l => l.Split(',')))
        {
            Assert.That(File.Exists(fields[0]), Is.True, fields[0]);
            Assert.That(fields[1], Is.AnyOf("horizontal", "vertical"));
            Assert.That(double.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture), Is.InRange(0.5, 1.0), "the top of two probabilities");
        }
    }

    [Test]
    public void PredictsQuotedCsvReadsBackWithTheDatasetReader()
    {
        // predict quotes a path holding a comma or quotes (RFC 4180); every CSV reader of ours must read it back whole.
        string dir = Fresh("quoted");
        string odd = Path.Combine(dir, "a, \"b\".png");
        File.Copy(Directory.GetFiles(Path.Combine(data, "vertical"), "vertical_*.png")[0], odd);
        string csv = Path.Combine(dir, "preds.csv");
        int code = CliRunner.Run(out var output, "predict", "--model", model, "--input", odd, "--output", csv);
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(File.ReadAllLines(csv)[1], Does.StartWith("\"").And.Contain("a, \"\"b\"\".png\","), "written quoted");
        var table = EfficientCnn.Backbones.Training.CsvTable.Read(csv);
        Assert.That(table.Header, Is.EqualTo(new[] { "path", "predictedLabel", "score" }));
        Assert.That(table.Rows.Single().Fields[0], Is.EqualTo(odd));
        // The same rows as training data: predictedLabel renamed to label.
        string asData = Path.Combine(dir, "as-data.csv");
        File.WriteAllText(asData, File.ReadAllText(csv).Replace("predictedLabel", "label"));
        var dataset = EfficientCnn.Backbones.Training.ImageDataset.FromCsv(asData);
        Assert.That(dataset.Items.Single().Image.Path, Is.EqualTo(odd));
        Assert.That(dataset.Classes.Single(), Is.AnyOf("horizontal", "vertical"));
    }

    [Test]
    public void PredictFailsWhenNoInputCanBeRead()
    {
        string dir = Fresh("unreadable");
        File.WriteAllText(Path.Combine(dir, "a.png"), "not a png");
        File.WriteAllText(Path.Combine(dir, "b.jpg"), "not a jpeg either");
        string csv = Path.Combine(dir, "out", "preds.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(csv)!);
        int code = CliRunner.Run(out var output, "predict", "--model", model, "--input", dir, "--output", csv);
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(Squash(output), Does.Contain("noneofits2images").And.Contain("a.png"));
        Assert.That(File.Exists(csv), Is.False);
    }

    [Test]
    public void AGarbageOnnxInsideAModelZipIsNamed()
    {
        string dir = Fresh("garbage");
        string damaged = Path.Combine(dir, "damaged.zip");
        File.Copy(model, damaged);
        using (var zip = ZipFile.Open(damaged, ZipArchiveMode.Update))
        {
            var entry = zip.Entries.Single(e => e.Name == "Model.onnx");
            string name = entry.FullName;
            entry.Delete();
            using var stream = zip.CreateEntry(name).Open();
            stream.Write("this is not an ONNX model"u8);
        }
        foreach (var args in new[]
                 {
                     new[] { "predict", "--model", damaged, "--input", data, "--output", Path.Combine(dir, "p.csv") },
                     ["evaluate", "--model", damaged, "--data", data],
                 })
        {
            int code = CliRunner.Run(out var output, args);
            Assert.That(code, Is.EqualTo(1), output);
            Assert.That(Squash(output), Does.Contain(Squash(damaged)).And.Contain("Model.onnx"), string.Join(" ", args));
        }
    }

    [Test]
    public void BadInputFailsWithAMessageNamingTheProblem()
    {
        string dir = Fresh("bad");
        string noClasses = Directory.CreateDirectory(Path.Combine(dir, "flat")).FullName;
        File.Copy(Directory.GetFiles(Path.Combine(data, "vertical"), "*.png")[0], Path.Combine(noClasses, "a.png"));
        string emptyClass = Path.Combine(dir, "empty");
        TrainingFixtures.WriteStripes(emptyClass, 2, 32);
        Directory.CreateDirectory(Path.Combine(emptyClass, "zebra"));
        string notZip = Path.Combine(dir, "notzip.zip");
        File.WriteAllText(notZip, "hello");
        string foreignZip = Path.Combine(dir, "foreign.zip");
        using (var zip = ZipFile.Open(foreignZip, ZipArchiveMode.Create)) zip.CreateEntry("readme.txt");
        string mlnetZip = Path.Combine(dir, "mlnet.zip");
        var ml = new MLContext(0);
        var rows = ml.Data.LoadFromEnumerable(new[] { new LabeledImageRow { ImagePath = "a.png", Label = "x" } });
        ml.Model.Save(ml.Transforms.Conversion.MapValueToKey("Label").Fit(rows), rows.Schema, mlnetZip);
        string aFile = Path.Combine(dir, "file.txt");
        File.WriteAllText(aFile, "x");

        (string[] Args, string Expected)[] cases =
        [
            (["train", "--data", noClasses, "--output", Path.Combine(dir, "m.zip"), .. Fast], "no class folders"),
            (["train", "--data", emptyClass, "--output", Path.Combine(dir, "m.zip"), .. Fast], "zebra"),
            (["train", "--data", Path.Combine(dir, "missing"), "--output", Path.Combine(dir, "m.zip"), .. Fast], "missing"),
            (["train", "--data", data, "--output", Path.Combine(dir, "nowhere", "m.zip"), .. Fast], "does not exist"),
            (["train", "--data", data, "--output", Path.Combine(aFile, "m.zip"), .. Fast], "file is in the way"),
            (["train", "--data", data, "--output", dir, .. Fast], "is a folder"),
            (["train", "--data", data, "--output", Path.Combine(dir, "m.zip"), "--backbone", "no_such_net"], "no_such_net"),
            (["train", "--data", data, "--output", Path.Combine(dir, "m.zip"), "--time", "soon"], "--time"),
            (["evaluate", "--model", notZip, "--data", data], "not a model zip"),
            (["evaluate", "--model", foreignZip, "--data", data], "not a model zip"),
            (["evaluate", "--model", mlnetZip, "--data", data], "not an efficientcnn image classifier"),
            (["evaluate", "--model", model, "--data", emptyClass], "zebra"),
            (["predict", "--model", model, "--input", data, "--output", Path.Combine(aFile, "p.csv")], "file is in the way"),
            (["predict", "--model", notZip, "--input", data, "--output", Path.Combine(dir, "p.csv")], "not a model zip"),
        ];
        foreach (var (args, expected) in cases)
        {
            int code = CliRunner.Run(out var output, args);
            Assert.That(code, Is.Not.EqualTo(0), string.Join(" ", args));
            Assert.That(Squash(output), Does.Contain(Squash(expected)), string.Join(" ", args));
        }
        Assert.That(File.Exists(Path.Combine(dir, "m.zip")), Is.False);
        Assert.That(File.Exists(Path.Combine(dir, "p.csv")), Is.False);
    }

    [Test]
    public void AnExistingOutputIsUntouchedWhenTrainingFails()
    {
        string dir = Fresh("keep");
        string output = Path.Combine(dir, "model.zip");
        byte[] precious = [1, 2, 3, 4];
        File.WriteAllBytes(output, precious);
        // Fails once training starts: every training image is unreadable.
        string broken = Path.Combine(dir, "broken");
        foreach (var c in new[] { "a", "b" })
        for (int i = 0; i < 4; i++)
        {
            Directory.CreateDirectory(Path.Combine(broken, c));
            File.WriteAllText(Path.Combine(broken, c, $"{i}.png"), "garbage");
        }
        int code = CliRunner.Run(out var text, ["train", "--data", broken, "--output", output, "--epochs", "1", .. Fast]);
        Assert.That(code, Is.Not.EqualTo(0), text);
        Assert.That(Squash(text), Does.Contain("trainingimagescouldberead"));
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(precious));
        Assert.That(Directory.GetFiles(dir), Has.Length.EqualTo(1), "no temporary file left behind");
    }

    [Test]
    public void TimeBudgetSetsTheEpochsAndStopsInTime()
    {
        string output = Path.Combine(Fresh("time"), "model.zip");
        var watch = Stopwatch.StartNew();
        int code = CliRunner.Run(out var text, ["train", "--data", data, "--output", output, "--time", "4s", .. Fast]);
        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(File.Exists(output), Is.True);
        Assert.That(Squash(text), Does.Contain("fitinthetimebudget").Or.Contain("Stoppedearly"));
        // Budget plus model creation, export, validation and save.
        Assert.That(watch.Elapsed.TotalSeconds, Is.LessThan(4 + 8), text);
    }

    [Test]
    public void AutoTriesCandidatesAndPrintsALeaderboard()
    {
        string output = Path.Combine(Fresh("auto"), "model.zip");
        int code = CliRunner.Run(out var text, "train", "--data", data, "--output", output, "--backbone", "auto", "--epochs", "1",
            "--resolution", "32", "--batch-size", "8", "--max-latency-ms", "1000");
        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(text, Does.Contain("Leaderboard").And.Contain("[fine-tune]"));
        // Candidates: the bundled models (up to 3), or three small zoo variants when none is bundled.
        int bundled = EfficientCnn.Backbones.Registry.BackboneSource.BundledNames.Count;
        int candidates = bundled > 0 ? Math.Min(3, bundled) : 3;
        Assert.That(text.Split("head only on cached features"), Has.Length.EqualTo(1 + candidates), $"{candidates} head-only candidates");
        Assert.That(text.Split("ms per image"), Has.Length.EqualTo(1 + candidates + 1), "each candidate and the fine-tuned model are timed");
        Assert.That(File.Exists(output), Is.True);
    }

    [TestCase("train")]
    [TestCase("evaluate")]
    [TestCase("predict")]
    public void HelpDescribesTheCommand(string command)
    {
        int code = CliRunner.Run(out var help, command, "--help");
        Assert.That(code, Is.EqualTo(0), help);
        Assert.That(help, Does.Contain("USAGE").And.Contain("--model").Or.Contain("--data"));
    }
}
