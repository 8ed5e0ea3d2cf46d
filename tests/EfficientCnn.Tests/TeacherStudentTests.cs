using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Checkpoints;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using NUnit.Framework;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

/// <summary>Issue 15's path from ML.NET's ResNet18 to an efficient student: weight transfer, Tucker-2 factorization, function matching.</summary>
public sealed class TeacherStudentTests
{
    private string folder = "";

    private static string MlNetResNet18 => Path.Combine(TestContext.CurrentContext.TestDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    [SetUp]
    public void SetUp() => folder = TrainingFixtures.TempFolder("teacher");

    [TearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    [Test]
    public void Tucker2KeepsAllOfAKernelAtFullRankAndPartOfItBelow()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var conv = nn.Conv2d(8, 12, 3, stride: 2, padding: 1, bias: false);
        var x = randn(2, 8, 9, 9);
        var full = new Tucker2Conv(8, 12, 3, 2, 1, 8, 12);
        Assert.That(full.Decompose(conv.weight), Is.EqualTo(1).Within(1e-9));
        using (no_grad()) OnnxAssert.Close(conv.call(x), full.call(x), "full-rank Tucker-2");
        var low = new Tucker2Conv(8, 12, 3, 2, 1, 2, 3);
        double kept = low.Decompose(conv.weight);
        Assert.That(kept, Is.GreaterThan(0.05).And.LessThan(0.9), "a random kernel is not low-rank");
        Assert.Throws<ArgumentException>(() => low.Decompose(randn(12, 8, 5, 5)));
    }

    [Test]
    public void FactorizedResNetExportsWithOnnxRuntimeParity()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var model = new ResNet(ResNet.BlockKind.Basic, [1, 1, 1, 1], numClasses: 0, width: 8, tuckerRanks: [0.5, 0, 0.5, 0.25]);
        OnnxAssert.RandomizeBatchNorm(model, new Generator(5));
        model.eval();
        var x = rand(new long[] { 2, 3, 40, 48 }, generator: new Generator(6));
        Tensor features;
        using (no_grad()) features = model.ForwardFeatures(x);
        var ort = OnnxParity.Run(OnnxExporter.ExportBytes(model, new OnnxExportOptions { IncludeHead = false }), x);
        OnnxAssert.Close(ort["features"], features, "Tucker-2 ResNet features");
        Assert.That(model.state_dict().Keys, Does.Contain("layer4.0.conv1.core.weight").And.Contain("layer2.0.conv1.weight"));
    }

    [Test]
    public void MlNetResNet18BecomesANativeResNetWithTheSameFeatures()
    {
        using var scope = NewDisposeScope();
        var imported = OnnxImportedModule.Load(MlNetResNet18);
        using var native = OnnxWeightTransfer.ResNetFromOnnx(MlNetResNet18);
        using var fullRank = OnnxWeightTransfer.ResNetFromOnnx(MlNetResNet18, [0, 0, 0, 1]);
        Assert.That(native.state_dict().Keys, Does.Contain("layer4.2.conv2.weight"), "ML.NET's ResNet18 has three blocks in its last stage");
        Assert.That(fullRank.state_dict().Keys, Does.Contain("layer4.2.conv2.core.weight"));
        var x = rand(new long[] { 2, 3, 224, 224 }, generator: new Generator(1)) * 255 - 120;
        imported.eval();
        native.eval();
        fullRank.eval();
        using var _ = no_grad();
        var reference = imported.ForwardFeatures(x);
        OnnxAssert.Close(reference, native.ForwardFeatures(x), "native ResNet vs the ONNX graph");
        OnnxAssert.Close(reference, fullRank.ForwardFeatures(x), "full-rank Tucker-2 of the last stage");
        // The native network, unlike the ONNX graph (fixed 224x224), takes any resolution.
        Assert.That(native.ForwardFeatures(x.narrow(2, 0, 160).narrow(3, 0, 160)).shape, Is.EqualTo(new long[] { 2, 512 }));
    }

    [Test]
    public void WeightTransferRefusesAnotherArchitectureNamingTheLayer()
    {
        using var source = new ResNet(ResNet.BlockKind.Basic, [1, 1, 1, 1], numClasses: 0, width: 8);
        string onnx = Path.Combine(folder, "r.onnx");
        OnnxExporter.ExportFile(source, onnx, new OnnxExportOptions { IncludeHead = false, FoldBatchNorm = false });
        manual_seed(9);
        using var same = new ResNet(ResNet.BlockKind.Basic, [1, 1, 1, 1], numClasses: 0, width: 8);
        Assert.That(OnnxWeightTransfer.Copy(onnx, same), Is.EqualTo(2 * 12));
        Assert.That(same.state_dict()["layer3.0.conv2.weight"].eq(source.state_dict()["layer3.0.conv2.weight"]).all().item<bool>(), Is.True);
        using var deeper = new ResNet(ResNet.BlockKind.Basic, [1, 1, 2, 1], numClasses: 0, width: 8);
        var e = Assert.Throws<InvalidDataException>(() => OnnxWeightTransfer.Copy(onnx, deeper));
        Assert.That(e!.Message, Does.Contain("r.onnx").And.Contain("not the same architecture"));
        using var wider = new ResNet(ResNet.BlockKind.Basic, [1, 1, 1, 1], numClasses: 0, width: 16);
        e = Assert.Throws<InvalidDataException>(() => OnnxWeightTransfer.Copy(onnx, wider));
        Assert.That(e!.Message, Does.Contain("layer 1").And.Contain("conv1"));
    }

    [Test]
    public void FunctionMatchingResumesExactlyAndShowsBothNetworksTheSameView()
    {
        var images = ImageDataset.FromFolder(TrainingFixtures.Clipart4).Items.Take(24).Select(i => i.Image.Path!).ToList();
        string pack = Path.Combine(folder, "c.pack");
        PackedImages.Write(pack, images, 48);
        using var packed = PackedImages.Open(pack);
        var studentSpec = PreprocessingSpec.ImageNet(32);
        var teacherSpec = PreprocessingSpec.ImageNet(64);

        var distiller = new FunctionMatchingDistiller(new FunctionMatchingOptions { MixupFraction = 0 });
        var (s, t) = distiller.Views(packed, [0, 1, 2, 3], studentSpec, teacherSpec, new Random(7));
        var teacherAtStudentSize = nn.functional.interpolate(t, [32, 32], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);
        var (other, _) = distiller.Views(packed, [0, 1, 2, 3], studentSpec, teacherSpec, new Random(8));
        double sameView = (teacherAtStudentSize - s).abs().mean().item<float>(), otherView = (other - s).abs().mean().item<float>();
        TestContext.Out.WriteLine($"mean |teacher view - student view| {sameView:F3}, another draw {otherView:F3}");
        Assert.That(sameView, Is.LessThan(otherView / 4), "teacher and student must see the same crop and flip");

        var byRound = Distil(packed, studentSpec, teacherSpec, Path.Combine(folder, "a"), stopAfterFirstRound: false);
        var stopped = Distil(packed, studentSpec, teacherSpec, Path.Combine(folder, "b"), stopAfterFirstRound: true);
        Assert.That(stopped.History, Has.Count.EqualTo(1));
        var resumed = Distil(packed, studentSpec, teacherSpec, Path.Combine(folder, "b"), stopAfterFirstRound: false);
        foreach (var (name, value) in byRound.Student.state_dict())
            Assert.That(value.eq(resumed.Student.state_dict()[name]).all().item<bool>(), Is.True, $"{name} differs after resuming");
        Assert.That(resumed.History.Select(h => h.Epoch), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(resumed.History[1].ValidationAccuracy, Is.EqualTo(byRound.History[1].ValidationAccuracy));
    }

    /// <summary>Two rounds of two steps (or the first only, as a run stopped there), into a fresh student, from the checkpoint when there is one.</summary>
    private static (Backbone Student, IReadOnlyList<EpochMetrics> History) Distil(PackedImages packed, PreprocessingSpec studentSpec, PreprocessingSpec teacherSpec,
        string checkpoint, bool stopAfterFirstRound)
    {
        using var stop = new CancellationTokenSource();
        manual_seed(1);
        var teacher = new ResNet(ResNet.BlockKind.Basic, [1, 1, 1, 1], numClasses: 0, width: 8);
        var student = new ResNet(ResNet.BlockKind.Basic, [1, 1, 1, 1], numClasses: 0, width: 4);
        var history = new FunctionMatchingDistiller(new FunctionMatchingOptions
        {
            Rounds = 2, StepsPerRound = 2, BatchSize = 4, HeldOut = 4, LearningRate = 1e-3, Seed = 5, CheckpointDirectory = checkpoint,
            OnRound = (_, _) => { if (stopAfterFirstRound) stop.Cancel(); },
        }).Distill(student, studentSpec, teacher, teacherSpec, packed, stop.Token);
        return (student, history);
    }
}
