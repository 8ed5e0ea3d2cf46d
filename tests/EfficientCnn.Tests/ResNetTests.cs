using EfficientCnn.Backbones.Architectures;
using NUnit.Framework;

namespace EfficientCnn.Tests;

public sealed class ResNetTests
{
    [Test]
    public void StateDictNamesMatchTorchvision()
    {
        using var model = new ResNet(ResNet.BlockKind.Bottleneck, [3, 4, 6, 3]);
        var names = model.state_dict().Keys.ToHashSet();
        // A sample of torchvision resnet50's keys, including a downsample branch and BN buffers.
        foreach (var key in new[] { "conv1.weight", "bn1.running_mean", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.num_batches_tracked",
                     "layer4.2.conv3.weight", "layer4.2.bn3.bias", "fc.weight", "fc.bias" })
            Assert.That(names, Does.Contain(key));
        Assert.That(model.FeatureDim, Is.EqualTo(2048));
    }

    [Test]
    public void TinyResNetLearns() =>
        LearningCheck.AssertLearns(new ResNet(ResNet.BlockKind.Basic, [1, 1, 1, 1], numClasses: 2, width: 8));
}
