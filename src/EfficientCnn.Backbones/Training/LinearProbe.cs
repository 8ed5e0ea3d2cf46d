using EfficientCnn.Backbones.Imaging;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

/// <summary>
/// How well a backbone's frozen features separate a labelled set: a softmax regression on standardized features, trained
/// on one split and scored on another (the linear-probe protocol of representation learning). The images are decoded
/// once, so the probe can follow a distillation run round by round.
/// </summary>
public sealed class LinearProbe
{
    private readonly Tensor trainInput, validationInput, trainLabels, validationLabels;
    private readonly int classes;

    /// <summary>Decodes <paramref name="train"/> and <paramref name="validation"/> with <paramref name="spec"/>'s evaluation preprocessing.</summary>
    public LinearProbe(string name, ImageDataset train, ImageDataset validation, PreprocessingSpec spec)
    {
        Name = name;
        classes = train.Classes.Count;
        (trainInput, trainLabels) = Decode(train, spec);
        (validationInput, validationLabels) = Decode(validation, spec);
    }

    /// <summary>Full-batch steps of the softmax regression.</summary>
    private const int Steps = 300;

    /// <summary>What the probe measures (shown in logs and metrics).</summary>
    public string Name { get; }

    /// <summary>Validation accuracy of a softmax regression on <paramref name="backbone"/>'s features (eval mode, no gradients).</summary>
    public double Accuracy(Backbone backbone)
    {
        using var scope = NewDisposeScope();
        backbone.eval();
        Tensor trainFeatures, validationFeatures;
        using (no_grad())
        {
            trainFeatures = Features(backbone, trainInput);
            validationFeatures = Features(backbone, validationInput);
        }
        using var regression = new SoftmaxRegression(trainFeatures, trainLabels, classes);
        for (int step = 0; step < Steps; step++) regression.Step(0.01);
        return regression.Logits(validationFeatures).argmax(1).eq(validationLabels).to_type(ScalarType.Float32).mean().item<float>();
    }

    private static Tensor Features(Backbone backbone, Tensor input)
    {
        var parts = new List<Tensor>();
        for (long i = 0; i < input.shape[0]; i += 64)
            parts.Add(backbone.ForwardFeatures(input.narrow(0, i, Math.Min(64, input.shape[0] - i))));
        return cat(parts, 0);
    }

    private static (Tensor Input, Tensor Labels) Decode(ImageDataset data, PreprocessingSpec spec)
    {
        var loader = new ImageBatchLoader(spec, 64, BadImagePolicy.Skip);
        var inputs = new List<Tensor>();
        var labels = new List<long>();
        foreach (var batch in loader.Batches(data))
        {
            inputs.Add(ClassifierTrainer.ToInput(batch, spec.Resolution, CPU).clone().DetachFromDisposeScope());
            labels.AddRange(batch.Rows.Select(r => (long)data.Items[r].Label));
        }
        if (labels.Count == 0) throw new InvalidDataException($"{data.Source}: no readable images for the linear probe.");
        return (cat(inputs, 0).DetachFromDisposeScope(), tensor(labels.ToArray()).DetachFromDisposeScope());
    }
}
