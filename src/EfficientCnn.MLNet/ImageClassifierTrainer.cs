using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using Microsoft.ML.Data;
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
    /// <summary>Every setting of the trainer (ML.NET style: one options class per estimator).</summary>
    public sealed class Options
    {
        /// <summary>Label column: a key (use <c>Conversion.MapValueToKey</c>) whose key values name the classes.</summary>
        public string LabelColumnName { get; set; } = "Label";

        /// <summary>Image column: file paths (text), encoded images (byte vector) or MLImage.</summary>
        public string ImageColumnName { get; set; } = "ImagePath";

        /// <summary>Output column of class probabilities.</summary>
        public string ScoreColumnName { get; set; } = "Score";

        /// <summary>Output column of the predicted class (key).</summary>
        public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

        /// <summary>Folder relative image paths start from, or null.</summary>
        public string? ImageFolder { get; set; }

        /// <summary>Bundled model name, zoo variant (random init), ONNX file path (imported), or architecture spec .json path (random init, e.g. from <c>efficientcnn search</c>); null: the default bundled backbone.</summary>
        public string? Backbone { get; set; }

        /// <summary>Preprocessing instead of the backbone's (its metadata's, or ImageNet's).</summary>
        public PreprocessingSpec? Preprocessing { get; set; }

        /// <summary>Input resolution overriding the preprocessing's; smaller trains faster.</summary>
        public int? Resolution { get; set; }

        /// <summary>Passes over the training data.</summary>
        public int Epochs { get; set; } = 10;

        /// <summary>Images per step.</summary>
        public int BatchSize { get; set; } = 32;

        /// <summary>Peak learning rate; null: 1e-3 for AdamW, 0.01 for SGD (x10 head-only).</summary>
        public double? LearningRate { get; set; }

        /// <summary>Epochs of linear warm-up before the cosine decay.</summary>
        public double WarmupEpochs { get; set; } = 1;

        /// <summary>AdamW or SGD with momentum.</summary>
        public OptimizerKind Optimizer { get; set; } = OptimizerKind.AdamW;

        /// <summary>SGD momentum.</summary>
        public double Momentum { get; set; } = 0.9;

        /// <summary>Weight decay.</summary>
        public double WeightDecay { get; set; } = 1e-4;

        /// <summary>Label smoothing of the training loss.</summary>
        public double LabelSmoothing { get; set; } = 0.1;

        /// <summary>Training augmentation (random resized crop, flip, colour jitter); null for none. Never used for evaluation.</summary>
        public ImageAugmentation? Augmentation { get; set; } = new ClassifierTrainingOptions().Augmentation;

        /// <summary>Head only (on cached features, fastest), the last N stages, or everything.</summary>
        public TrainScope Scope { get; set; } = TrainScope.All;

        /// <summary>Stages trained with <see cref="TrainScope.LastStages"/>.</summary>
        public int TrainLastStages { get; set; } = 2;

        /// <summary>Adaptive gradient clipping threshold, or null.</summary>
        public double? AgcClipping { get; set; }

        /// <summary>Validation data (same columns), or null to split <see cref="ValidationFraction"/> off the training data.</summary>
        public IDataView? ValidationSet { get; set; }

        /// <summary>Fraction of each class held out for validation when <see cref="ValidationSet"/> is null; 0 for none.</summary>
        public double ValidationFraction { get; set; }

        /// <summary>
        /// Text column naming each row's group (frames of one sprite, photos of one object): rows of a group stay on the
        /// same side of the <see cref="ValidationFraction"/> split, as with <c>TrainTestSplit</c>'s
        /// <c>samplingKeyColumnName</c>; null (default) splits row by row.
        /// </summary>
        public string? SamplingKeyColumnName { get; set; }

        /// <summary>Stop after this many epochs without a better validation accuracy; null to run all epochs.</summary>
        public int? EarlyStoppingPatience { get; set; }

        /// <summary>
        /// Seed of everything random: same seed on a CPU gives the same model. Null takes the MLContext's seed
        /// (<c>new MLContext(seed: n)</c>), or 0 when it has none.
        /// </summary>
        public int? Seed { get; set; }

        /// <summary>Training device: "auto", "cpu", "cuda" or "cuda:N".</summary>
        public string Device { get; set; } = "auto";

        /// <summary>Precision of the forward pass and loss (see <see cref="MixedPrecision.Resolve"/>).</summary>
        public TrainingPrecision Precision { get; set; } = TrainingPrecision.Auto;

        /// <summary>
        /// Re-estimate batch-norm statistics from up to this many training batches after every epoch ("precise BN";
        /// see <see cref="ClassifierTrainingOptions.BatchNormRecalibrationBatches"/>); useful when training a zoo variant
        /// from random initialisation on little data. 0 (default) is off.
        /// </summary>
        public int BatchNormRecalibrationBatches { get; set; }

        /// <summary>
        /// LP-FT: epochs of fitting the new head on the frozen backbone's features before end-to-end training (see
        /// <see cref="ClassifierTrainingOptions.LinearProbeEpochs"/>); 0 trains a random head with the backbone from the start.
        /// </summary>
        public int LinearProbeEpochs { get; set; } = new ClassifierTrainingOptions().LinearProbeEpochs;

        /// <summary>The backbone's learning rate as a fraction of the head's (see <see cref="ClassifierTrainingOptions.BackboneLearningRateFactor"/>).</summary>
        public double BackboneLearningRateFactor { get; set; } = new ClassifierTrainingOptions().BackboneLearningRateFactor;

        /// <summary>Folder for per-epoch checkpoints (resumed when present), or null.</summary>
        public string? CheckpointDirectory { get; set; }

        /// <summary>Unreadable training images: throw (naming file and row) or skip and count (see <see cref="LastResult"/>).</summary>
        public BadImagePolicy OnBadImage { get; set; } = BadImagePolicy.Throw;

        /// <summary>Called after every epoch with train/validation loss and accuracy.</summary>
        public Action<EpochMetrics>? OnEpoch { get; set; }

        /// <summary>Called after every batch (progress bars).</summary>
        public Action<TrainingProgress>? OnProgress { get; set; }

        /// <summary>Stops training after the current batch; the best model so far is returned.</summary>
        public CancellationToken CancellationToken { get; set; }

        /// <summary>Images per ONNX Runtime run when the trained model scores.</summary>
        public int ScoringBatchSize { get; set; } = 32;

        /// <summary>GPU for scoring with ONNX Runtime's CUDA provider; null takes the MLContext's <c>GpuDeviceId</c> (null: the CPU).</summary>
        public int? GpuDeviceId { get; set; }

        /// <summary>Score on the CPU when the CUDA provider is unavailable; null takes the MLContext's <c>FallbackToCpu</c> (default false).</summary>
        public bool? FallbackToCpu { get; set; }

        internal ClassifierTrainingOptions ToTrainingOptions() => new()
        {
            Epochs = Epochs, BatchSize = BatchSize, LearningRate = LearningRate, WarmupEpochs = WarmupEpochs, Optimizer = Optimizer,
            Momentum = Momentum, WeightDecay = WeightDecay, LabelSmoothing = LabelSmoothing, Augmentation = Augmentation, Scope = Scope,
            TrainLastStages = TrainLastStages, LinearProbeEpochs = LinearProbeEpochs, BackboneLearningRateFactor = BackboneLearningRateFactor, AgcClipping = AgcClipping, EarlyStoppingPatience = EarlyStoppingPatience, Seed = Seed ?? 0,
            Device = Device, Precision = Precision, BatchNormRecalibrationBatches = BatchNormRecalibrationBatches, CheckpointDirectory = CheckpointDirectory, OnBadImage = OnBadImage, OnEpoch = OnEpoch, OnProgress = OnProgress,
        };
    }

    private readonly Options options;
    private readonly Microsoft.ML.Runtime.IHost? host;
    private readonly ContextSettings context;

    private int Seed => options.Seed ?? context.Seed ?? 0;

    internal ImageClassifierTrainer(Options options, Microsoft.ML.Runtime.IHostEnvironment? environment = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The MLContext's seed and GPU settings fill what the options leave unset; its log gets the training progress.
        // (read at Fit: callers may still change the options object between creating the trainer and fitting it).
        context = MlNetInternals.SettingsOf(environment);
        host = environment?.Register(nameof(ImageClassifierTrainer));
        if (options.ValidationFraction is < 0 or >= 1)
            throw new ArgumentException($"ValidationFraction must be in [0, 1), got {options.ValidationFraction}.", nameof(options.ValidationFraction));
        options.ToTrainingOptions().Validate();
        new ImageScoringOptions { BatchSize = options.ScoringBatchSize, GpuDeviceId = options.GpuDeviceId }.Validate();
        this.options = options;
    }

    /// <summary>
    /// What ML.NET needs to know about this trainer: no feature normalization (images are normalized by the network's
    /// preprocessing), no calibration (the scores are softmax probabilities), no caching (images are streamed), a
    /// validation set is supported (<see cref="Options.ValidationSet"/>).
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
        ImageColumn.Check(input.Schema, options.ImageColumnName);
        var train = ReadDataset(input, classes, "training data", readGroups: options.ValidationSet is null);
        ImageDataset? validation = null;
        if (options.ValidationSet is { } v)
        {
            var validationClasses = CheckLabel(v.Schema);
            if (!validationClasses.SequenceEqual(classes))
                throw new ArgumentException($"ValidationSet's label key values [{string.Join(", ", validationClasses)}] differ from the training data's [{string.Join(", ", classes)}]; map both with the same MapValueToKey transformer.", nameof(Options.ValidationSet));
            validation = ReadDataset(v, classes, "validation data");
        }
        else if (options.ValidationFraction > 0)
            (train, validation) = train.EnsureTrainable().StratifiedSplit(options.ValidationFraction, Seed);

        var source = BackboneSource.Resolve(options.Backbone);
        var spec = options.Preprocessing ?? source.DefaultPreprocessing();
        if (options.Resolution is { } r) spec = spec with { Resolution = r };
        var featureExtractor = source.CreateFeatureExtractor(Seed);
        using var channel = host?.Start("Fit");
        channel?.Info(MessageSensitivity.None, $"Fine-tuning {source} on {train.Count} images ({classes.Length} classes), {options.Epochs} epochs, seed {Seed}.");
        var trainingOptions = options.ToTrainingOptions() with { Seed = Seed };
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
        var result = new ClassifierTrainer(trainingOptions).Train(featureExtractor, spec, train, validation, options.CancellationToken);
        channel?.Info(MessageSensitivity.None, $"Best epoch {result.BestEpoch} of {result.History.Count}.");
        LastResult = result;

        var model = result.Model;
        model.to(torch.CPU);
        var onnx = OnnxExporter.ExportBytes(model, new OnnxExportOptions
        {
            VariantName = $"{source.Name} fine-tuned", Preprocessing = spec, ClassLabels = classes,
            WeightsProvenance = $"fine-tuned by EfficientCnn.MLNet from {source} ({result.History.Count} epochs, best epoch {result.BestEpoch})",
        });
        return new OnnxImageTransformer(new OnnxImageModel(onnx, spec, classes, outputName: OnnxExporter.LogitsName, applySoftmax: true), ScoringOptions());
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ImageColumn.Check(inputSchema, options.ImageColumnName);
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
            builder.AddColumn(options.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single), slots.ToAnnotations());
            builder.AddColumn(options.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), 1), names.ToAnnotations());
            return builder.ToSchema();
        });
    }

    private ImageScoringOptions ScoringOptions() => new()
    {
        InputColumnName = options.ImageColumnName, OutputColumnName = options.ScoreColumnName,
        PredictedLabelColumnName = options.PredictedLabelColumnName, PredictedLabelKind = PredictedLabelKind.Key,
        ImageFolder = options.ImageFolder, BatchSize = options.ScoringBatchSize, GpuDeviceId = options.GpuDeviceId ?? context.GpuDeviceId, FallbackToCpu = options.FallbackToCpu ?? context.FallbackToCpu,
    };

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
            : throw new ArgumentOutOfRangeException(nameof(Options.SamplingKeyColumnName),
                $"SamplingKeyColumnName '{name}' must name a text column of the training data; it is {(schema.GetColumnOrNull(name) is { } c ? c.Type.ToString() : "missing")}.");

    private ImageDataset ReadDataset(IDataView data, string[] classes, string what, bool readGroups = false)
    {
        var imageColumn = data.Schema[ImageColumn.Check(data.Schema, options.ImageColumnName)];
        var labelColumn = data.Schema[options.LabelColumnName];
        DataViewSchema.Column? groupColumn = readGroups && options.SamplingKeyColumnName is { } name ? GroupColumn(data.Schema, name) : null;
        var items = new List<LabeledImage>();
        using var cursor = data.GetRowCursor(groupColumn is { } gc ? [imageColumn, labelColumn, gc] : [imageColumn, labelColumn]);
        var readImage = ImageColumn.Reader(cursor, imageColumn, options.ImageFolder);
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
        return new ImageDataset(classes, items, $"{what} (column '{options.ImageColumnName}')").EnsureTrainable();
    }
}
