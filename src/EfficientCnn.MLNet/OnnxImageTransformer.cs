using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace EfficientCnn.MLNet;

/// <summary>
/// Scores images with an ONNX network: reads an image column (file paths as text, encoded bytes as a byte vector, or
/// <c>MLImage</c>), preprocesses with <see cref="ImagePreprocessor"/> (decoding in parallel) and runs ONNX Runtime in
/// batches of <see cref="BatchSize"/>, streaming (memory holds one batch whatever the number of rows). Adds a float
/// vector column (features, or class probabilities) and, for classifiers, a predicted-label column (text or key).
/// Thread safety: one transformer may score from many threads at once (ONNX Runtime sessions are thread-safe and the
/// preprocessing is immutable); each thread needs its own cursor or prediction engine, as everywhere in ML.NET. <c>mlContext.Model.Save</c> stores it in the model zip with the ONNX network as the
/// entry <c>Model.onnx</c>, and plain <c>mlContext.Model.Load</c> restores it in any process that references
/// EfficientCnn.MLNet, with no call of ours first (see <see cref="ModelLoaderAssembly"/>).
/// </summary>
[ModelLoader(LoaderSignature)]
public sealed class OnnxImageTransformer : ISingleFeaturePredictionTransformer<OnnxImageModel>, IDisposable
{
    internal const string LoaderSignature = "EfficientCnnOnnxImage";
    private const string ModelSignature = "ECNNONNX";
    private const uint FormatVersion = 0x00010002;
    private const string OnnxEntryName = "Model.onnx";

    private readonly Lazy<OnnxImageScorer> scorer;
    private readonly ImagePreprocessor preprocessor;

    /// <summary>Creates the transformer; the ONNX session is created on first use.</summary>
    public OnnxImageTransformer(OnnxImageModel model, ImageScoringOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Options = (options ?? new ImageScoringOptions()).Validate();
        if (model.Labels is null || string.IsNullOrEmpty(Options.PredictedLabelColumnName))
            Options = Options with { PredictedLabelColumnName = null };
        preprocessor = new ImagePreprocessor(model.Preprocessing);
        scorer = new Lazy<OnnxImageScorer>(() => new OnnxImageScorer(model, Options.GpuDeviceId, Options.FallbackToCpu ?? false, Options.IntraOpThreads),
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The network and its preprocessing.</summary>
    public OnnxImageModel Model { get; }

    /// <summary>Columns, batching, bad-image policy and device.</summary>
    public ImageScoringOptions Options { get; }

    /// <summary>Column the images are read from.</summary>
    public string InputColumnName => Options.InputColumnName;

    /// <summary>Float vector column written (features or probabilities).</summary>
    public string OutputColumnName => Options.OutputColumnName;

    /// <summary>The image column, as ML.NET's prediction transformers name their input (<see cref="InputColumnName"/>).</summary>
    string ISingleFeaturePredictionTransformer<OnnxImageModel>.FeatureColumnName => InputColumnName;

    /// <summary>Images are read as file paths by default (byte vectors and MLImage are accepted as well).</summary>
    DataViewType ISingleFeaturePredictionTransformer<OnnxImageModel>.FeatureColumnType => TextDataViewType.Instance;

    /// <summary>Predicted label column, or null (no labels).</summary>
    public string? PredictedLabelColumnName => Options.PredictedLabelColumnName;

    /// <summary>Folder relative image paths are resolved against, or null.</summary>
    public string? ImageFolder => Options.ImageFolder;

    /// <summary>Images run through the network at once.</summary>
    public int BatchSize => Options.BatchSize;

    /// <summary>Length of the output vector (opens the ONNX session).</summary>
    public int OutputLength => scorer.Value.OutputLength;

    /// <summary>Whether ONNX Runtime runs this model on a GPU (opens the session).</summary>
    public bool RunsOnGpu => scorer.Value.OnGpu;

    /// <summary>Rows left out under <see cref="BadImagePolicy.Skip"/>, over every transform so far.</summary>
    public BadImageReport BadImages { get; } = new();

    bool ITransformer.IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckImageColumn(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        var labelNames = Model.Labels is null ? null : LabelNames();
        DataViewSchema.Annotations? slotNames = null;
        if (labelNames is not null && labelNames.Length == OutputLength)
        {
            var annotations = new DataViewSchema.Annotations.Builder();
            annotations.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, labelNames.Length), NamesGetter(labelNames));
            // What ML.NET's multiclass trainers put on their Score column (AnnotationUtils.Kinds / ScoreColumnKind / ScoreValueKind),
            // so evaluators and tools that look for a multiclass score column find this one.
            annotations.Add(ScoreColumnKindAnnotation, TextDataViewType.Instance, TextGetter("MulticlassClassification"));
            annotations.Add(ScoreValueKindAnnotation, TextDataViewType.Instance, TextGetter("Score"));
            slotNames = annotations.ToAnnotations();
        }
        builder.AddColumn(OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, OutputLength), slotNames);
        if (PredictedLabelColumnName is not null)
        {
            if (Options.PredictedLabelKind == PredictedLabelKind.Text)
                builder.AddColumn(PredictedLabelColumnName, TextDataViewType.Instance);
            else
            {
                var annotations = new DataViewSchema.Annotations.Builder();
                annotations.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, labelNames!.Length), NamesGetter(labelNames));
                builder.AddColumn(PredictedLabelColumnName, new KeyDataViewType(typeof(uint), labelNames.Length), annotations.ToAnnotations());
            }
        }
        return builder.ToSchema();
    }

    internal const string ScoreColumnKindAnnotation = "ScoreColumnKind";
    internal const string ScoreValueKindAnnotation = "ScoreValueKind";

    private static ValueGetter<ReadOnlyMemory<char>> TextGetter(string value) => (ref ReadOnlyMemory<char> v) => v = value.AsMemory();

    // ML.NET's AddSlotNames/AddKeyValues helpers are internal; these are the annotation kinds they write.
    private static ValueGetter<VBuffer<ReadOnlyMemory<char>>> NamesGetter(ReadOnlyMemory<char>[] names) =>
        (ref VBuffer<ReadOnlyMemory<char>> v) => v = new VBuffer<ReadOnlyMemory<char>>(names.Length, names);

    private ReadOnlyMemory<char>[] LabelNames() => Model.Labels!.Select(l => l.AsMemory()).ToArray();

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new ScoredDataView(this, input);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new RowMapper(this, inputSchema);

    /// <summary>Scores images directly (preprocessing in parallel, the network in batches); one output row per image.</summary>
    /// <exception cref="InvalidDataException">An image cannot be read; the message names it and its index.</exception>
    public float[][] Score(IReadOnlyList<ImageInput> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        int len = OutputLength;
        var result = new float[images.Count][];
        for (int start = 0; start < images.Count; start += BatchSize)
        {
            int n = Math.Min(BatchSize, images.Count - start);
            var chunk = new float[n * len];
            var rows = Enumerable.Range(start, n).Select(i => (long)i).ToArray();
            ScoreBatch(images.Skip(start).Take(n).ToArray(), rows, chunk, BadImagePolicy.Throw);
            for (int i = 0; i < n; i++) result[start + i] = chunk.AsSpan(i * len, len).ToArray();
        }
        return result;
    }

    /// <summary>Releases the ONNX Runtime session.</summary>
    public void Dispose()
    {
        if (scorer.IsValueCreated) scorer.Value.Dispose();
    }

    /// <summary>
    /// Preprocesses the batch in parallel and scores it. Returns per image whether it could be read; unreadable images
    /// throw (naming the image and its row) or, under <see cref="BadImagePolicy.Skip"/>, are recorded and marked false.
    /// </summary>
    internal bool[] ScoreBatch(IReadOnlyList<ImageInput> images, IReadOnlyList<long> rows, float[] output, BadImagePolicy policy)
    {
        var batch = PreprocessBatch(images, rows, policy);
        RunBatch(batch, output);
        return batch.Readable;
    }

    /// <summary>A preprocessed batch: pixels for the network and which images could be read.</summary>
    internal sealed record PreparedBatch(float[] Pixels, int Count, bool[] Readable);

    /// <summary>Runs the network on a prepared batch (images that could not be read are zeros and marked unreadable).</summary>
    internal void RunBatch(PreparedBatch batch, float[] output) => scorer.Value.Score(batch.Pixels, batch.Count, output);

    /// <summary>Decodes and preprocesses the images in parallel; unreadable ones throw (naming image and row) or are recorded per <paramref name="policy"/>.</summary>
    internal PreparedBatch PreprocessBatch(IReadOnlyList<ImageInput> images, IReadOnlyList<long> rows, BadImagePolicy policy)
    {
        int len = preprocessor.TensorLength;
        var pixels = new float[images.Count * len];
        var errors = ImagePreprocessor.ForEachImage(images.Count, i => preprocessor.Preprocess(images[i], pixels.AsSpan(i * len, len)));
        for (int i = 0; i < images.Count; i++)
        {
            if (errors[i] is not { } error) continue;
            if (policy == BadImagePolicy.Throw)
                throw new InvalidDataException($"Column '{InputColumnName}', row {rows[i]}: image '{images[i].Name}' cannot be used: {error.Message}", error);
            BadImages.Add(new BadImage((int)rows[i], images[i].Name, error.Message));
        }
        return new PreparedBatch(pixels, images.Count, errors.Select(e => e is null).ToArray());
    }

    internal int ArgMax(ReadOnlySpan<float> scores)
    {
        int best = 0;
        for (int i = 1; i < scores.Length; i++) if (scores[i] > scores[best]) best = i;
        return best;
    }

    internal string? Label(ReadOnlySpan<float> scores)
    {
        if (Model.Labels is null) return null;
        int best = ArgMax(scores);
        return best < Model.Labels.Count ? Model.Labels[best] : best.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    internal int CheckImageColumn(DataViewSchema schema) => ImageColumn.Check(schema, InputColumnName);

    /// <summary>A function that reads the current row's image as an <see cref="ImageInput"/>.</summary>
    internal Func<ImageInput> ImageReader(DataViewRow row, DataViewSchema.Column column) => ImageColumn.Reader(row, column, ImageFolder);

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
        w.Write((int)Options.PredictedLabelKind);
        w.Write((int)Options.OnBadImage);
        w.Write(Options.GpuDeviceId ?? -1);
        w.Write(Options.FallbackToCpu ?? false);
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

    /// <summary>Called by ML.NET (through EfficientCnn.MLNet.ModelLoaders' Create) with its internal ModelLoadContext.</summary>
    internal static OnnxImageTransformer LoadFromModelContext(IHostEnvironment env, object ctx)
    {
        MlNetInternals.CheckAtModel(ctx, VersionInfo());
        var r = MlNetInternals.Reader(ctx);
        string input = r.ReadString(), output = r.ReadString(), predicted = r.ReadString(), folder = r.ReadString();
        int batch = r.ReadInt32();
        var kind = (PredictedLabelKind)r.ReadInt32();
        var policy = (BadImagePolicy)r.ReadInt32();
        int gpu = r.ReadInt32();
        bool fallback = r.ReadBoolean();
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
        return new OnnxImageTransformer(model, new ImageScoringOptions
        {
            InputColumnName = input, OutputColumnName = output, PredictedLabelColumnName = predicted.Length == 0 ? null : predicted,
            ImageFolder = folder.Length == 0 ? null : folder, BatchSize = batch, PredictedLabelKind = kind, OnBadImage = policy,
            GpuDeviceId = gpu < 0 ? null : gpu, FallbackToCpu = fallback,
        });
    }

    private static object VersionInfo() =>
        MlNetInternals.NewVersionInfo(ModelSignature, FormatVersion, ModelLoaderAssembly.AssemblyName, LoaderSignature);
}
