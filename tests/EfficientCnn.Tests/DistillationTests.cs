using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

public class DistillationTests
{
    private string folder = "";

    [SetUp]
    public void SetUp() => folder = TrainingFixtures.TempFolder("kd");

    [TearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    [Test]
    public void StudentFeaturesMoveTowardsTheTeachersAndResumeContinues()
    {
        TrainingFixtures.WriteStripes(folder, 20, 32);
        var data = ImageDataset.FromFolder(folder);
        var spec = new PreprocessingSpec { Resolution = 32, ResizeMode = ResizeMode.Stretch };
        random.manual_seed(1);
        var teacher = new TinyNet();
        random.manual_seed(2);
        var student = new TinyNet();
        string ckpt = Path.Combine(folder, "ckpt");
        var options = new DistillationOptions { Epochs = 8, BatchSize = 8, LearningRate = 1e-2, Seed = 3, CheckpointDirectory = ckpt };
        var history = new FeatureDistiller(options with { Epochs = 2 }).Distill(student, spec, teacher, spec, data);
        Assert.That(history.Select(h => h.Epoch), Is.EqualTo(new[] { 1, 2 }));
        var resumed = new FeatureDistiller(options).Distill(student, spec, teacher, spec, data);
        Assert.That(resumed.Select(h => h.Epoch), Is.EqualTo(Enumerable.Range(1, 8)), "the checkpoint's two epochs are kept and six more run");
        TestContext.Out.WriteLine(string.Join(" ", resumed.Select(h => $"{h.TrainAccuracy:F3}/{h.ValidationAccuracy:F3}")));
        Assert.That(resumed[^1].TrainLoss, Is.LessThan(resumed[0].TrainLoss * 0.7), "cosine distance to the teacher's features falls");
        Assert.That(resumed[^1].ValidationAccuracy!.Value, Is.GreaterThan(resumed[0].ValidationAccuracy!.Value), "and on held-out images");
    }

    [Test]
    public void MlNetResNet18MeanImageBecomesABgrSpec()
    {
        string prep = Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        Assume.That(File.Exists(prep), "the ResNet18 package copies its files next to the tests");
        var spec = MeanImagePreprocessing.Read(prep, 224);
        Assert.That(spec.ChannelOrder, Is.EqualTo(ChannelOrder.Bgr));
        Assert.That(spec.Std, Is.All.EqualTo(1 / 255f));
        Assert.That(spec.Mean, Is.All.InRange(0.3f, 0.6f), "Caffe ImageNet means (about 104, 117, 123) / 255");
        var e = Assert.Throws<InvalidDataException>(() => MeanImagePreprocessing.Read(
            Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx"), 224));
        Assert.That(e!.Message, Does.Contain("MeanImage"));
    }
}
