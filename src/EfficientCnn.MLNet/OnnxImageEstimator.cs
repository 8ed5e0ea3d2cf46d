using EfficientCnn.Backbones.Imaging;
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
        // SchemaShape.Column's constructor and SchemaShape.Create are internal: describe the columns as a DataViewSchema and convert it.
        var builder = new DataViewSchema.Builder();
        foreach (var column in inputSchema)
            builder.AddColumn(column.Name, ShapeType(column));
        var input = builder.ToSchema();
        return Persistence.MlNetInternals.ToSchemaShape(prototype.GetOutputSchema(input));
    }

    private static DataViewType ShapeType(SchemaShape.Column column)
    {
        var item = column.IsKey ? new KeyDataViewType(column.ItemType.RawType, 1) : column.ItemType;
        return column.Kind switch
        {
            SchemaShape.Column.VectorKind.Scalar => item,
            SchemaShape.Column.VectorKind.Vector => new VectorDataViewType((PrimitiveDataViewType)item, 1),
            _ => new VectorDataViewType((PrimitiveDataViewType)item),
        };
    }
}

/// <summary>ML.NET catalog entry points.</summary>
public static class EfficientCnnCatalogExtensions
{
    /// <summary>
    /// Scores images with an ONNX network (a featurizer or a classifier): adds <paramref name="outputColumnName"/>
    /// (float vector) and, when the model has labels, <paramref name="predictedLabelColumnName"/> (text). Images are
    /// decoded in parallel and the network runs in batches of <paramref name="batchSize"/>.
    /// </summary>
    public static OnnxImageEstimator ScoreImagesWithOnnx(this TransformsCatalog catalog, OnnxImageModel model,
        string outputColumnName = "Score", string inputColumnName = "ImagePath", string? predictedLabelColumnName = "PredictedLabel",
        string? imageFolder = null, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        return new OnnxImageEstimator(() => new OnnxImageTransformer(model, outputColumnName, inputColumnName, predictedLabelColumnName, imageFolder, batchSize));
    }

    /// <summary>Same as <see cref="ScoreImagesWithOnnx(TransformsCatalog, OnnxImageModel, string, string, string?, string?, int)"/> for an ONNX file.</summary>
    public static OnnxImageEstimator ScoreImagesWithOnnx(this TransformsCatalog catalog, string onnxPath, PreprocessingSpec preprocessing,
        IReadOnlyList<string>? labels = null, string outputColumnName = "Score", string inputColumnName = "ImagePath",
        string? imageFolder = null, int batchSize = 32) =>
        catalog.ScoreImagesWithOnnx(OnnxImageModel.FromFile(onnxPath, preprocessing, labels), outputColumnName, inputColumnName, "PredictedLabel", imageFolder, batchSize);
}
