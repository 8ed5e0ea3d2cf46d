using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

/// <summary>
/// A linear classifier fitted on frozen features the way a linear probe is: every step sees all the features, Adam,
/// an L2 penalty, no dropout or label smoothing. On cached features this converges where mini-batch training of a
/// dropout head picks an epoch from a noisy curve (docs/transfer.md: head-only on wesnoth-races). Features are used as
/// they are: standardizing them measured worse on stellarium's validation split, and dividing by their RMS folds a huge
/// head onto a random-init backbone's tiny features, which fine-tuning then blows up.
/// </summary>
public sealed class SoftmaxRegression : IDisposable
{
    /// <summary>
    /// Weight of the L2 penalty (sum of squared weights): of 1e-4, 1e-3, 3e-3 and 1e-2 the best mean (tied with 1e-4) on
    /// the validation parts of the two dev sets' training splits (ecnn_resnet18_tucker2_fm features, RMS 0.74-0.83).
    /// </summary>
    public const double L2 = 1e-3;

    private readonly Tensor features, labels;
    private readonly Parameter weight, bias;
    private readonly optim.Optimizer optimizer;

    /// <summary>Starts from zero weights on <paramref name="features"/> [N, D] with class indices <paramref name="labels"/> [N].</summary>
    public SoftmaxRegression(Tensor features, Tensor labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (features.shape[0] < 1) throw new ArgumentException("No features to fit.", nameof(features));
        this.features = features.detach();
        this.labels = labels; // the caller's: not disposed here
        weight = new Parameter(zeros(features.shape[1], classes, device: features.device));
        bias = new Parameter(zeros(classes, device: features.device));
        optimizer = optim.Adam([weight, bias], lr: 0.01);
    }

    /// <summary>One full-batch step at <paramref name="learningRate"/>; returns the cross-entropy before it (without the penalty).</summary>
    public double Step(double learningRate)
    {
        using var scope = NewDisposeScope();
        foreach (var group in optimizer.ParamGroups) group.LearningRate = learningRate;
        optimizer.zero_grad();
        var crossEntropy = nn.functional.cross_entropy(features.matmul(weight) + bias, labels);
        (crossEntropy + L2 * weight.pow(2).sum()).backward();
        optimizer.step();
        return crossEntropy.item<float>();
    }

    /// <summary>Fraction of the fitted features classified right.</summary>
    public double TrainAccuracy()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return (features.matmul(weight) + bias).argmax(1).eq(labels).to_type(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>Logits for <paramref name="rawFeatures"/>.</summary>
    public Tensor Logits(Tensor rawFeatures)
    {
        using var _ = no_grad();
        return rawFeatures.matmul(weight) + bias;
    }

    /// <summary>
    /// Writes the classifier into <paramref name="linear"/> (weight [classes, D]).
    /// </summary>
    public void CopyTo(Linear linear)
    {
        ArgumentNullException.ThrowIfNull(linear);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        linear.weight!.copy_(weight.t());
        linear.bias!.copy_(bias);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        optimizer.Dispose();
        foreach (var t in new[] { features, weight, bias }) t.Dispose(); // features: this class's detached view
    }
}
