using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.MLNet;
using EfficientCnn.MLNet.Persistence;

// In the namespace every ML.NET program already imports, like ML.NET's own catalog extensions: mlContext.Transforms.* and
// mlContext.MulticlassClassification.Trainers.* show EfficientCnn's components with no extra using.
namespace Microsoft.ML;

/// <summary>
/// All ML.NET catalog entry points of EfficientCnn.MLNet: <c>mlContext.Transforms.FeaturizeImages</c>,
/// <c>mlContext.Transforms.ScoreImagesWithOnnx</c> and <c>mlContext.MulticlassClassification.Trainers.FineTuneImageClassifier</c>.
/// </summary>
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
        var validated = options.WithContext(MlNetInternals.SettingsOf(MlNetInternals.EnvironmentOf(catalog))).Validate();
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
            Backbone = BackboneSource.Resolve(backbone),
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
        var backbone = (options.Backbone ?? BackboneSource.Resolve(null)).WithPreprocessing(options.Preprocessing, options.Resolution);
        var (onnx, output) = backbone.FeaturizerOnnx(options.OutputTensorName);
        var model = new OnnxImageModel(onnx, backbone.Preprocessing, labels: null, outputName: output, applySoftmax: false);
        var scoring = (options.Scoring with { PredictedLabelColumnName = null }).WithContext(MlNetInternals.SettingsOf(MlNetInternals.EnvironmentOf(catalog))).Validate();
        return new OnnxImageEstimator(() => new OnnxImageTransformer(model, scoring));
    }

    /// <summary>
    /// Fine-tunes an efficient CNN (a bundled backbone, a zoo variant or an ONNX file) on labelled images with TorchSharp
    /// and returns a transformer scoring with ONNX Runtime (<c>Score</c>, key-typed <c>PredictedLabel</c>).
    /// </summary>
    public static ImageClassifierTrainer FineTuneImageClassifier(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        ImageClassifierTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new ImageClassifierTrainer(options, MlNetInternals.EnvironmentOf(catalog));
    }

    /// <summary>Same as <see cref="FineTuneImageClassifier(MulticlassClassificationCatalog.MulticlassClassificationTrainers, ImageClassifierTrainerOptions)"/> with the common options as arguments.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">Label column (a key).</param>
    /// <param name="imageColumnName">Image column: paths (text), encoded bytes (byte vector) or MLImage.</param>
    /// <param name="backbone">Bundled model name, zoo variant, ONNX path or architecture spec .json; null for the default bundled backbone.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="resolution">Input size; null for the backbone's.</param>
    public static ImageClassifierTrainer FineTuneImageClassifier(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string imageColumnName = "ImagePath", string? backbone = null, int epochs = 10, int? resolution = null) =>
        catalog.FineTuneImageClassifier(new ImageClassifierTrainerOptions
        {
            LabelColumnName = labelColumnName, Backbone = BackboneSource.Resolve(backbone), Resolution = resolution,
            Training = new() { Epochs = epochs }, Scoring = new() { InputColumnName = imageColumnName },
        });
}
