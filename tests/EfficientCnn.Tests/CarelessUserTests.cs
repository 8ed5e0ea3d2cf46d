using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Runtime;
using EfficientCnn.Backbones.Training;
using EfficientCnn.Cli;
using EfficientCnn.MLNet;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;
using Onnx;
using Spectre.Console;

namespace EfficientCnn.Tests;

/// <summary>
/// The input of a careless or hostile user (issue 18): wrong options, outputs over inputs, quoted CSV, link loops,
/// absurd sizes, foreign checkpoints. Each ends in a clear refusal or a correct result, with nothing lost.
/// </summary>
public sealed class CarelessUserTests
{
    private string folder = "";

    [SetUp]
    public void SetUp() => folder = TrainingFixtures.TempFolder("careless");

    [TearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    private static string Squash(string text) => string.Concat(text.Where(c => !char.IsWhiteSpace(c)));

    [Test]
    public void AnUnknownOptionIsAnErrorNamingTheNearestValidOne()
    {
        // --epoch used to run the default 10 epochs, --checkpiont to save no checkpoint: both ignored silently.
        int code = CliRunner.Run(out var epoch, "train", "--data", folder, "--output", Path.Combine(folder, "m.zip"), "--epoch", "1");
        Assert.That(code, Is.EqualTo(1), epoch);
        Assert.That(epoch, Does.Contain("'--epoch'").And.Contain("did you mean '--epochs'"));
        code = CliRunner.Run(out var checkpoint, "train", "--data", folder, "--output", Path.Combine(folder, "m.zip"), "--checkpiont", "ck");
        Assert.That(code, Is.EqualTo(1), checkpoint);
        Assert.That(checkpoint, Does.Contain("did you mean '--checkpoint'"));
        Assert.That(Directory.Exists(Path.Combine(folder, "ck")) || File.Exists(Path.Combine(folder, "m.zip")), Is.False);
        code = CliRunner.Run(out var flag, "zoo", "--jsno");
        Assert.That(code, Is.EqualTo(1), flag);
        Assert.That(flag, Does.Contain("did you mean '--json'"));
    }

    [Test]
    public void OptionAndInputErrorsExitWithOne()
    {
        // Spectre's own parse errors exited 255; an unknown zoo name escaped as an unhandled exception.
        Assert.That(CliRunner.Run(out var notANumber, "zoo", "--classes", "abc"), Is.EqualTo(1), notANumber);
        Assert.That(CliRunner.Run(out var unknownName, "zoo", "--name", "no_such_net"), Is.EqualTo(1), unknownName);
        Assert.That(unknownName, Does.Contain("no_such_net").And.Not.Contain("   at "));
    }

    [Test]
    public void AGroupPatternThatCannotGroupIsRefusedBeforeTraining()
    {
        string model = Path.Combine(folder, "m.zip");
        Assert.That(CliRunner.Run(out var invalid, "train", "--data", TrainingFixtures.Clipart4, "--output", model, "--group-pattern", "(unclosed"), Is.EqualTo(1), invalid);
        Assert.That(invalid, Does.Contain("--group-pattern '(unclosed' is not a valid regular expression"));
        Assert.That(CliRunner.Run(out var none, "train", "--data", TrainingFixtures.Clipart4, "--output", model, "--group-pattern", "^zzz"), Is.EqualTo(1), none);
        Assert.That(none, Does.Contain("--group-pattern '^zzz' matches none of the 220 file names"));
        Assert.That(File.Exists(model), Is.False);
    }

    [Test]
    public void AnUnexpectedErrorPrintsOneLineAndWhereTheTraceIs()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        console.Profile.Width = 1000;
        Exception bug;
        try { throw new NullReferenceException("a bug"); }
        catch (NullReferenceException e) { bug = e; }
        int code = CliErrors.Handle(bug, console);
        Assert.That(code, Is.EqualTo(ExitCodes.InternalError));
        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), writer.ToString());
        string trace = lines[0][(lines[0].IndexOf("full trace in ", StringComparison.Ordinal) + "full trace in ".Length)..].TrimEnd(')', '\r');
        try
        {
            Assert.That(File.ReadAllText(trace), Does.Contain("a bug").And.Contain(nameof(AnUnexpectedErrorPrintsOneLineAndWhereTheTraceIs)));
        }
        finally { File.Delete(trace); }
    }

    [Test]
    public void TablesKeepTheirWidthWhenTheOutputIsNotATerminal()
    {
        // At 80 columns Spectre wrapped the zoo table's names into fragments ("nasnet_a_mo / bile").
        int code = CliRunner.Run(out var text, "zoo", "--name", "nasnet_a_mobile", "--name", "efficientnet_b0");
        Assert.That(code, Is.EqualTo(0), text);
        var rows = text.Split('\n');
        Assert.That(rows.Any(r => r.Contains("nasnet_a_mobile") && r.Contains("NASNet") && r.Contains("1056")), Is.True, text);
        Assert.That(rows.Any(r => r.Contains("efficientnet_b0") && r.Contains("EfficientNet")), Is.True, text);
    }

    [Test]
    public void NnpackIsOffSoLibtorchDoesNotWarnAtEveryConvolution()
    {
        // TestSetup ran TorchRuntime.Configure, as every command does.
        Assert.That(NnpackSwitch.Enabled, Is.False);
    }

    [Test]
    public void AnOutputThatIsAnInputIsRefusedBeforeAnyWork()
    {
        string data = TrainingFixtures.WriteStripes(Path.Combine(folder, "data"), 2, 16);
        string csv = Path.Combine(data, "split.csv");
        File.WriteAllText(csv, "path,label\nhorizontal/horizontal_000.png,horizontal\nvertical/vertical_000.png,vertical\n");
        string link = Path.Combine(folder, "link");
        Directory.CreateSymbolicLink(link, data);
        string image = Path.Combine(data, "vertical", "vertical_001.png");
        string model = Path.Combine(folder, "model.zip");
        File.WriteAllText(model, "a model");
        var before = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);

        (string[] Args, string Culprit)[] cases =
        [
            (["train", "--data", csv, "--output", Path.Combine(link, "split.csv"), "--epochs", "1"], "the --data"),
            (["train", "--data", data, "--output", image, "--epochs", "1"], "the training image"),
            (["predict", "--model", model, "--input", data, "--output", model], "the --model"),
            (["predict", "--model", model, "--input", data, "--output", Path.Combine(link, "vertical", "vertical_001.png")], "the input image"),
            (["pretrain", "--data", csv, "--backbone", "mobilenet_v2_0.35", "--output", csv], "the --data"),
            (["scale", "--base", csv, "--target-macs", "10M", "--out", csv], "the --base"),
        ];
        foreach (var (args, culprit) in cases)
        {
            int code = CliRunner.Run(out var text, args);
            Assert.That(code, Is.EqualTo(1), text);
            Assert.That(Squash(text), Does.Contain(Squash($"is {culprit}")).And.Contain("destroy"), string.Join(" ", args));
        }
        foreach (var (file, bytes) in before) Assert.That(File.ReadAllBytes(file), Is.EqualTo(bytes), file);
    }

    [Test]
    public void QuotedCsvFieldsAreReadByRfc4180()
    {
        // A path with a comma and quotes, as predict writes it: split on commas it became a new class or was dropped.
        string dir = Path.Combine(folder, "images");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(folder, "data.csv"),
            "path,label,split\n\"images/a, \"\"quoted\"\".png\",cat,train\nimages/b.png,dog,train\n\"images/multi\nline.png\",\"dog\",test\n");
        var train = ImageDataset.FromCsv(Path.Combine(folder, "data.csv"), split: "train");
        Assert.That(train.Classes, Is.EqualTo(new[] { "cat", "dog" }));
        Assert.That(train.Items.Select(i => Path.GetFileName(i.Image.Path)), Is.EqualTo(new[] { "a, \"quoted\".png", "b.png" }));
        var test = ImageDataset.FromCsv(Path.Combine(folder, "data.csv"), split: "test");
        Assert.That(test.Items.Select(i => Path.GetFileName(i.Image.Path)), Is.EqualTo(new[] { "multi\nline.png" }));

        File.WriteAllText(Path.Combine(folder, "broken.csv"), "path,label\n\"never closed.png,cat\n");
        var e = Assert.Throws<InvalidDataException>(() => ImageDataset.FromCsv(Path.Combine(folder, "broken.csv")));
        Assert.That(e!.Message, Does.Contain("broken.csv"));
    }

    [Test]
    public void FolderWalksListEachRealImageOnceDespiteLinkLoops()
    {
        string data = TrainingFixtures.WriteStripes(Path.Combine(folder, "data"), 3, 16);
        // A loop under one class folder back to the data root, and a second name for a folder.
        Directory.CreateSymbolicLink(Path.Combine(data, "horizontal", "loop"), data);
        Directory.CreateSymbolicLink(Path.Combine(data, "vertical", "again"), Path.Combine(data, "vertical"));
        var dataset = ImageDataset.FromFolder(data);
        Assert.That(dataset.Classes, Is.EqualTo(new[] { "horizontal", "vertical" }));
        Assert.That(dataset.ClassCounts(), Is.EqualTo(new[] { 3, 3 }), "each real image once, in its own class");
        Assert.That(dataset.Items.Where(i => i.Label == 0).All(i => Path.GetFileName(i.Image.Path)!.StartsWith("horizontal")), Is.True);
        Assert.That(ImageFiles.Under(data), Has.Length.EqualTo(6));
    }

    [Test]
    public void AbsurdSizesAreRefusedBeforeAnyAllocation()
    {
        string missing = Path.Combine(folder, "m.onnx");
        (string[] Args, string Option)[] cases =
        [
            (["check-onnx", missing, "--resolution", "100000"], "--resolution"),
            (["train", "--data", folder, "--output", Path.Combine(folder, "m.zip"), "--resolution", "100000"], "--resolution"),
            (["predict", "--model", missing, "--input", folder, "--output", Path.Combine(folder, "p.csv"), "--batch-size", "100000000"], "--batch-size"),
            (["zoo", "--resolution", "100000"], "--resolution"),
        ];
        foreach (var (args, option) in cases)
        {
            Assert.That(CliRunner.Run(out var text, args), Is.EqualTo(1), text);
            Assert.That(text, Does.Contain($"{option} must be <= "), string.Join(" ", args));
        }

        // An ONNX file declaring a 2^40-pixel input: libtorch printed a C++ stack trace when check-onnx made the batch.
        var proto = ModelProto.Parser.ParseFrom(MLNetPersistenceTests.TinyOnnx());
        proto.Graph.Input[0].Type.TensorType.Shape.Dim[2].DimValue = 1L << 40;
        proto.Graph.Input[0].Type.TensorType.Shape.Dim[3].DimValue = 1L << 40;
        string huge = Path.Combine(folder, "huge.onnx");
        File.WriteAllBytes(huge, proto.ToByteArray());
        var e = Assert.Throws<InvalidDataException>(() => OnnxImportedModule.Load(huge));
        Assert.That(e!.Message, Does.Contain("huge.onnx").And.Contain("4096"));
        Assert.That(CliRunner.Run(out var check, "check-onnx", huge), Is.EqualTo(1), check);
    }

    [Test]
    public void ScoringMemoryDoesNotGrowWithTheBatchSize()
    {
        // The buffers were sized by the batch size: predict --batch-size 100000000 took 4.2 GB for 55 images.
        string data = TrainingFixtures.WriteStripes(Path.Combine(folder, "data"), 2, 16);
        var ml = new MLContext(0);
        var rows = Directory.GetFiles(data, "*.png", SearchOption.AllDirectories).Select(p => new ImagePathRow { ImagePath = p }).ToArray();
        using var scorer = new OnnxImageTransformer(new OnnxImageModel(MLNetPersistenceTests.TinyOnnx(), new PreprocessingSpec { Resolution = 32 }, ["a", "b", "c"]),
            new ImageScoringOptions { BatchSize = int.MaxValue });
        var scores = scorer.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<float[]>("Score").ToArray();
        Assert.That(scores, Has.Length.EqualTo(4));
        Assert.That(scores.All(s => Math.Abs(s.Sum() - 1) < 1e-4), Is.True);
    }

    [Test]
    public void AResumeFromAnotherRunIsRefusedNamingWhatDiffers()
    {
        var options = new ClassifierTrainingOptions { Epochs = 1, BatchSize = 4, Seed = 1, Augmentation = null, CheckpointDirectory = Path.Combine(folder, "ckpt") };
        var spec = new PreprocessingSpec { Resolution = 16, ResizeMode = ResizeMode.Stretch };
        var stripes = ImageDataset.FromFolder(TrainingFixtures.WriteStripes(Path.Combine(folder, "stripes"), 4, 16));
        new ClassifierTrainer(options).Train(new TinyNet(), spec, stripes);

        // Same shapes everywhere (two classes, the same net), so the architecture check alone let these resume.
        var renamed = new ImageDataset(["cats", "dogs"], stripes.Items, "renamed");
        var e = Assert.Throws<InvalidDataException>(() => new ClassifierTrainer(options with { Epochs = 2 }).Train(new TinyNet(), spec, renamed));
        Assert.That(e!.Message, Does.Contain("checkpoint.bin").And.Contain("classes is 'horizontal, vertical' in the checkpoint but 'cats, dogs' now"));
        e = Assert.Throws<InvalidDataException>(() => new ClassifierTrainer(options with { Epochs = 2 }).Train(new TinyNet(), spec with { Resolution = 24 }, stripes));
        Assert.That(e!.Message, Does.Contain("resolution is '16'").And.Not.Contain("classes"));
        e = Assert.Throws<InvalidDataException>(() => new ClassifierTrainer(options with { Epochs = 2, BatchSize = 2 }).Train(new TinyNet(), spec, stripes.Subset([0, 1, 4, 5])));
        Assert.That(e!.Message, Does.Contain("data is '8 training").And.Contain("batch size is '4'"));
        // The same run continues.
        var resumed = new ClassifierTrainer(options with { Epochs = 2 }).Train(new TinyNet(), spec, stripes);
        Assert.That(resumed.ResumedFromEpoch, Is.EqualTo(1));
    }

    [Test]
    public void UnreadableValidationImagesAreCountedWithTheTrainingOnes()
    {
        string data = TrainingFixtures.WriteStripes(Path.Combine(folder, "data"), 4, 16);
        foreach (var c in new[] { "horizontal", "vertical" })
        for (int i = 0; i < 3; i++)
            File.WriteAllText(Path.Combine(data, c, $"broken_{i}.png"), "not a png");
        var (train, validation) = ImageDataset.FromFolder(data).StratifiedSplit(0.5, 0);
        Assume.That(validation.Items.Count(i => i.Image.Name.Contains("broken")), Is.GreaterThan(0), "a bad file falls in the validation split");
        var result = new ClassifierTrainer(new ClassifierTrainingOptions { Epochs = 1, BatchSize = 4, Augmentation = null, OnBadImage = BadImagePolicy.Skip })
            .Train(new TinyNet(), new PreprocessingSpec { Resolution = 16, ResizeMode = ResizeMode.Stretch }, train, validation);
        Assert.That(result.BadImages.Count, Is.EqualTo(6), string.Join(", ", result.BadImages.Images.Select(b => b.Image)));
    }

    [Test]
    public void SearchTimeBudgetCoversTheZooComparison()
    {
        // search --time 3m ran 16 minutes: the zoo comparison trained six networks outside the budget.
        // Enough proxy work per zoo network (48 images, 2 epochs) that the six cannot all finish in the 2 s zoo share even
        // on a quiet machine (with 12 images and 1 epoch they did, in a fresh-clone CI run).
        string data = TrainingFixtures.WriteStripes(Path.Combine(folder, "data"), 24, 32);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int code = CliRunner.Run(out var text, "search", "--data", data, "--target-latency-ms", "1", "--time", "8s", "--resolution", "32",
            "--proxy-resolution", "32", "--proxy-epochs", "2", "--runs", "1", "--out", Path.Combine(folder, "search"));
        double seconds = watch.Elapsed.TotalSeconds;
        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(text, Does.Contain("Time budget 8 s: zoo comparison up to 2 s, then the search, and 0.4 s for the final re-timing"), "the split is said up front");
        int zooLines = text.Split('\n').Count(l => l.StartsWith("zoo ", StringComparison.Ordinal));
        Assert.That(zooLines, Is.LessThan(EfficientCnn.Cli.Commands.SearchCommand.DefaultZoo.Count), text);
        Assert.That(text, Does.Contain("min in all"));
        // The budget, plus loading the data and writing the report.
        Assert.That(seconds, Is.LessThan(8 + 10), text);
    }

    [Test]
    public void AnOrphanedTemporaryCheckpointFolderIsDeletedByTheNextTrain()
    {
        int dead;
        using (var gone = System.Diagnostics.Process.Start("true")!)
        {
            gone.WaitForExit();
            dead = gone.Id;
        }
        string orphan = Path.Combine(Path.GetTempPath(), $"efficientcnn-train-{dead}-{Guid.NewGuid():N}");
        string ours = Path.Combine(Path.GetTempPath(), $"efficientcnn-train-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(orphan);
        Directory.CreateDirectory(ours);
        try
        {
            // Fails at once (no data), after the clean-up.
            CliRunner.Run(out var text, "train", "--data", Path.Combine(folder, "missing"), "--output", Path.Combine(folder, "m.zip"));
            Assert.That(Directory.Exists(orphan), Is.False, "the killed run's folder is deleted");
            Assert.That(Directory.Exists(ours), Is.True, "a running process's folder is kept");
        }
        finally
        {
            TrainingFixtures.DeleteQuietly(orphan);
            TrainingFixtures.DeleteQuietly(ours);
        }
    }
}
