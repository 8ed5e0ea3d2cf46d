using System.Diagnostics;
using EfficientCnn.Backbones.Imaging;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

/// <summary>Settings of <see cref="FeatureDistiller"/>.</summary>
public sealed record DistillationOptions
{
    /// <summary>Passes over the images.</summary>
    public int Epochs { get; init; } = 20;

    /// <summary>Images per step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Peak AdamW learning rate (warm-up, then cosine).</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Warm-up epochs.</summary>
    public double WarmupEpochs { get; init; } = 1;

    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; init; } = 0.02;

    /// <summary>
    /// Student-side augmentation. Kept mild (flip, crops of 70-100 %): the teacher's features are computed once on the
    /// whole image, so a crop that loses the object would teach the wrong target.
    /// </summary>
    public ImageAugmentation? Augmentation { get; init; } = ImageAugmentation.Default with { MinScale = 0.7f, Brightness = 0.2f, Contrast = 0.2f, Saturation = 0.2f };

    /// <summary>Seed of the projection, data order and augmentation.</summary>
    public int Seed { get; init; }

    /// <summary>Checkpoint folder (one per epoch; an existing checkpoint is resumed), or null.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>
    /// Called after every epoch: <see cref="EpochMetrics.TrainLoss"/> and <see cref="EpochMetrics.ValidationLoss"/> are
    /// 1 − cosine similarity to the teacher's features; the accuracies hold the mean cosine similarity.
    /// </summary>
    public Action<EpochMetrics>? OnEpoch { get; init; }

    /// <summary>Progress while caching the teacher's features and training.</summary>
    public Action<TrainingProgress>? OnProgress { get; init; }
}

/// <summary>
/// Knowledge distillation of features (Romero et al. 2015, FitNets; Hinton et al. 2015): a small student learns to
/// reproduce a big teacher's pooled features on unlabelled images. The teacher runs once per image (its features are
/// cached, so a 3.6 GFLOP ResNet18 costs one pass); the student's features go through a linear projection to the
/// teacher's width and are trained to the same direction (loss 1 − cosine similarity). The projection is discarded
/// afterwards: the student backbone keeps what it learnt.
/// </summary>
public sealed class FeatureDistiller
{
    /// <summary>Creates a distiller.</summary>
    public FeatureDistiller(DistillationOptions? options = null)
    {
        Runtime.TorchRuntime.Configure();
        Options = options ?? new DistillationOptions();
        if (Options.Epochs < 1) throw new ArgumentException($"Epochs must be at least 1, got {Options.Epochs}.", nameof(Options.Epochs));
        if (Options.BatchSize < 2) throw new ArgumentException($"BatchSize must be at least 2, got {Options.BatchSize}.", nameof(Options.BatchSize));
    }

    /// <summary>The settings.</summary>
    public DistillationOptions Options { get; }

    /// <summary>
    /// Trains <paramref name="student"/> (its features) to match <paramref name="teacher"/>'s features on the images of
    /// <paramref name="images"/> (labels unused); 5 % of the images are held out to report the validation cosine.
    /// Returns the per-epoch history; the student is left in eval mode.
    /// </summary>
    public IReadOnlyList<EpochMetrics> Distill(Backbone student, PreprocessingSpec studentSpec, Backbone teacher, PreprocessingSpec teacherSpec,
        ImageDataset images, CancellationToken cancellationToken = default)
    {
        var o = Options;
        var (train, validation) = images.StratifiedSplit(0.05, o.Seed);
        var targets = CacheTeacher(teacher, teacherSpec, train, cancellationToken);
        var validationTargets = CacheTeacher(teacher, teacherSpec, validation, cancellationToken);
        random.manual_seed(o.Seed);
        var model = new DistillationStudent(student, (int)targets.shape[1], identityWhenSameWidth: false);
        var optimizer = optim.AdamW(model.parameters(), lr: o.LearningRate, weight_decay: o.WeightDecay);
        int steps = (train.Count + o.BatchSize - 1) / o.BatchSize;
        var schedule = new LearningRateSchedule(o.LearningRate, (long)steps * o.Epochs, (long)Math.Round(o.WarmupEpochs * steps));
        var loader = new ImageBatchLoader(studentSpec, o.BatchSize, BadImagePolicy.Skip);
        var checkpoint = o.CheckpointDirectory is null ? null : new TrainingCheckpoint(o.CheckpointDirectory);
        var identity = TrainingCheckpoint.Describe(train, validation, studentSpec.Resolution, ("teacher features", targets.shape[1]),
            ("teacher resolution", teacherSpec.Resolution), ("batch size", o.BatchSize), ("seed", o.Seed), ("learning rate", o.LearningRate), ("weight decay", o.WeightDecay));
        var history = new List<EpochMetrics>();
        int start = 0;
        if (checkpoint is { Exists: true })
        {
            var state = checkpoint.Load(model, optimizer, identity);
            history.AddRange(state.History);
            start = state.EpochsCompleted;
        }
        for (int epoch = start; epoch < o.Epochs && !cancellationToken.IsCancellationRequested; epoch++)
        {
            var watch = Stopwatch.StartNew();
            random.manual_seed(o.Seed * 7919L + epoch);
            model.train();
            var order = Enumerable.Range(0, train.Count).ToArray();
            ImageAugmentation.CreateRandom(o.Seed, epoch, -1).Shuffle(order);
            double lossSum = 0, lr = 0;
            long seen = 0, step = (long)epoch * steps;
            try
            {
                foreach (var batch in loader.Batches(train, order, o.Augmentation, o.Seed, epoch, cancellationToken))
                {
                    if (batch.Count < 2) continue;
                    using var scope = NewDisposeScope();
                    lr = schedule.At(step++);
                    foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                    optimizer.zero_grad();
                    var target = targets.index_select(0, tensor(batch.Rows.Select(r => (long)r).ToArray()));
                    var loss = CosineLoss(model.call(ClassifierTrainer.ToInput(batch, studentSpec.Resolution, CPU)), target);
                    loss.backward();
                    optimizer.step();
                    lossSum += loss.item<float>() * batch.Count;
                    seen += batch.Count;
                    o.OnProgress?.Invoke(new TrainingProgress("train", epoch + 1, (int)seen, train.Count));
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
            double trainSeconds = watch.Elapsed.TotalSeconds;
            double validationLoss = Validate(model, studentSpec, validation, validationTargets);
            double trainLoss = lossSum / Math.Max(1, seen);
            var metrics = new EpochMetrics(epoch + 1, trainLoss, 1 - trainLoss, validationLoss, 1 - validationLoss, lr, watch.Elapsed.TotalSeconds,
                seen / Math.Max(1e-9, trainSeconds));
            history.Add(metrics);
            checkpoint?.Save(model, optimizer, new CheckpointState(epoch + 1, history.ToArray(), 0, double.NegativeInfinity, double.PositiveInfinity, null), identity);
            o.OnEpoch?.Invoke(metrics);
        }
        student.eval();
        return history;
    }

    private static Tensor CosineLoss(Tensor predicted, Tensor target) =>
        1 - nn.functional.cosine_similarity(predicted, target, dim: 1).mean();

    private double Validate(DistillationStudent model, PreprocessingSpec spec, ImageDataset data, Tensor targets)
    {
        if (data.Count == 0) return double.NaN;
        model.eval();
        var loader = new ImageBatchLoader(spec, Options.BatchSize, BadImagePolicy.Skip);
        double sum = 0;
        long seen = 0;
        using var _ = no_grad();
        foreach (var batch in loader.Batches(data))
        {
            using var scope = NewDisposeScope();
            var target = targets.index_select(0, tensor(batch.Rows.Select(r => (long)r).ToArray()));
            sum += CosineLoss(model.call(ClassifierTrainer.ToInput(batch, spec.Resolution, CPU)), target).item<float>() * batch.Count;
            seen += batch.Count;
        }
        return sum / Math.Max(1, seen);
    }

    /// <summary>The teacher's features of every image (row order; unreadable images get zeros and are skipped later).</summary>
    private Tensor CacheTeacher(Backbone teacher, PreprocessingSpec spec, ImageDataset data, CancellationToken cancellationToken)
    {
        teacher.eval();
        var loader = new ImageBatchLoader(spec, 32, BadImagePolicy.Skip);
        Tensor? all = null;
        int done = 0;
        using var _ = no_grad();
        foreach (var batch in loader.Batches(data, cancellationToken: cancellationToken))
        {
            using var scope = NewDisposeScope();
            var features = teacher.ForwardFeatures(ClassifierTrainer.ToInput(batch, spec.Resolution, CPU));
            all ??= zeros(data.Count, features.shape[1]).DetachFromDisposeScope();
            all.index_copy_(0, tensor(batch.Rows.Select(r => (long)r).ToArray()), features);
            done += batch.Count;
            Options.OnProgress?.Invoke(new TrainingProgress("features", 0, done, data.Count));
        }
        return all ?? throw new InvalidDataException($"{data.Source}: no readable images to distil on.");
    }
}
