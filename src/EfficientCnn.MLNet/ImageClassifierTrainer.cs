using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using EfficientCnn.Backbones.Workflow;
using EfficientCnn.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using TorchSharp;

namespace EfficientCnn.MLNet;

/// <summary>
/// Fine-tunes an efficient CNN end to end on labelled images (TorchSharp) and returns an <see cref="OnnxImageTransformer"/>
/// holding the trained network as ONNX: columns <c>Score</c> (class probabilities, slot names = classes) and
/// <c>PredictedLabel</c> (a key with the label's key values), so <c>MulticlassClassification.Evaluate</c>,
/// <c>MapKeyToValue</c>, <c>Model.Save/Load</c> and prediction engines work as with any ML.NET trainer.
/// A thin adapter: reading the IDataView and building the model are here; the training loop is
/// <see cref="ClassifierTrainer"/>.
/// </summary>
public sealed class ImageClassifierTrainer : ITrainerEstimator<OnnxImageTransformer, OnnxImageModel>
{
    private readonly ImageClassifierTrainerOptions options;
    private readonly Microsoft.ML.Runtime.IHost? host;
    private readonly ContextSettings context;

    private int Seed => options.Seed ?? context.Seed ?? 0;

    internal ImageClassifierTrainer(ImageClassifierTrainerOptions options, Microsoft.ML.Runtime.IHostEnvironment? environment = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The MLContext's seed and GPU settings fill what the options leave unset; its log gets the training progress.
        context = MlNetInternals.SettingsOf(environment);
        host = environment?.Register(nameof(ImageClassifierTrainer));
        this.options = options.Validate();
    }

    /// <summary>
    /// What ML.NET needs to know about this trainer: no feature normalization (images are normalized by the network's
    /// preprocessing), no calibration (the scores are softmax probabilities), no caching (images are streamed), a
    /// validation set is supported (<see cref="ImageClassifierTrainerOptions.ValidationSet"/>).
    /// </summary>
    /// <remarks>TrainerInfo's constructor is internal to ML.NET; built through <see cref="MlNetInternals.NewTrainerInfo"/>.</remarks>
    public TrainerInfo Info => info.Value;

    private static readonly Lazy<TrainerInfo> info = new(() =>
        MlNetInternals.NewTrainerInfo(normalization: false, calibration: false, caching: false, supportValid: true, supportIncrementalTrain: false, supportTest: false));

    /// <summary>The outcome of the last <see cref="Fit"/>: per-epoch history, best epoch, skipped images, early stop or cancel.</summary>
    public TrainingResult? LastResult { get; private set; }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">The image or label column is missing or has the wrong type (named).</exception>
    /// <exception cref="InvalidDataException">No rows, a single class, or an unreadable image (named with its row).</exception>
    public OnnxImageTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var classes = CheckLabel(input.Schema);
        ImageColumn.Check(input.Schema, options.Scoring.InputColumnName);
        var train = ReadDataset(input, classes, "training data", readGroups: options.ValidationSet is null);
        ImageDataset? validation = null;
        if (options.ValidationSet is { } v)
        {
            var validationClasses = CheckLabel(v.Schema);
            if (!validationClasses.SequenceEqual(classes))
                throw new ArgumentException($"ValidationSet's label key values [{string.Join(", ", validationClasses)}] differ from the training data's [{string.Join(", ", classes)}]; map both with the same MapValueToKey transformer.", nameof(ImageClassifierTrainerOptions.ValidationSet));
            validation = ReadDataset(v, classes, "validation data");
        }
        else if (options.ValidationFraction > 0)
            (train, validation) = train.EnsureTrainable().StratifiedSplit(options.ValidationFraction, Seed);

        // The backbone was resolved at the edge (catalog overload, CLI argument); only the default is resolved here.
        var backbone = (options.Backbone ?? BackboneSource.Resolve(null)).WithPreprocessing(options.Preprocessing, options.Resolution);
        var spec = backbone.Preprocessing;
        using var channel = host?.Start("Fit");
        channel?.Info(MessageSensitivity.None, $"Fine-tuning {backbone} on {train.Count} images ({classes.Length} classes), {options.Training.Epochs} epochs, seed {Seed}.");
        var trainingOptions = options.Training with { Seed = Seed };
        if (channel is not null)
        {
            var userCallback = trainingOptions.OnEpoch;
            trainingOptions = trainingOptions with
            {
                OnEpoch = m =>
                {
                    channel.Info(MessageSensitivity.None, FormattableString.Invariant(
                        $"epoch {m.Epoch}: train loss {m.TrainLoss:F4}, accuracy {m.TrainAccuracy:P1}{(m.ValidationAccuracy is { } va ? $", validation accuracy {va:P1}" : "")}, {m.Seconds:F1} s"));
                    userCallback?.Invoke(m);
                },
            };
        }
        var run = new BackboneClassifierTraining(backbone, train, validation, options.CancellationToken);
        var result = options.TimeBudget is { } budget
            ? run.WithinBudget(trainingOptions, budget, epochs =>
            {
                channel?.Info(MessageSensitivity.None, $"{epochs} epochs fit in the time budget.");
                options.OnEpochsPlanned?.Invoke(epochs);
            })
            : run.Train(trainingOptions, options.CancellationToken);
        channel?.Info(MessageSensitivity.None, $"Best epoch {result.BestEpoch} of {result.History.Count}.");
        LastResult = result;

        var model = result.Model;
        model.to(torch.CPU);
        var onnx = OnnxExporter.ExportBytes(model, new OnnxExportOptions
        {
            VariantName = $"{backbone.Name} fine-tuned", Preprocessing = spec, ClassLabels = classes,
            WeightsProvenance = $"fine-tuned by EfficientCnn.MLNet from {backbone} ({result.History.Count} epochs, best epoch {result.BestEpoch})",
        });
        return new OnnxImageTransformer(new OnnxImageModel(onnx, spec, classes, outputName: OnnxExporter.LogitsName, applySoftmax: true), ScoringOptions());
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ImageColumn.Check(inputSchema, options.Scoring.InputColumnName);
        var label = inputSchema.Where(c => c.Name == options.LabelColumnName).ToArray();
        if (label.Length == 0 || !label[^1].IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), LabelMessage(label.Length == 0 ? "missing" : $"{label[^1].ItemType} ({label[^1].Kind})"));
        return SchemaShapes.Map(inputSchema, schema =>
        {
            var builder = new DataViewSchema.Builder();
            builder.AddColumns(schema);
            // Only the annotation kinds matter in a shape (MapKeyToValue checks PredictedLabel has KeyValues): the values come at Fit.
            var names = new DataViewSchema.Annotations.Builder();
            names.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, 1), (ref VBuffer<ReadOnlyMemory<char>> v) => v = default);
            var slots = new DataViewSchema.Annotations.Builder();
            slots.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, 1), (ref VBuffer<ReadOnlyMemory<char>> v) => v = default);
            slots.Add(OnnxImageTransformer.ScoreColumnKindAnnotation, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "MulticlassClassification".AsMemory());
            slots.Add(OnnxImageTransformer.ScoreValueKindAnnotation, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "Score".AsMemory());
            builder.AddColumn(options.Scoring.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single), slots.ToAnnotations());
            builder.AddColumn(options.Scoring.PredictedLabelColumnName!, new KeyDataViewType(typeof(uint), 1), names.ToAnnotations());
            return builder.ToSchema();
        });
    }

    private ImageScoringOptions ScoringOptions() => (options.Scoring with { PredictedLabelKind = PredictedLabelKind.Key }).WithContext(context);

    /// <summary>Checks the label column and returns the class names (its key values).</summary>
    private string[] CheckLabel(DataViewSchema schema)
    {
        var column = schema.GetColumnOrNull(options.LabelColumnName)
                     ?? throw new ArgumentOutOfRangeException(nameof(schema), LabelMessage("missing"));
        if (column.Type is not KeyDataViewType key || key.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(schema), LabelMessage(column.Type.ToString() ?? "unknown"));
        VBuffer<ReadOnlyMemory<char>> names = default;
        if (column.Annotations.Schema.GetColumnOrNull("KeyValues") is { } kv && kv.Type is VectorDataViewType { ItemType: TextDataViewType })
            column.Annotations.GetValue("KeyValues", ref names);
        else
            throw new ArgumentOutOfRangeException(nameof(schema), LabelMessage("a key without text key values"));
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }

    private string LabelMessage(string found) =>
        $"Label column '{options.LabelColumnName}' is {found}; expected a key type with text key values " +
        $"(add mlContext.Transforms.Conversion.MapValueToKey(\"{options.LabelColumnName}\") before the trainer).";

    private static DataViewSchema.Column GroupColumn(DataViewSchema schema, string name) =>
        schema.GetColumnOrNull(name) is { Type: TextDataViewType } column ? column
            : throw new ArgumentOutOfRangeException(nameof(ImageClassifierTrainerOptions.SamplingKeyColumnName),
                $"SamplingKeyColumnName '{name}' must name a text column of the training data; it is {(schema.GetColumnOrNull(name) is { } c ? c.Type.ToString() : "missing")}.");

    private ImageDataset ReadDataset(IDataView data, string[] classes, string what, bool readGroups = false)
    {
        var imageColumn = data.Schema[ImageColumn.Check(data.Schema, options.Scoring.InputColumnName)];
        var labelColumn = data.Schema[options.LabelColumnName];
        DataViewSchema.Column? groupColumn = readGroups && options.SamplingKeyColumnName is { } name ? GroupColumn(data.Schema, name) : null;
        var items = new List<LabeledImage>();
        using var cursor = data.GetRowCursor(groupColumn is { } gc ? [imageColumn, labelColumn, gc] : [imageColumn, labelColumn]);
        var readImage = ImageColumn.Reader(cursor, imageColumn, options.Scoring.ImageFolder);
        var readLabel = cursor.GetGetter<uint>(labelColumn);
        var readGroup = groupColumn is { } g ? cursor.GetGetter<ReadOnlyMemory<char>>(g) : null;
        uint key = 0;
        ReadOnlyMemory<char> group = default;
        while (cursor.MoveNext())
        {
            readLabel(ref key);
            if (key == 0 || key > classes.Length) continue; // missing label: ML.NET trainers skip such rows too
            readGroup?.Invoke(ref group);
            items.Add(new LabeledImage(readImage(), (int)key - 1, readGroup is null || group.IsEmpty ? null : group.ToString()));
        }
        return new ImageDataset(classes, items, $"{what} (column '{options.Scoring.InputColumnName}')").EnsureTrainable();
    }
}
