using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

public class TrainingTests
{
    private static readonly PreprocessingSpec Spec32 = new() { Resolution = 32, ResizeMode = ResizeMode.Stretch };
    private string folder = "";

    [SetUp]
    public void SetUp() => folder = TrainingFixtures.TempFolder("train");

    [TearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    private static ClassifierTrainingOptions Quick => new()
    {
        Epochs = 4, BatchSize = 8, LearningRate = 0.01, WarmupEpochs = 0.5, Seed = 3, DecodeParallelism = 2,
        Augmentation = ImageAugmentation.Default with { MinScale = 0.5f },
    };

    [Test]
    public void FolderOfClassFoldersAndCsvReadTheRealSubset()
    {
        var all = ImageDataset.FromFolder(TrainingFixtures.Clipart4);
        Assert.That(all.Classes, Is.EqualTo(new[] { "animals", "food", "people", "transportation" }));
        Assert.That(all.ClassCounts(), Is.EqualTo(new[] { 55, 55, 55, 55 }));
        var train = ImageDataset.FromCsv(Path.Combine(TrainingFixtures.Clipart4, "split.csv"), split: "train");
        var test = ImageDataset.Load(Path.Combine(TrainingFixtures.Clipart4, "split.csv"), split: "test");
        Assert.That((train.Count, test.Count), Is.EqualTo((160, 60)));
        Assert.That(train.Items.All(i => File.Exists(i.Image.Path)), Is.True);
        Assert.That(train.Classes, Is.EqualTo(all.Classes));
    }

    [Test]
    public void BadDatasetsAreNamedInTheError()
    {
        Directory.CreateDirectory(Path.Combine(folder, "flat"));
        File.WriteAllText(Path.Combine(folder, "flat", "x.png"), "");
        var e = Assert.Throws<InvalidDataException>(() => ImageDataset.FromFolder(Path.Combine(folder, "flat")));
        Assert.That(e!.Message, Does.Contain("no class folders"));

        Directory.CreateDirectory(Path.Combine(folder, "classes", "cat"));
        Directory.CreateDirectory(Path.Combine(folder, "classes", "dog"));
        File.WriteAllText(Path.Combine(folder, "classes", "cat", "1.png"), "");
        e = Assert.Throws<InvalidDataException>(() => ImageDataset.FromFolder(Path.Combine(folder, "classes")));
        Assert.That(e!.Message, Does.Contain("dog").And.Contain("no images"));

        Assert.Throws<DirectoryNotFoundException>(() => ImageDataset.FromFolder(Path.Combine(folder, "missing")));

        string csv = Path.Combine(folder, "bad.csv");
        File.WriteAllText(csv, "file,class\na.png,cat\n");
        e = Assert.Throws<InvalidDataException>(() => ImageDataset.FromCsv(csv));
        Assert.That(e!.Message, Does.Contain("bad.csv").And.Contain("'path' and 'label'"));
        File.WriteAllText(csv, "path,label\na.png,cat\nb.png\n");
        e = Assert.Throws<InvalidDataException>(() => ImageDataset.FromCsv(csv));
        Assert.That(e!.Message, Does.Contain("line 3"));

        var oneClass = new ImageDataset(["cat", "dog"], [new LabeledImage(ImageInput.FromFile("a.png"), 0)], "one.csv");
        e = Assert.Throws<InvalidDataException>(() => oneClass.EnsureTrainable());
        Assert.That(e!.Message, Does.Contain("one.csv").And.Contain("only one class ('cat')"));
        var empty = new ImageDataset(["cat", "dog"], [], "empty.csv");
        Assert.That(Assert.Throws<InvalidDataException>(() => empty.EnsureTrainable())!.Message, Does.Contain("no images"));
    }

    [Test]
    public void StratifiedSplitIsDeterministicAndKeepsEveryClass()
    {
        var data = ImageDataset.FromFolder(TrainingFixtures.Clipart4);
        var (train, validation) = data.StratifiedSplit(0.2, seed: 5);
        var (train2, validation2) = data.StratifiedSplit(0.2, seed: 5);
        Assert.That(validation.Items.Select(i => i.Image.Name), Is.EqualTo(validation2.Items.Select(i => i.Image.Name)));
        Assert.That(validation.ClassCounts(), Is.EqualTo(new[] { 11, 11, 11, 11 }));
        Assert.That(train.Count + validation.Count, Is.EqualTo(data.Count));
        Assert.That(train.Items.Select(i => i.Image.Name).Intersect(validation.Items.Select(i => i.Image.Name)), Is.Empty);
        var (_, other) = data.StratifiedSplit(0.2, seed: 6);
        Assert.That(other.Items.Select(i => i.Image.Name), Is.Not.EqualTo(validation.Items.Select(i => i.Image.Name)));
        Assert.Throws<ArgumentException>(() => data.StratifiedSplit(1.0, 0));
    }

    [Test]
    public void GroupedSplitKeepsEachGroupOnOneSide()
    {
        // 4 classes x 6 units x 5 frames, named unit-frame.png as game sprites are.
        var items = Enumerable.Range(0, 4).SelectMany(label => Enumerable.Range(0, 6).SelectMany(unit => Enumerable.Range(0, 5)
            .Select(frame => new LabeledImage(ImageInput.FromFile($"/data/c{label}/u{label}x{unit}-walk-{frame}.png"), label)))).ToArray();
        var data = new ImageDataset(["a", "b", "c", "d"], items, "sprites");
        var grouped = data.WithGroups(new System.Text.RegularExpressions.Regex("^([^-]+)-"));
        Assert.That(grouped.Items.Select(i => i.Group).Distinct().Count(), Is.EqualTo(24));

        var (train, validation) = grouped.StratifiedSplit(0.2, seed: 1);
        var trainUnits = train.Items.Select(i => i.Group).ToHashSet();
        Assert.That(validation.Items.Where(i => trainUnits.Contains(i.Group)), Is.Empty, "a unit's frames sit on both sides");
        Assert.That(validation.ClassCounts(), Is.EqualTo(new[] { 5, 5, 5, 5 }), "one unit of six per class is closest to 20 %");
        Assert.That(train.Count + validation.Count, Is.EqualTo(data.Count));

        // Without groups the same data splits frame by frame: frames of one unit land on both sides.
        var (plainTrain, plainValidation) = data.StratifiedSplit(0.2, seed: 1);
        var unitOf = (LabeledImage i) => Path.GetFileName(i.Image.Name).Split('-')[0];
        Assert.That(plainValidation.Items.Select(unitOf).Intersect(plainTrain.Items.Select(unitOf)), Is.Not.Empty);

        // A class with a single group keeps it for training.
        var lonely = new ImageDataset(["a", "b"], [.. items.Take(10).Select(i => i with { Group = "one" }), .. items.Skip(30).Take(10)], "lonely");
        var (lonelyTrain, _) = lonely.StratifiedSplit(0.5, seed: 0);
        Assert.That(lonelyTrain.ClassCounts()[0], Is.EqualTo(10));

        var e = Assert.Throws<ArgumentException>(() => data.WithGroups(new System.Text.RegularExpressions.Regex("^zzz"), "--group-pattern"));
        Assert.That(e!.Message, Does.Contain("--group-pattern").And.Contain("'^zzz'").And.Contain("u0x0-walk-0.png"));
    }

    [Test]
    public void CsvGroupColumnGroupsTheSplit()
    {
        string csv = Path.Combine(folder, "groups.csv");
        File.WriteAllLines(csv, ["path,label,group", .. Enumerable.Range(0, 40).Select(i => $"{i}.png,{(i % 2 == 0 ? "cat" : "dog")},{(i % 2 == 0 ? "cat" : "dog")}{i / 8}")]);
        var data = ImageDataset.FromCsv(csv);
        Assert.That(data.Items.Select(i => i.Group).Distinct().Count(), Is.EqualTo(10));
        var (train, validation) = data.StratifiedSplit(0.25, seed: 2);
        Assert.That(validation.Items.Select(i => i.Group).Intersect(train.Items.Select(i => i.Group)), Is.Empty);
        Assert.That(validation.Count, Is.EqualTo(8), "one group of four per class is the closest to a quarter of twenty");
    }

    [Test]
    public void LoaderNamesABadImageOrSkipsAndCountsIt()
    {
        TrainingFixtures.WriteStripes(folder, 3, 24);
        File.WriteAllText(Path.Combine(folder, "vertical", "broken.png"), "not a png");
        var data = ImageDataset.FromFolder(folder);
        var strict = new ImageBatchLoader(Spec32, 4);
        var e = Assert.Throws<InvalidDataException>(() => strict.Batches(data).ToList());
        Assert.That(e!.Message, Does.Contain("broken.png").And.Contain("row 3"));

        var lenient = new ImageBatchLoader(Spec32, 4, BadImagePolicy.Skip);
        var batches = lenient.Batches(data).ToList();
        Assert.That(batches.Sum(b => b.Count), Is.EqualTo(6));
        Assert.That(lenient.BadImages.Count, Is.EqualTo(1));
        Assert.That(lenient.BadImages.Images[0].Image, Does.EndWith("broken.png"));
        Assert.That(batches.SelectMany(b => b.Rows), Does.Not.Contain(3));
    }

    [Test]
    public void AugmentedBatchesDependOnlyOnSeedEpochAndRow()
    {
        TrainingFixtures.WriteStripes(folder, 4, 24);
        var data = ImageDataset.FromFolder(folder);
        var aug = ImageAugmentation.Default;
        var a = new ImageBatchLoader(Spec32, 8, maxDegreeOfParallelism: 1).Load(data, [0, 1, 2, 3], aug, seed: 1, epoch: 2);
        var b = new ImageBatchLoader(Spec32, 8, maxDegreeOfParallelism: 4).Load(data, [0, 1, 2, 3], aug, seed: 1, epoch: 2);
        var c = new ImageBatchLoader(Spec32, 8).Load(data, [0, 1, 2, 3], aug, seed: 1, epoch: 3);
        var plain = new ImageBatchLoader(Spec32, 8).Load(data, [0, 1, 2, 3]);
        Assert.That(a.Pixels, Is.EqualTo(b.Pixels));
        Assert.That(a.Pixels, Is.Not.EqualTo(c.Pixels));
        Assert.That(plain.Pixels, Is.EqualTo(new ImagePreprocessor(Spec32).Preprocess(data.Items[0].Image).Concat(
            data.Items.Skip(1).Take(3).SelectMany(i => new ImagePreprocessor(Spec32).Preprocess(i.Image)))));
    }

    [Test]
    public void WarmupThenCosineSchedule()
    {
        var s = new LearningRateSchedule(0.1, TotalSteps: 110, WarmupSteps: 10);
        Assert.That(s.At(0), Is.EqualTo(0.01).Within(1e-12));
        Assert.That(s.At(9), Is.EqualTo(0.1).Within(1e-12));
        Assert.That(s.At(60), Is.EqualTo(0.05).Within(1e-12));
        Assert.That(s.At(110), Is.EqualTo(0).Within(1e-12));
        for (int i = 10; i < 110; i++) Assert.That(s.At(i + 1), Is.LessThanOrEqualTo(s.At(i)));
    }

    [Test]
    public void FineTuningLearnsStripesAndIsDeterministic()
    {
        TrainingFixtures.WriteStripes(folder, 32, 40);
        var (train, validation) = ImageDataset.FromFolder(folder).StratifiedSplit(0.25, 1);
        var epochs = new List<EpochMetrics>();
        var options = Quick with { Epochs = 8, OnEpoch = epochs.Add };
        var first = new ClassifierTrainer(options).Train(Tiny(), Spec32, train, validation);
        Assert.That(epochs.Select(m => m.Epoch), Is.EqualTo(Enumerable.Range(1, 8)));
        Assert.That(epochs[^1].TrainLoss, Is.LessThan(epochs[0].TrainLoss));
        Assert.That(first.History.Max(m => m.ValidationAccuracy), Is.GreaterThanOrEqualTo(0.8), "stripes orientation must be learnt");
        var (probabilities, _, accuracy) = ClassifierTrainer.Evaluate(first.Model, Spec32, validation);
        Assert.That(accuracy, Is.EqualTo(first.History[first.BestEpoch - 1].ValidationAccuracy!.Value).Within(1e-9), "the best epoch's weights are returned");
        Assert.That(probabilities.All(p => Math.Abs(p.Sum() - 1) < 1e-4), Is.True);

        var second = new ClassifierTrainer(Quick with { Epochs = 8 }).Train(Tiny(), Spec32, train, validation);
        AssertSameWeights(first.Model, second.Model);
        var other = new ClassifierTrainer(Quick with { Epochs = 8, Seed = 4 }).Train(Tiny(), Spec32, train, validation);
        Assert.That(TrainingCheckpoint.Signature(other.Model), Is.EqualTo(TrainingCheckpoint.Signature(first.Model)));
        Assert.That(Same(other.Model.state_dict()["head.1.weight"], first.Model.state_dict()["head.1.weight"]), Is.False);
    }

    [Test]
    public void PreciseBatchNormSetsEvalStatisticsToTheTrainingImagesAverage()
    {
        TrainingFixtures.WriteStripes(folder, 8, 32);
        var data = ImageDataset.FromFolder(folder);
        // One batch of all 16 images, no augmentation in the recalibration pass: the stem's running mean must be the
        // per-channel mean of its convolution over exactly those images.
        var batch = new ImageBatchLoader(Spec32, 16).Batches(data).Single();
        var x = tensor(batch.Pixels, [batch.Count, 3, 32, 32]);
        double Gap(int recalibration)
        {
            var result = new ClassifierTrainer(Quick with { Epochs = 1, BatchSize = 16, BatchNormRecalibrationBatches = recalibration }).Train(Tiny(), Spec32, data);
            var state = result.Model.state_dict();
            using var _ = no_grad();
            var expected = nn.functional.conv2d(x, state["backbone.stem.0.weight"], strides: [2, 2], padding: [1, 1]).mean([0, 2, 3]);
            return (state["backbone.stem.1.running_mean"] - expected).abs().max().item<float>() / expected.abs().max().item<float>();
        }
        Assert.That(Gap(1), Is.LessThan(1e-4), "recalibrated: the plain average over the training images");
        Assert.That(Gap(0), Is.GreaterThan(0.1), "without it: the momentum average of statistics from moving weights");
        Assert.Throws<ArgumentException>(() => new ClassifierTrainer(Quick with { BatchNormRecalibrationBatches = -1 }));
    }

    [Test]
    public void PreciseBatchNormAveragesRowsSpreadOverAClassOrderedSet()
    {
        TrainingFixtures.WriteStripes(folder, 16, 32);
        var data = ImageDataset.FromFolder(folder); // 16 horizontal, then 16 vertical
        var all = new ImageBatchLoader(Spec32, 32).Batches(data).Single();
        // Two batches of 8 = 16 of the 32 rows: every other row, both classes, not the first class alone.
        var spread = tensor(Enumerable.Range(0, 16).Select(i => (long)(i * 32 / 16)).ToArray());
        var x = tensor(all.Pixels, [all.Count, 3, 32, 32]).index_select(0, spread);
        var result = new ClassifierTrainer(Quick with { Epochs = 1, BatchSize = 8, BatchNormRecalibrationBatches = 2 }).Train(Tiny(), Spec32, data);
        var state = result.Model.state_dict();
        using var _ = no_grad();
        var expected = nn.functional.conv2d(x, state["backbone.stem.0.weight"], strides: [2, 2], padding: [1, 1]).mean([0, 2, 3]);
        double gap = (state["backbone.stem.1.running_mean"] - expected).abs().max().item<float>() / expected.abs().max().item<float>();
        Assert.That(gap, Is.LessThan(1e-4));
    }

    [Test]
    public void KilledRunResumesFromItsCheckpointExactly()
    {
        TrainingFixtures.WriteStripes(folder, 10, 32);
        var data = ImageDataset.FromFolder(folder);
        var (train, validation) = data.StratifiedSplit(0.2, 2);
        string ckpt = Path.Combine(folder, "ckpt");
        using var cts = new CancellationTokenSource();
        var interrupted = new ClassifierTrainer(Quick with { CheckpointDirectory = ckpt, OnEpoch = m => { if (m.Epoch == 2) cts.Cancel(); } })
            .Train(Tiny(), Spec32, train, validation, cts.Token);
        Assert.That(interrupted.Cancelled, Is.True);
        Assert.That(interrupted.History, Has.Count.EqualTo(2));
        Assert.That(File.Exists(Path.Combine(ckpt, "checkpoint.bin")), Is.True);

        var resumed = new ClassifierTrainer(Quick with { CheckpointDirectory = ckpt }).Train(Tiny(), Spec32, train, validation);
        Assert.That(resumed.ResumedFromEpoch, Is.EqualTo(2));
        Assert.That(resumed.History.Select(h => h.Epoch), Is.EqualTo(new[] { 1, 2, 3, 4 }));
        var straight = new ClassifierTrainer(Quick).Train(Tiny(), Spec32, train, validation);
        AssertSameWeights(resumed.Model, straight.Model);
        Assert.That(resumed.History.Select(h => h.TrainLoss), Is.EqualTo(straight.History.Select(h => h.TrainLoss)).Within(1e-6));

        var e = Assert.Throws<InvalidDataException>(() => new ClassifierTrainer(Quick with { CheckpointDirectory = ckpt })
            .Train(BackboneRegistry.Create("mobilenet_v2_0.35", new BackboneOptions { NumClasses = 0 }), Spec32, train));
        Assert.That(e!.Message, Does.Contain("different architecture").And.Contain("checkpoint.bin"));
    }

    [Test]
    public void HeadOnlyLeavesTheBackboneAndLastStagesFreezeTheStem()
    {
        TrainingFixtures.WriteStripes(folder, 8, 32);
        var data = ImageDataset.FromFolder(folder);
        var net = Tiny();
        var before = net.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var headOnly = new ClassifierTrainer(Quick with { Scope = TrainScope.HeadOnly, Epochs = 20 }).Train(net, Spec32, data);
        foreach (var (name, value) in net.state_dict()) Assert.That(Same(value, before[name]), $"{name} changed in head-only training");
        Assert.That(headOnly.History[^1].TrainLoss, Is.LessThan(headOnly.History[0].TrainLoss));

        var net2 = Tiny();
        var before2 = net2.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        new ClassifierTrainer(Quick with { Scope = TrainScope.LastStages, TrainLastStages = 1, Epochs = 1 }).Train(net2, Spec32, data);
        var after = net2.state_dict();
        Assert.That(Same(after["stem.0.weight"], before2["stem.0.weight"]), "frozen stem weights");
        Assert.That(Same(after["stem.1.running_mean"], before2["stem.1.running_mean"]), "frozen stem keeps its BN statistics");
        Assert.That(Same(after["stage.0.weight"], before2["stage.0.weight"]), Is.False, "the last stage trains");
    }

    [Test]
    public void FineTuningThatLosesToItsLinearProbeOnValidationKeepsTheProbe()
    {
        TrainingFixtures.WriteStripes(folder, 16, 32);
        var (train, validation) = ImageDataset.FromFolder(folder).StratifiedSplit(0.25, seed: 1);
        // A learning rate of 50 wrecks the backbone in the first end-to-end step; the probe before it is fine.
        var result = new ClassifierTrainer(Quick with { Epochs = 2, LearningRate = 50, Augmentation = null, LinearProbeEpochs = 30 })
            .Train(Tiny(), Spec32, train, validation);
        TestContext.Out.WriteLine($"probe {result.LinearProbe?.ValidationAccuracy:P0}, epochs {string.Join(", ", result.History.Select(h => $"{h.ValidationAccuracy:P0}"))}");
        Assert.That(result.LinearProbe!.ValidationAccuracy, Is.GreaterThan(result.History.Max(h => h.ValidationAccuracy ?? 0)), "the setup must make fine-tuning lose");
        Assert.That(result.BestEpoch, Is.EqualTo(0));
        Assert.That(result.BestValidationAccuracy, Is.EqualTo(result.LinearProbe.ValidationAccuracy));
        var (_, _, accuracy) = ClassifierTrainer.Evaluate(result.Model, Spec32, validation);
        Assert.That(accuracy, Is.EqualTo(result.LinearProbe.ValidationAccuracy!.Value).Within(1e-9), "the returned model is the probe");
    }

    [Test]
    public void LinearProbeFitsTheHeadBeforeEndToEndTraining()
    {
        TrainingFixtures.WriteStripes(folder, 16, 32);
        var data = ImageDataset.FromFolder(folder);
        // One end-to-end epoch is too short to fit a random head: a first epoch that already classifies well shows that
        // it started from the linear probe's head.
        double FirstEpochAccuracy(int probeEpochs)
        {
            var epochs = new List<EpochMetrics>();
            new ClassifierTrainer(Quick with { Epochs = 1, LearningRate = 1e-3, Augmentation = null, LinearProbeEpochs = probeEpochs, OnEpoch = epochs.Add })
                .Train(Tiny(), Spec32, data);
            Assert.That(epochs, Has.Count.EqualTo(1), "the probe's epochs are not reported as training epochs");
            return epochs[0].TrainAccuracy;
        }
        double withProbe = FirstEpochAccuracy(30), without = FirstEpochAccuracy(0);
        TestContext.Out.WriteLine($"first end-to-end epoch's training accuracy: {withProbe:P0} after a linear probe, {without:P0} from a random head");
        Assert.That(withProbe, Is.GreaterThanOrEqualTo(0.75));
        Assert.That(withProbe, Is.GreaterThan(without + 0.1));
    }

    [Test]
    public void BackboneLearnsAtItsFractionOfTheHeadsRate()
    {
        TrainingFixtures.WriteStripes(folder, 8, 32);
        var data = ImageDataset.FromFolder(folder);
        double BackboneChange(double factor)
        {
            var net = Tiny();
            var before = net.state_dict()["stage.0.weight"].clone();
            new ClassifierTrainer(Quick with { Epochs = 1, LinearProbeEpochs = 0, BackboneLearningRateFactor = factor }).Train(net, Spec32, data);
            return (net.state_dict()["stage.0.weight"] - before).abs().max().item<float>();
        }
        double slow = BackboneChange(1e-6), full = BackboneChange(1);
        TestContext.Out.WriteLine($"largest backbone weight change: {slow:G3} at factor 1e-6, {full:G3} at 1");
        Assert.That(full, Is.GreaterThan(1e-3));
        Assert.That(slow, Is.LessThan(full * 1e-3));
    }

    [Test]
    public void EarlyStoppingStopsAndKeepsTheBestEpoch()
    {
        TrainingFixtures.WriteStripes(folder, 8, 32);
        var (train, validation) = ImageDataset.FromFolder(folder).StratifiedSplit(0.25, 0);
        // Head-only on cached features with a learning rate this small changes nothing: validation never improves after epoch 1.
        var result = new ClassifierTrainer(Quick with { Scope = TrainScope.HeadOnly, Epochs = 10, LearningRate = 1e-12, EarlyStoppingPatience = 2 }).Train(Tiny(), Spec32, train, validation);
        Assert.That(result.StoppedEarly, Is.True);
        Assert.That(result.History, Has.Count.EqualTo(3));
        Assert.That(result.BestEpoch, Is.EqualTo(1));
    }

    [Test]
    public void ImpossibleOptionsNameTheOption()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new ClassifierTrainer(new() { Epochs = 0 }))!.ParamName, Is.EqualTo("Epochs"));
        Assert.That(Assert.Throws<ArgumentException>(() => new ClassifierTrainer(new() { LabelSmoothing = 1 }))!.ParamName, Is.EqualTo("LabelSmoothing"));
        Assert.That(Assert.Throws<ArgumentException>(() => new ClassifierTrainer(new() { Device = "tpu" }))!.ParamName, Is.EqualTo("Device"));
        if (!cuda.is_available())
            Assert.That(Assert.Throws<ArgumentException>(() => new ClassifierTrainer(new() { Device = "cuda" }))!.Message, Does.Contain("no CUDA"));
        TrainingFixtures.WriteStripes(folder, 2, 16);
        var data = ImageDataset.FromFolder(folder);
        var tooSmall = new PreprocessingSpec { Resolution = 16 };
        var e = Assert.Throws<ArgumentException>(() => new ClassifierTrainer().Train(BackboneRegistry.Create("mobilenet_v2_0.35", new BackboneOptions { NumClasses = 0 }), tooSmall, data));
        Assert.That(e!.Message, Does.Contain("Resolution 16"));
    }

    private static void AssertSameWeights(nn.Module a, nn.Module b)
    {
        var sb = b.state_dict();
        foreach (var (name, value) in a.state_dict())
            Assert.That(Same(value, sb[name]), $"{name} differs");
    }

    /// <summary>A TinyNet with seeded initial weights (the trainer seeds only what it creates: the head, order, augmentation, dropout).</summary>
    private static TinyNet Tiny()
    {
        random.manual_seed(11);
        return new TinyNet();
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
