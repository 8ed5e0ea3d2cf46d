using EfficientCnn.MLNet;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

/// <summary>Shared pieces of the ONNX parity tests.</summary>
public static class OnnxAssert
{
    /// <summary>Random BN statistics and affine parameters, so that folding and BN export are actually exercised.</summary>
    public static void RandomizeBatchNorm(nn.Module model, Generator gen)
    {
        using var _ = no_grad();
        foreach (var (_, m) in model.named_modules())
            if (m is BatchNorm2d bn)
            {
                bn.running_mean!.copy_(randn(bn.num_features, generator: gen) * 0.1f);
                bn.running_var!.copy_(rand(bn.num_features, generator: gen) * 0.5f + 0.75f);
                bn.weight!.copy_(rand(bn.num_features, generator: gen) * 0.5f + 0.5f);
                bn.bias!.copy_(randn(bn.num_features, generator: gen) * 0.1f);
            }
    }

    /// <summary>Asserts max|reference − actual| ≤ 1e-4·max(1, max|reference|) and prints the difference.</summary>
    public static void Close(Tensor reference, Tensor actual, string what)
    {
        var (diff, maxAbs) = OnnxParity.Compare(reference, actual);
        TestContext.Out.WriteLine($"{what}: max|Δ| = {diff:E2} (max|y| = {maxAbs:F3})");
        Assert.That(diff, Is.LessThanOrEqualTo(OnnxParity.Tolerance(maxAbs)), what);
    }
}
