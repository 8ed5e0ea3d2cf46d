using System.Globalization;
using System.Text.Json;
using EfficientCnn.Backbones.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

/// <summary><c>efficientcnn pretrain</c>: metrics files, progress lines, --resume and --precision, on 12 stripe images at 32 px.</summary>
public sealed class PretrainCommandTests
{
    private string folder = "";
    private string data = "";

    [SetUp]
    public void SetUp()
    {
        folder = TrainingFixtures.TempFolder("pretrain");
        data = TrainingFixtures.WriteStripes(Path.Combine(folder, "data"), 6, 32);
    }

    [TearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    private string Checkpoint => Path.Combine(folder, "ckpt");

    private string[] Args(int epochs, params string[] more) =>
    [
        "pretrain", "--data", data, "--backbone", "mobilenet_v2_0.35", "--resolution", "32", "--batch-size", "4", "--seed", "1",
        "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--checkpoint", Checkpoint, "-o", Path.Combine(folder, "out", "backbone.onnx"), .. more,
    ];

    /// <summary>Without whitespace: the test console wraps lines at 80 columns.</summary>
    private static string Squash(string text) => string.Concat(text.Where(c => !char.IsWhiteSpace(c)));

    [Test]
    public void InterruptedAndResumedRunLogsEachEpochOnceInCsvAndJson()
    {
        Assert.That(CliRunner.Run(out var first, Args(1)), Is.EqualTo(0), first);
        string epochOne = Path.Combine(folder, "epoch1.bin");
        File.Copy(Path.Combine(Checkpoint, "checkpoint.bin"), epochOne);

        Assert.That(CliRunner.Run(out var resumed, Args(3, "--resume")), Is.EqualTo(0), resumed);
        Assert.That(resumed, Does.Not.Contain("epoch 1/3:"), "the checkpoint's epoch is not trained again");
        Assert.That(resumed, Does.Match(@"epoch 3/3 +\d+% \(\d+/\d+ images\), \d+ img/s, eta \d+:\d\d:\d\d"),
            "redirected output gets plain progress lines with the rate and remaining time once the rate is known");
        Assert.That(Epochs(), Is.EqualTo(new[] { 1, 2, 3 }));

        // As if the run had been killed in epoch 2 with metrics ahead of the checkpoint: epoch 2 is redone, its old row
        // and epoch 3's give way.
        File.Copy(epochOne, Path.Combine(Checkpoint, "checkpoint.bin"), overwrite: true);
        Assert.That(CliRunner.Run(out var again, Args(2, "--resume")), Is.EqualTo(0), again);
        var (csvRows, json) = ReadMetrics();
        Assert.That(Epochs(), Is.EqualTo(new[] { 1, 2 }), "each epoch once, in the CSV and the JSON");
        var jsonEpochs = json.GetProperty("epochs").EnumerateArray().ToList();
        for (int i = 0; i < csvRows.Count; i++)
        {
            Assert.That(double.Parse(csvRows[i]["train_loss"], CultureInfo.InvariantCulture), Is.EqualTo(jsonEpochs[i].GetProperty("train_loss").GetDouble()));
            Assert.That(double.Parse(csvRows[i]["learning_rate"], CultureInfo.InvariantCulture), Is.EqualTo(jsonEpochs[i].GetProperty("learning_rate").GetDouble()));
        }
        Assert.That(double.IsFinite(jsonEpochs[1].GetProperty("train_loss").GetDouble()));
        var run = json.GetProperty("run");
        Assert.That(run.GetProperty("backbone").GetString(), Is.EqualTo("mobilenet_v2_0.35"));
        Assert.That(run.GetProperty("resolution").GetInt32(), Is.EqualTo(32));
        Assert.That(run.GetProperty("seed").GetInt32(), Is.EqualTo(1));
        Assert.That(run.GetProperty("precision").GetString(), Is.EqualTo("fp32 (auto)"));
        Assert.That(run.GetProperty("data").GetString(), Does.Contain("data"));
    }

    [Test]
    public void ExistingCheckpointWithoutResumeFailsNamingTheFolder()
    {
        Directory.CreateDirectory(Checkpoint);
        File.WriteAllText(Path.Combine(Checkpoint, "checkpoint.bin"), "a run's checkpoint");
        Assert.That(CliRunner.Run(out var text, Args(1)), Is.EqualTo(1), text);
        Assert.That(Squash(text), Does.Contain(Squash(Path.GetFullPath(Checkpoint))).And.Contain("--resume").And.Contain("another--checkpoint"));
        Assert.That(Directory.Exists(Path.Combine(folder, "out")), Is.False, "nothing is trained or written");
    }

    [Test]
    public void ResumeNeedsACheckpoint()
    {
        Assert.That(CliRunner.Run(out var empty, Args(1, "--resume")), Is.EqualTo(1), empty);
        Assert.That(Squash(empty), Does.Contain("--resume").And.Contain(Squash(Path.GetFullPath(Checkpoint))).And.Contain("holdsnotrainingcheckpoint"));
        Assert.That(CliRunner.Run(out var none, "pretrain", "--data", data, "-o", Path.Combine(folder, "b.onnx"), "--resume"), Is.Not.EqualTo(0), none);
        Assert.That(Squash(none), Does.Contain("--resumeneeds--checkpoint"));
    }

    [Test]
    public void Float16OnTheCpuIsRejectedNamingTheOption()
    {
        Assert.That(CliRunner.Run(out var text, Args(1, "--precision", "fp16")), Is.EqualTo(1), text);
        Assert.That(Squash(text), Does.Contain("--precisionfp16").And.Contain("CUDA"));
        var e = Assert.Throws<ArgumentException>(() => new ClassifierTrainer(new ClassifierTrainingOptions { Precision = TrainingPrecision.Float16, Device = "cpu" }));
        Assert.That(e!.ParamName, Is.EqualTo("Precision"));
        Assert.That(CliRunner.Run(out var unknown, Args(1, "--precision", "fp8")), Is.Not.EqualTo(0), unknown);
        Assert.That(Squash(unknown), Does.Contain("--precisionmustbeauto,fp32,bf16orfp16"));
    }

    [Test]
    public void BFloat16IsRejectedWhileTorchSharpHasNoAutocast()
    {
        // TorchSharp 0.107 binds no autocast (see MixedPrecision): bf16 must fail clearly, not train silently in fp32.
        var e = Assert.Throws<ArgumentException>(() => new ClassifierTrainingOptions { Precision = TrainingPrecision.BFloat16, Device = "cpu" }.Validate());
        Assert.That(e!.ParamName, Is.EqualTo("Precision"));
        Assert.That(e.Message, Does.Contain("autocast"));
        Assert.That(CliRunner.Run(out var text, ["train", "--data", data, "--output", Path.Combine(folder, "m.zip"), "--precision", "bf16"]), Is.EqualTo(1), text);
        Assert.That(Squash(text), Does.Contain("--precisionbf16").And.Contain("autocast"));
        Assert.That(MixedPrecision.Resolve(TrainingPrecision.Auto, CPU), Is.EqualTo(TrainingPrecision.Float32), "auto trains in fp32 on the CPU");
    }

    [Test]
    public void DistillationLogsItsEpochsInBothFiles()
    {
        Assert.That(CliRunner.Run(out var text, Args(1, "--teacher", "mobilenet_v2_0.35", "--metrics", Path.Combine(folder, "kd.csv"))), Is.EqualTo(0), text);
        var (rows, json) = ReadMetrics(Path.Combine(folder, "kd"));
        Assert.That(rows.Select(r => r["epoch"]), Is.EqualTo(new[] { "1" }));
        Assert.That(json.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()), Is.EqualTo(new[] { 1 }));
        Assert.That(json.GetProperty("run").GetProperty("teacher").GetString(), Is.EqualTo("mobilenet_v2_0.35"));
    }

    private int[] Epochs()
    {
        var (rows, json) = ReadMetrics();
        var csv = rows.Select(r => int.Parse(r["epoch"], CultureInfo.InvariantCulture)).ToArray();
        var fromJson = json.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()).ToArray();
        Assert.That(fromJson, Is.EqualTo(csv), "the JSON holds the CSV's epochs");
        return csv;
    }

    private (List<Dictionary<string, string>> Rows, JsonElement Json) ReadMetrics(string? stem = null)
    {
        stem ??= Path.Combine(folder, "out", "backbone.metrics");
        var lines = File.ReadAllLines(stem + ".csv");
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Select(l => header.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second)).ToList();
        using var doc = JsonDocument.Parse(File.ReadAllText(stem + ".json"));
        return (rows, doc.RootElement.Clone());
    }
}
