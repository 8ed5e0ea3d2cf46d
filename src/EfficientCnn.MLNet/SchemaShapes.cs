using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientCnn.MLNet;

/// <summary>
/// Estimators answer GetOutputSchema on a <see cref="SchemaShape"/>, whose column constructor is internal to ML.NET:
/// describe the input as a <see cref="DataViewSchema"/>, let the transformer map it, and convert back.
/// </summary>
internal static class SchemaShapes
{
    public static SchemaShape Map(SchemaShape input, Func<DataViewSchema, DataViewSchema> map)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var column in input)
            builder.AddColumn(column.Name, ShapeType(column));
        return Persistence.MlNetInternals.ToSchemaShape(map(builder.ToSchema()));
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
