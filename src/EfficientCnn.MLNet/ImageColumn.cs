using EfficientCnn.Backbones.Imaging;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientCnn.MLNet;

/// <summary>The image column types the components read: file paths (text), encoded images (byte vector), <c>MLImage</c>.</summary>
internal static class ImageColumn
{
    public const string ExpectedTypes = "text (image file paths), a vector of bytes (encoded PNG/JPEG) or an image (MLImage)";

    /// <summary>Returns the column's index or throws naming the column and the expected types.</summary>
    public static int Check(DataViewSchema schema, string name)
    {
        var column = schema.GetColumnOrNull(name)
                     ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Image column '{name}' not found; the input has: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (!IsSupported(column.Type))
            throw new ArgumentOutOfRangeException(nameof(schema), $"Image column '{name}' is {column.Type}; expected {ExpectedTypes}.");
        return column.Index;
    }

    /// <summary>The same check on a schema shape (estimators' GetOutputSchema).</summary>
    public static void Check(SchemaShape shape, string name)
    {
        var found = shape.Where(c => c.Name == name).ToArray();
        if (found.Length == 0)
            throw new ArgumentOutOfRangeException(nameof(shape), $"Image column '{name}' not found; the input has: {string.Join(", ", shape.Select(c => c.Name))}.");
        var column = found[^1];
        bool ok = column.Kind == SchemaShape.Column.VectorKind.Scalar && (column.ItemType is TextDataViewType || column.ItemType.RawType == typeof(MLImage))
                  || column.Kind != SchemaShape.Column.VectorKind.Scalar && column.ItemType.RawType == typeof(byte);
        if (!ok) throw new ArgumentOutOfRangeException(nameof(shape), $"Image column '{name}' is {column.ItemType} ({column.Kind}); expected {ExpectedTypes}.");
    }

    private static bool IsSupported(DataViewType type) =>
        type is TextDataViewType
        || type is VectorDataViewType { ItemType: NumberDataViewType n } && n.RawType == typeof(byte)
        || type.RawType == typeof(MLImage);

    /// <summary>A function that reads the current row's image.</summary>
    public static Func<ImageInput> Reader(DataViewRow row, DataViewSchema.Column column, string? imageFolder)
    {
        if (column.Type is TextDataViewType)
        {
            var getter = row.GetGetter<ReadOnlyMemory<char>>(column);
            ReadOnlyMemory<char> text = default;
            return () =>
            {
                getter(ref text);
                string path = text.ToString();
                if (path.Length == 0) throw new InvalidDataException($"Column '{column.Name}', row {row.Position}: empty image path.");
                return ImageInput.FromFile(imageFolder is null ? path : Path.Combine(imageFolder, path));
            };
        }
        if (column.Type.RawType == typeof(MLImage))
        {
            var imageGetter = row.GetGetter<MLImage>(column);
            MLImage image = null!;
            return () =>
            {
                imageGetter(ref image);
                string name = $"{column.Name} at row {row.Position}";
                if (image is null) return ImageInput.FromBytes(ReadOnlyMemory<byte>.Empty, name);
                return ImageInput.FromPixels(ToRgba(image), image.Width, image.Height, name);
            };
        }
        var bytesGetter = row.GetGetter<VBuffer<byte>>(column);
        VBuffer<byte> bytes = default;
        return () =>
        {
            bytesGetter(ref bytes);
            var dense = new byte[bytes.Length];
            bytes.CopyTo(dense);
            return ImageInput.FromBytes(dense, $"{column.Name} at row {row.Position}");
        };
    }

    private static byte[] ToRgba(MLImage image)
    {
        var pixels = image.Pixels.ToArray();
        if (image.PixelFormat == MLPixelFormat.Bgra32)
            for (int i = 0; i < pixels.Length; i += 4) (pixels[i], pixels[i + 2]) = (pixels[i + 2], pixels[i]);
        return pixels;
    }
}
