using EfficientCnn.Backbones;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

/// <summary>
/// A small synthetic task every family must learn: 2 classes of 3-channel images, horizontal stripes versus
/// vertical stripes under noise. A working network memorises a fixed batch quickly; a broken one (wrong wiring,
/// detached gradients, dead activations) does not.
/// </summary>
public static class LearningCheck
{
    /// <summary>Fixed images [n,3,size,size] and labels [n]: class 0 horizontal stripes, class 1 vertical.</summary>
    public static (Tensor Images, Tensor Labels) StripeBatch(int n, int size, int seed = 0)
    {
        var gen = new Generator((ulong)seed);
        var labels = arange(n) % 2;
        var coords = arange(size).to_type(ScalarType.Float32);
        var rows = (coords.unsqueeze(1) * 1.3f).sin().expand(size, size);   // varies along H: horizontal stripes
        var cols = (coords.unsqueeze(0) * 1.3f).sin().expand(size, size);   // varies along W: vertical stripes
        var pattern = where(labels.view(n, 1, 1, 1) == 0, rows, cols).expand(n, 3, size, size);
        var images = pattern + 0.5f * randn(new long[] { n, 3, size, size }, generator: gen);
        return (images.contiguous(), labels);
    }

    /// <summary>
    /// Trains <paramref name="model"/> (with a 2-class head) on one fixed batch and asserts the loss falls
    /// below <paramref name="ratio"/> of its starting value within <paramref name="steps"/> AdamW steps.
    /// </summary>
    public static void AssertLearns(Backbone model, int size = 32, int steps = 30, double ratio = 0.5, double lr = 3e-3, int batch = 16)
    {
        Assert.That(model.NumClasses, Is.EqualTo(2), "the learning check needs a 2-class head");
        random.manual_seed(0);
        var (x, y) = StripeBatch(batch, size);
        model.train();
        var optimizer = optim.AdamW(model.parameters(), lr: lr, weight_decay: 0);
        double first = double.NaN, last = double.NaN;
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            optimizer.step();
            last = loss.item<float>();
            if (step == 0) first = last;
        }
        // Score the batch after the last update in training mode (batch statistics): eval mode would also test how fast
        // BN running statistics converge, which for depthwise nets at momentum 0.1 takes ~100 steps and is not "learning".
        using (no_grad())
        {
            last = nn.functional.cross_entropy(model.call(x), y).item<float>();
        }
        model.eval();
        TestContext.Out.WriteLine($"{model.GetName()}: loss {first:F4} -> {last:F4} in {steps} steps ({torch.get_num_threads()} libtorch threads, DOTNET_JITMinOpts={Environment.GetEnvironmentVariable("DOTNET_JITMinOpts")})");
        Assert.That(double.IsFinite(last), Is.True, "loss must stay finite");
        Assert.That(last, Is.LessThan(first * ratio), $"loss should fall below {ratio:P0} of its start ({first:F4}); ended at {last:F4}");
    }
}
