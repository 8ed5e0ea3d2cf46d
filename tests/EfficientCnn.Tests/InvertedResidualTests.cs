using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>
/// One InvertedResidual serves four layouts; each must keep its reference checkpoint's names (state dicts load by
/// name) and its ONNX graph (node names come from the paths, and the residual Add's operand order is in the bytes).
/// </summary>
public sealed class InvertedResidualTests
{
    private static IEnumerable<TestCaseData> Layouts()
    {
        yield return new TestCaseData(MobileNetV2.CreateBlock(16, 16, 1, 6), true,
            new[] { "conv.0.0", "conv.0.1", "conv.1.0", "conv.1.1", "conv.2", "conv.3" }, new[] { "conv.0.0", "conv.1.0", "conv.2" }).SetName("TorchvisionMobileNetV2");
        yield return new TestCaseData(MobileNetV2.CreateBlock(16, 16, 1, 1), true,
            new[] { "conv.0.0", "conv.0.1", "conv.1", "conv.2" }, new[] { "conv.0.0", "conv.1" }).SetName("TorchvisionMobileNetV2WithoutExpansion");
        yield return new TestCaseData(MnasNet.CreateBlock(16, 16, 3, 1, 3, MnasNet.ReferenceBnMomentum), false,
            new[] { "layers.0", "layers.1", "layers.3", "layers.4", "layers.6", "layers.7" }, new[] { "layers.0", "layers.3", "layers.6" }).SetName("TorchvisionMnasNet");
        yield return new TestCaseData(EfficientNet.CreateBlock(new EfficientNet.StageConfig(6, 3, 1, 16, 16, 1), 0.1), false,
            new[] { "block.0.0", "block.0.1", "block.1.0", "block.1.1", "block.2.fc1", "block.2.fc2", "block.3.0", "block.3.1" },
            new[] { "block.0.0", "block.1.0", "block.2.fc1", "block.2.fc2", "block.3.0" }).SetName("TorchvisionEfficientNet");
        yield return new TestCaseData(new InvertedResidual(new InvertedResidualConfig(16, 48, 16, 5, 1, Activation.ReLU) { Expands = true, SqueezeChannels = 4 },
                InvertedResidualNames.Timm), false,
            new[] { "conv_pw", "bn1", "conv_dw", "bn2", "se.conv_reduce", "se.conv_expand", "conv_pwl", "bn3" },
            new[] { "conv_pw", "conv_dw", "se.conv_reduce", "se.conv_expand", "conv_pwl" }).SetName("Timm");
    }

    [TestCaseSource(nameof(Layouts))]
    public void KeepsItsReferenceNamesAndSumOrder(InvertedResidual block, bool inputFirst, string[] weightedParts, string[] convNodes)
    {
        using var _ = block;
        Assert.That(block.state_dict().Keys.Where(k => k.EndsWith(".weight")), Is.EqualTo(weightedParts.Select(p => p + ".weight")));
        var g = new OnnxGraphBuilder(block);
        g.Reserve("input");
        g.Export(block, "input");
        var add = g.Graph.Node.Single(n => n.OpType == "Add");
        Assert.That(add.Input.IndexOf("input"), Is.EqualTo(inputFirst ? 0 : 1));
        // Conv nodes are named after their module's path (each BatchNorm folded into its conv).
        Assert.That(g.Graph.Node.Where(n => n.OpType == "Conv").Select(n => n.Name.Split('/')[0]), Is.EqualTo(convNodes));
    }
}
