using EfficientCnn.Backbones.Training;
using NUnit.Framework;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Tests;

public class SoftmaxRegressionTests
{
    [Test]
    public void FitsSeparableFeaturesAndTheFoldedHeadScoresRawFeaturesTheSame()
    {
        random.manual_seed(4);
        // Three classes, features far from unit scale (x40), as pooled CNN features can be.
        var centres = randn(3, 16) * 40;
        var labels = arange(300).remainder(3);
        var features = centres.index_select(0, labels) + randn(300, 16) * 20;
        using var regression = new SoftmaxRegression(features, labels, 3);
        double first = regression.Step(0.01), last = first;
        for (int i = 0; i < 299; i++) last = regression.Step(0.01);
        Assert.That(last, Is.LessThan(first * 0.2), "full-batch steps lower the cross-entropy");
        Assert.That(regression.TrainAccuracy(), Is.GreaterThan(0.95));

        var linear = nn.Linear(16, 3);
        regression.CopyTo(linear);
        using var _ = no_grad();
        var expected = regression.Logits(features);
        var folded = linear.call(features);
        Assert.That((folded - expected).abs().max().item<float>(), Is.LessThan(1e-3 * expected.abs().max().item<float>()));
    }

    [Test]
    public void AllZeroFeaturesDoNotDivideByZero()
    {
        using var regression = new SoftmaxRegression(zeros(6, 4), tensor(new long[] { 0, 1, 0, 1, 0, 1 }), 2);
        Assert.That(double.IsFinite(regression.Step(0.01)), Is.True);
        Assert.That(regression.Logits(zeros(1, 4)).isfinite().all().item<bool>(), Is.True);
    }
}
