using EfficientCnn.Backbones.Imaging;
using EfficientCnn.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace EfficientCnn.MLNet;

/// <summary>
/// Scores images with an ONNX network: reads an image column (file paths as text, or encoded bytes as a byte vector),
/// preprocesses with <see cref="ImagePreprocessor"/> (decoding in parallel) and runs ONNX Runtime in batches of
/// <see cref="BatchSize"/>. Adds a float vector column (features, or class probabilities) and, for classifiers, a
/// predicted-label text column. <c>mlContext.Model.Save</c> stores it in the model zip with the ONNX network as the
/// entry <c>Model.onnx</c>, and <c>mlContext.Model.Load</c> restores it in any process where EfficientCnn.MLNet is
/// loaded (see <see cref="ModelLoaderAssembly"/>).
/// </summary>
public sealed class OnnxImageTransformer : ITransformer, ICanSaveModel, IDisposable
{
    internal const string LoaderSignature = "EfficientCnnOnnxImage";
    private const string ModelSignature = "ECNNONNX";
    private const uint FormatVersion = 0x00010001;
    private const string OnnxEntryName = "Model.onnx";

    private readonly Lazy<OnnxImageScorer> scorer;
    private readonly ImagePreprocessor preprocessor;

    /// <summary>Creates the transformer; the ONNX session is created on first use.</summary>
    public OnnxImageTransformer(OnnxImageModel model, string outputColumnName = "Score", string inputColumnName = "ImagePath",
        string? predictedLabelColumnName = "PredictedLabel", string? imageFolder = null, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        ArgumentException.ThrowIfNullOrEmpty(inputColumnName);
        if (batchSize < 1) throw new ArgumentException($"Batch size must be at least 1, got {batchSize}.", nameof(batchSize));
        Model = model;
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        PredictedLabelColumnName = model.Labels is null || string.IsNullOrEmpty(predictedLabelColumnName) ? null : predictedLabelColumnName;
        ImageFolder = string.IsNullOrEmpty(imageFolder) ? null : imageFolder;
        BatchSize = batchSize;
        preprocessor = new ImagePreprocessor(model.Preprocessing);
        scorer = new Lazy<OnnxImageScorer>(() => new OnnxImageScorer(model), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The network and its preprocessing.</summary>
    public OnnxImageModel Model { get; }

    /// <summary>Column the image paths or bytes are read from.</summary>
    public string InputColumnName { get; }

    /// <summary>Float vector column written (features or probabilities).</summary>
    public string OutputColumnName { get; }

    /// <summary>Text column with the most probable label, or null (no labels).</summary>
    public string? PredictedLabelColumnName { get; }

    /// <summary>Folder relative image paths are resolved against, or null.</summary>
    public string? ImageFolder { get; }

    /// <summary>Images run through the network at once.</summary>
    public int BatchSize { get; }

    /// <summary>Length of the output vector (opens the ONNX session).</summary>
    public int OutputLength => scorer.Value.OutputLength;

    bool ITransformer.IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckImageColumn(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, OutputLength));
        if (PredictedLabelColumnName is not null) builder.AddColumn(PredictedLabelColumnName, TextDataViewType.Instance);
        return builder.ToSchema();
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new ScoredDataView(this, input);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new RowMapper(this, inputSchema);

    /// <summary>Scores images directly (preprocessing in parallel, the network in batches); one output row per image.</summary>
    public float[][] Score(IReadOnlyList<ImageInput> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        int len = OutputLength;
        var flat = new float[images.Count * len];
        for (int start = 0; start < images.Count; start += BatchSize)
        {
            int n = Math.Min(BatchSize, images.Count - start);
            var chunk = new float[n * len];
            ScoreBatch(images.Skip(start).Take(n).ToArray(), chunk);
            chunk.CopyTo(flat, start * len);
        }
        return Enumerable.Range(0, images.Count).Select(i => flat.AsSpan(i * len, len).ToArray()).ToArray();
    }

    /// <summary>Releases the ONNX Runtime session.</summary>
    public void Dispose()
    {
        if (scorer.IsValueCreated) scorer.Value.Dispose();
    }

    internal void ScoreBatch(IReadOnlyList<ImageInput> images, float[] output)
    {
        var pixels = new float[images.Count * preprocessor.TensorLength];
        preprocessor.PreprocessBatch(images, pixels);
        scorer.Value.Score(pixels, images.Count, output);
    }

    internal string? Label(ReadOnlySpan<float> scores)
    {
        if (Model.Labels is null) return null;
        int best = 0;
        for (int i = 1; i < scores.Length; i++) if (scores[i] > scores[best]) best = i;
        return best < Model.Labels.Count ? Model.Labels[best] : best.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    internal int CheckImageColumn(DataViewSchema schema)
    {
        var column = schema.GetColumnOrNull(InputColumnName)
                     ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Input column '{InputColumnName}' not found.");
        bool ok = column.Type is TextDataViewType || column.Type is VectorDataViewType { ItemType: NumberDataViewType n } && n.RawType == typeof(byte);
        if (!ok) throw new ArgumentOutOfRangeException(nameof(schema), $"Input column '{InputColumnName}' is {column.Type}; expected text (image paths) or a byte vector (encoded images).");
        return column.Index;
    }

    /// <summary>A function that reads the current row's image as an <see cref="ImageInput"/>.</summary>
    internal Func<ImageInput> ImageReader(DataViewRow row, DataViewSchema.Column column)
    {
        if (column.Type is TextDataViewType)
        {
            var getter = row.GetGetter<ReadOnlyMemory<char>>(column);
            ReadOnlyMemory<char> text = default;
            return () =>
            {
                getter(ref text);
                string path = text.ToString();
                return ImageInput.FromFile(ImageFolder is null ? path : Path.Combine(ImageFolder, path));
            };
        }
        var bytesGetter = row.GetGetter<VBuffer<byte>>(column);
        VBuffer<byte> bytes = default;
        return () =>
        {
            bytesGetter(ref bytes);
            var dense = new byte[bytes.Length];
            bytes.CopyTo(dense);
            return ImageInput.FromBytes(dense, $"{InputColumnName} at row {row.Position}");
        };
    }

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        MlNetInternals.CheckAtModel(ctx);
        MlNetInternals.SetVersionInfo(ctx, VersionInfo());
        var w = MlNetInternals.Writer(ctx);
        w.Write(InputColumnName);
        w.Write(OutputColumnName);
        w.Write(PredictedLabelColumnName ?? "");
        w.Write(ImageFolder ?? "");
        w.Write(BatchSize);
        w.Write(Model.Preprocessing.ToJson());
        w.Write(Model.InputName ?? "");
        w.Write(Model.OutputName ?? "");
        w.Write(Model.ApplySoftmax);
        w.Write(Model.Labels?.Count ?? -1);
        foreach (var label in Model.Labels ?? []) w.Write(label);
        // The network goes into its own zip entry (extractable as a plain .onnx file) when saving to a repository.
        bool separate = MlNetInternals.InRepository(ctx);
        w.Write(separate);
        if (separate)
            MlNetInternals.SaveBinaryStream(ctx, OnnxEntryName, bw => bw.Write(Model.Onnx));
        else
        {
            w.Write(Model.Onnx.Length);
            w.Write(Model.Onnx);
        }
    }

    /// <summary>Called by ML.NET (through the emitted loader shim) with its internal ModelLoadContext.</summary>
    internal static OnnxImageTransformer LoadFromModelContext(IHostEnvironment env, object ctx)
    {
        MlNetInternals.CheckAtModel(ctx, VersionInfo());
        var r = MlNetInternals.Reader(ctx);
        string input = r.ReadString(), output = r.ReadString(), predicted = r.ReadString(), folder = r.ReadString();
        int batch = r.ReadInt32();
        var spec = PreprocessingSpec.FromJson(r.ReadString());
        string inputName = r.ReadString(), outputName = r.ReadString();
        bool softmax = r.ReadBoolean();
        int labelCount = r.ReadInt32();
        string[]? labels = labelCount < 0 ? null : Enumerable.Range(0, labelCount).Select(_ => r.ReadString()).ToArray();
        byte[]? onnx = null;
        if (r.ReadBoolean())
        {
            if (!MlNetInternals.TryLoadBinaryStream(ctx, OnnxEntryName, br =>
                {
                    using var copy = new MemoryStream();
                    br.BaseStream.CopyTo(copy);
                    onnx = copy.ToArray();
                }))
                throw new InvalidDataException($"The model zip lacks the entry '{OnnxEntryName}' holding the ONNX network.");
        }
        else
            onnx = r.ReadBytes(r.ReadInt32());

        var model = new OnnxImageModel(onnx!, spec, labels, inputName.Length == 0 ? null : inputName, outputName.Length == 0 ? null : outputName, softmax);
        return new OnnxImageTransformer(model, output, input, predicted.Length == 0 ? null : predicted, folder.Length == 0 ? null : folder, batch);
    }

    private static object VersionInfo() =>
        MlNetInternals.NewVersionInfo(ModelSignature, FormatVersion, ModelLoaderAssembly.AssemblyName, LoaderSignature);
}
