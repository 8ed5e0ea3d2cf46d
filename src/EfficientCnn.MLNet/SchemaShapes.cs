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
            builder.AddColumn(column.Name, ShapeType(column), Annotations(column.Annotations));
        return Persistence.MlNetInternals.ToSchemaShape(map(builder.ToSchema()));
    }

    // A shape carries the kinds and types of a column's annotations (KeyValues, SlotNames, ...), not their values; they
    // must survive the round trip (a trainer downstream copies the label's KeyValues to its PredictedLabel).
    private static DataViewSchema.Annotations? Annotations(SchemaShape annotations)
    {
        if (!annotations.Any()) return null;
        var builder = new DataViewSchema.Annotations.Builder();
        foreach (var a in annotations)
        {
            var type = ShapeType(a);
            var add = typeof(SchemaShapes).GetMethod(nameof(AddDefault), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(type.RawType);
            add.Invoke(null, [builder, a.Name, type]);
        }
        return builder.ToAnnotations();
    }

    private static void AddDefault<T>(DataViewSchema.Annotations.Builder builder, string name, DataViewType type) =>
        builder.Add(name, type, (ref T value) => value = default!);

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
