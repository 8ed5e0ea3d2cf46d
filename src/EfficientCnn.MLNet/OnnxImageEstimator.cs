using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Registry;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientCnn.MLNet;

/// <summary>Estimator for <see cref="OnnxImageTransformer"/>: nothing to learn, Fit checks the input column.</summary>
public sealed class OnnxImageEstimator : IEstimator<OnnxImageTransformer>
{
    private readonly Func<OnnxImageTransformer> create;
    private readonly OnnxImageTransformer prototype;

    internal OnnxImageEstimator(Func<OnnxImageTransformer> create)
    {
        this.create = create;
        prototype = create();
    }

    /// <inheritdoc />
    public OnnxImageTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = create();
        transformer.CheckImageColumn(input.Schema);
        return transformer;
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ImageColumn.Check(inputSchema, prototype.InputColumnName);
        return SchemaShapes.Map(inputSchema, prototype.GetOutputSchema);
    }
}

/// <summary>Options of the image featurizer (<see cref="Microsoft.ML.EfficientCnnCatalogExtensions.FeaturizeImages(TransformsCatalog, ImageFeaturizerOptions)"/>).</summary>
public sealed record ImageFeaturizerOptions
{
    /// <summary>
    /// The backbone, resolved once (<see cref="BackboneSource.Resolve"/>: a bundled model name, a zoo variant or an
    /// architecture spec .json (random weights: for trying the pipeline, not for accuracy), or the path of any ONNX image
    /// model); its <see cref="BackboneSource.Preprocessing"/> is used unless overridden. Null: the default bundled backbone.
    /// </summary>
    public BackboneSource? Backbone { get; init; }

    /// <summary>Graph output holding the features of a foreign ONNX file (default: "features", else its first output).</summary>
    public string? OutputTensorName { get; init; }

    /// <summary>Preprocessing to use instead of the backbone's own (size, resize mode, mean/std, channel order).</summary>
    public PreprocessingSpec? Preprocessing { get; init; }

    /// <summary>Input resolution overriding the preprocessing's (efficient backbones accept any size above their minimum).</summary>
    public int? Resolution { get; init; }

    /// <summary>Columns, batching, bad images and device; the output column defaults to "Features".</summary>
    public ImageScoringOptions Scoring { get; init; } = new() { OutputColumnName = "Features", PredictedLabelColumnName = null };
}
