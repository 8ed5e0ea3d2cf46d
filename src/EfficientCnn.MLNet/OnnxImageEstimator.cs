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

/// <summary>Options of the image featurizer (<see cref="EfficientCnnCatalogExtensions.FeaturizeImages(TransformsCatalog, ImageFeaturizerOptions)"/>).</summary>
public sealed record ImageFeaturizerOptions
{
    /// <summary>
    /// A bundled model name (models/*.onnx), a zoo variant or an architecture spec .json (random weights: for trying the
    /// pipeline, not for accuracy), or the path of any ONNX image model. Null: the default bundled backbone.
    /// </summary>
    public string? Backbone { get; init; }

    /// <summary>Graph output holding the features of a foreign ONNX file (default: "features", else its first output).</summary>
    public string? OutputTensorName { get; init; }

    /// <summary>Preprocessing to use instead of the one in the model's metadata (size, resize mode, mean/std, channel order).</summary>
    public PreprocessingSpec? Preprocessing { get; init; }

    /// <summary>Input resolution overriding the preprocessing's (efficient backbones accept any size above their minimum).</summary>
    public int? Resolution { get; init; }

    /// <summary>Columns, batching, bad images and device; the output column defaults to "Features".</summary>
    public ImageScoringOptions Scoring { get; init; } = new() { OutputColumnName = "Features", PredictedLabelColumnName = null };
}

/// <summary>ML.NET catalog entry points.</summary>
public static class EfficientCnnCatalogExtensions
{
    /// <summary>
    /// Scores images with an ONNX network (a featurizer or a classifier): adds a float vector column and, when the model
    /// has labels, a predicted label. Images are decoded in parallel and the network runs in batches.
    /// </summary>
    public static OnnxImageEstimator ScoreImagesWithOnnx(this TransformsCatalog catalog, OnnxImageModel model, ImageScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var validated = options.Validate();
        return new OnnxImageEstimator(() => new OnnxImageTransformer(model, validated));
    }

    /// <summary>Same as <see cref="ScoreImagesWithOnnx(TransformsCatalog, OnnxImageModel, ImageScoringOptions)"/> with the common options as arguments.</summary>
    public static OnnxImageEstimator ScoreImagesWithOnnx(this TransformsCatalog catalog, OnnxImageModel model,
        string outputColumnName = "Score", string inputColumnName = "ImagePath", string? predictedLabelColumnName = "PredictedLabel",
        string? imageFolder = null, int batchSize = 32) =>
        catalog.ScoreImagesWithOnnx(model, new ImageScoringOptions
        {
            OutputColumnName = outputColumnName, InputColumnName = inputColumnName, PredictedLabelColumnName = predictedLabelColumnName,
            ImageFolder = imageFolder, BatchSize = batchSize,
        });

    /// <summary>Same as <see cref="ScoreImagesWithOnnx(TransformsCatalog, OnnxImageModel, ImageScoringOptions)"/> for an ONNX file.</summary>
    public static OnnxImageEstimator ScoreImagesWithOnnx(this TransformsCatalog catalog, string onnxPath, PreprocessingSpec preprocessing,
        IReadOnlyList<string>? labels = null, string outputColumnName = "Score", string inputColumnName = "ImagePath",
        string? imageFolder = null, int batchSize = 32) =>
        catalog.ScoreImagesWithOnnx(OnnxImageModel.FromFile(onnxPath, preprocessing, labels), outputColumnName, inputColumnName, "PredictedLabel", imageFolder, batchSize);

    /// <summary>
    /// Turns images into feature vectors with an efficient backbone (pooled features, e.g. 1280 floats for MobileNetV2),
    /// ready for any ML.NET trainer (<c>LbfgsMaximumEntropy</c>, <c>SdcaMaximumEntropy</c>, <c>LightGbm</c>...).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Feature vector column.</param>
    /// <param name="inputColumnName">Image column: paths (text), encoded bytes (byte vector) or MLImage.</param>
    /// <param name="backbone">Bundled model name, zoo variant, or ONNX path; null for the default bundled backbone.</param>
    /// <param name="imageFolder">Folder relative paths start from.</param>
    /// <param name="batchSize">Images per network run.</param>
    public static OnnxImageEstimator FeaturizeImages(this TransformsCatalog catalog, string outputColumnName = "Features",
        string inputColumnName = "ImagePath", string? backbone = null, string? imageFolder = null, int batchSize = 32) =>
        catalog.FeaturizeImages(new ImageFeaturizerOptions
        {
            Backbone = backbone,
            Scoring = new ImageScoringOptions
            {
                OutputColumnName = outputColumnName, InputColumnName = inputColumnName, PredictedLabelColumnName = null,
                ImageFolder = imageFolder, BatchSize = batchSize,
            },
        });

    /// <summary>The image featurizer with all its options.</summary>
    /// <exception cref="ArgumentException">Unknown backbone name or impossible option (named).</exception>
    /// <exception cref="FileNotFoundException">The backbone file does not exist.</exception>
    /// <exception cref="InvalidDataException">The backbone file is not an ONNX image model.</exception>
    public static OnnxImageEstimator FeaturizeImages(this TransformsCatalog catalog, ImageFeaturizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        var source = BackboneSource.Resolve(options.Backbone);
        var spec = options.Preprocessing ?? source.DefaultPreprocessing();
        if (options.Resolution is { } r) spec = spec with { Resolution = r };
        var (onnx, output) = source.FeaturizerOnnx(options.OutputTensorName);
        var model = new OnnxImageModel(onnx, spec, labels: null, outputName: output, applySoftmax: false);
        var scoring = (options.Scoring with { PredictedLabelColumnName = null }).Validate();
        return new OnnxImageEstimator(() => new OnnxImageTransformer(model, scoring));
    }
}
