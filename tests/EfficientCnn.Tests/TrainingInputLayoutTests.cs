using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

/// <summary>
/// Training must see the features that ONNX Runtime computes for the exported model. libtorch 2.10's CPU 1x1 stride-2
/// convolution (ResNet's stage-4 shortcut, 256->512 channels) is wrong on channels-last input: when the training input
/// was channels-last, head-only models scored 4 points lower on wesnoth-races' test split than the same head fitted on
/// ONNX Runtime features (docs/known-issues.md).
/// </summary>
public class TrainingInputLayoutTests
{
    [Test]
    public void ClassifierInputGivesTheFeaturesOfAContiguousTensor()
    {
        var spec = new PreprocessingSpec { Resolution = 64, ResizeMode = ResizeMode.Stretch };
        var data = ImageDataset.FromFolder(TrainingFixtures.Clipart4);
        var batch = new ImageBatchLoader(spec, 4).Load(data, [0, 60, 120, 180]);
        AssertSameFeatures(ClassifierTrainer.ToInput(batch, spec.Resolution, CPU), tensor(batch.Pixels, [4, 3, 64, 64]));
    }

    [Test]
    public void DistillationInputGivesTheFeaturesOfAContiguousTensor()
    {
        random.manual_seed(1);
        var rgb = rand(4, 3, 64, 64) * 255;
        var normalized = FunctionMatchingDistiller.Normalize(rgb, PreprocessingSpec.ImageNet(64));
        AssertSameFeatures(normalized, normalized.contiguous().clone());
    }

    private static void AssertSameFeatures(Tensor input, Tensor contiguous)
    {
        using var _ = no_grad();
        random.manual_seed(0);
        var resnet = BackboneRegistry.Create("resnet18");
        resnet.eval();
        var expected = resnet.ForwardFeatures(contiguous);
        var actual = resnet.ForwardFeatures(input);
        double relative = ((actual - expected).abs().max() / expected.abs().max()).item<float>();
        Assert.That(relative, Is.LessThan(1e-4), "features differ from those of the contiguous input (channels-last training input?)");
    }
}
