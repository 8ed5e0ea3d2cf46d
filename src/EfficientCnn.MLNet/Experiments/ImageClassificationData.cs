using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace EfficientCnn.MLNet.Experiments;

/// <summary>
/// Labelled images ready for ML.NET training: the (ImagePath, Label) rows are keyed once (classes in ordinal order)
/// and split once (stratified, seeded), so every run of an experiment sees the same training and validation data.
/// </summary>
public sealed class ImageClassificationData
{
    private readonly MLContext ml;
    private readonly string sampleImage;

    /// <summary>Keys the labels and holds out <paramref name="validationFraction"/> of each class (0 for none).</summary>
    /// <param name="ml">The context the data views belong to.</param>
    /// <param name="data">Image files with class labels (a folder of class folders or a CSV).</param>
    /// <param name="validationFraction">Share of each class held out, in [0, 1).</param>
    /// <param name="seed">Seed of the split.</param>
    public ImageClassificationData(MLContext ml, ImageDataset data, double validationFraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(data);
        if (validationFraction is < 0 or >= 1)
            throw new ArgumentException($"validationFraction must be in [0, 1), got {validationFraction}.", nameof(validationFraction));
        this.ml = ml;
        var (trainPart, validationPart) = validationFraction > 0 ? data.StratifiedSplit(validationFraction, seed) : (data, null);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Fit(ImageData.ToDataView(ml, data));
        TrainView = keys.Transform(ImageData.ToDataView(ml, trainPart));
        Train = trainPart;
        if (validationPart is { Count: > 0 })
        {
            Validation = validationPart;
            ValidationView = keys.Transform(ImageData.ToDataView(ml, validationPart));
        }
        sampleImage = ImageData.PathOf(data.Items[0]);
    }

    /// <summary>The images trained on.</summary>
    public ImageDataset Train { get; }

    /// <summary>The held-out images, or null.</summary>
    public ImageDataset? Validation { get; }

    /// <summary>The training rows: <c>ImagePath</c> (text) and <c>Label</c> (key).</summary>
    public IDataView TrainView { get; }

    /// <summary>The held-out rows, or null.</summary>
    public IDataView? ValidationView { get; }

    /// <summary>The pipeline to save: the classifier, then its key-typed PredictedLabel mapped to the class name.</summary>
    public ITransformer Pipeline(OnnxImageTransformer scorer)
    {
        var sample = ImageData.ToDataView(ml, [sampleImage]);
        var toText = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scorer.Transform(sample));
        return new TransformerChain<ITransformer>(scorer, toText);
    }
}
