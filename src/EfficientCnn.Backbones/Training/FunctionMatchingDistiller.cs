using System.Diagnostics;
using EfficientCnn.Backbones.Imaging;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

/// <summary>Settings of <see cref="FunctionMatchingDistiller"/>.</summary>
public sealed record FunctionMatchingOptions
{
    /// <summary>Rounds of <see cref="StepsPerRound"/> optimiser steps; a checkpoint and <see cref="OnRound"/> follow each round.</summary>
    public int Rounds { get; init; } = 20;

    /// <summary>Optimiser steps per round.</summary>
    public int StepsPerRound { get; init; } = 200;

    /// <summary>Images per step.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Peak AdamW learning rate (linear warm-up over the first round, then cosine to zero).</summary>
    public double LearningRate { get; init; } = 3e-4;

    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; init; } = 1e-4;

    /// <summary>Smallest crop of the random resized crop, as a fraction of the image's area.</summary>
    public double MinCropArea { get; init; } = 0.25;

    /// <summary>Fraction of each batch mixed with another image of the batch (mixup, weight drawn uniformly in [0, 1]).</summary>
    public double MixupFraction { get; init; } = 0.5;

    /// <summary>Images held out of training (the last of the pack) to report the held-out cosine to the teacher.</summary>
    public int HeldOut { get; init; } = 256;

    /// <summary>Seed of the data order, crops, flips and mixup.</summary>
    public int Seed { get; init; }

    /// <summary>Checkpoint folder (written after every round, resumed exactly when it exists), or null.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>
    /// Called after every round with its metrics (<see cref="EpochMetrics.Epoch"/> = round; the losses are 1 − cosine
    /// to the teacher, the accuracies the cosines) and the student (eval mode; it is put back in training mode after).
    /// </summary>
    public Action<EpochMetrics, Backbone>? OnRound { get; init; }

    /// <summary>Progress within a round (phase "distil", Epoch = round, Done/Total = steps).</summary>
    public Action<TrainingProgress>? OnProgress { get; init; }

    internal void Validate()
    {
        if (Rounds < 1) throw new ArgumentException($"Rounds must be at least 1, got {Rounds}.", nameof(Rounds));
        if (StepsPerRound < 1) throw new ArgumentException($"StepsPerRound must be at least 1, got {StepsPerRound}.", nameof(StepsPerRound));
        if (BatchSize < 2) throw new ArgumentException($"BatchSize must be at least 2, got {BatchSize}.", nameof(BatchSize));
        if (LearningRate <= 0) throw new ArgumentException($"LearningRate must be positive, got {LearningRate}.", nameof(LearningRate));
        if (MinCropArea is <= 0 or > 1) throw new ArgumentException($"MinCropArea must be in (0, 1], got {MinCropArea}.", nameof(MinCropArea));
        if (MixupFraction is < 0 or > 1) throw new ArgumentException($"MixupFraction must be in [0, 1], got {MixupFraction}.", nameof(MixupFraction));
        if (HeldOut < 0) throw new ArgumentException($"HeldOut must be >= 0, got {HeldOut}.", nameof(HeldOut));
    }
}

/// <summary>
/// Distillation by function matching (Beyer et al., CVPR 2022, "Knowledge distillation: A good teacher is patient and
/// consistent"): teacher and student see the very same aggressively augmented view of every image (random resized
/// crop, flip, mixup between images of the batch), each at its own resolution, and the student learns to reproduce the
/// teacher's pooled features on it (loss 1 − cosine, through a linear projection that is dropped afterwards; it starts
/// as the identity when the widths agree, so a student initialised from the teacher starts on target). The teacher runs
/// on every view: nothing is cached, which is what makes long schedules keep improving.
/// </summary>
/// <remarks>
/// The images come from a <see cref="PackedImages"/> file (decoded once), so the cores run networks, not decoders.
/// Training is a sequence of rounds; the data order and augmentation are functions of (seed, step), and the checkpoint
/// after each round holds the student, projection and optimizer, so a resumed run continues exactly.
/// </remarks>
public sealed class FunctionMatchingDistiller
{
    /// <summary>Creates a distiller.</summary>
    public FunctionMatchingDistiller(FunctionMatchingOptions? options = null)
    {
        Runtime.TorchRuntime.Configure();
        Options = options ?? new FunctionMatchingOptions();
        Options.Validate();
    }

    /// <summary>The settings.</summary>
    public FunctionMatchingOptions Options { get; }

    /// <summary>
    /// Trains <paramref name="student"/> to match <paramref name="teacher"/> on <paramref name="images"/> and returns
    /// one entry per round (including rounds restored from the checkpoint). The student is left in eval mode.
    /// </summary>
    public IReadOnlyList<EpochMetrics> Distill(Backbone student, PreprocessingSpec studentSpec, Backbone teacher, PreprocessingSpec teacherSpec,
        PackedImages images, CancellationToken cancellationToken = default)
    {
        var o = Options;
        int training = images.Count - o.HeldOut;
        if (training < o.BatchSize)
            throw new ArgumentException($"{images.Path}: {images.Count} images leave {training} for training after {o.HeldOut} held out; need at least a batch ({o.BatchSize}).", nameof(images));
        teacher.eval();
        foreach (var p in teacher.parameters()) p.requires_grad = false;
        var model = new DistillationStudent(student, teacher.FeatureDim, identityWhenSameWidth: true);
        var optimizer = optim.AdamW(model.parameters(), lr: o.LearningRate, weight_decay: o.WeightDecay);
        long totalSteps = (long)o.Rounds * o.StepsPerRound;
        var schedule = new LearningRateSchedule(o.LearningRate, totalSteps, Math.Min(o.StepsPerRound, totalSteps / 10));
        var checkpoint = o.CheckpointDirectory is null ? null : new TrainingCheckpoint(o.CheckpointDirectory);
        var history = new List<EpochMetrics>();
        int startRound = 0;
        var run = new Dictionary<string, string>
        {
            ["images"] = $"{images.Count} images of {images.Size} px ({System.IO.Path.GetFileName(images.Path)})",
            ["resolutions"] = $"student {studentSpec.Resolution}, teacher {teacherSpec.Resolution}",
            ["batch"] = $"{o.BatchSize} x {o.StepsPerRound} steps per round",
            ["recipe"] = FormattableString.Invariant($"lr {o.LearningRate}, weight decay {o.WeightDecay}, crop area {o.MinCropArea}-1, mixup {o.MixupFraction}, held out {o.HeldOut}, seed {o.Seed}"),
        };
        if (checkpoint is { Exists: true })
        {
            var state = checkpoint.Load(model, optimizer, run);
            history.AddRange(state.History);
            startRound = state.EpochsCompleted;
        }
        var order = new EpochOrder(training, o.Seed);
        var heldOut = Enumerable.Range(training, o.HeldOut).ToArray();
        for (int round = startRound; round < o.Rounds && !cancellationToken.IsCancellationRequested; round++)
        {
            var watch = Stopwatch.StartNew();
            model.train();
            double lossSum = 0, lr = 0;
            int steps = 0;
            for (; steps < o.StepsPerRound && !cancellationToken.IsCancellationRequested; steps++)
            {
                long step = (long)round * o.StepsPerRound + steps;
                using var scope = NewDisposeScope();
                var (studentInput, teacherInput) = Views(images, order.Batch(step, o.BatchSize), studentSpec, teacherSpec, new Random(Mix(o.Seed, step)));
                Tensor target;
                using (no_grad()) target = teacher.ForwardFeatures(teacherInput);
                lr = schedule.At(step);
                foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                optimizer.zero_grad();
                var loss = CosineLoss(model.call(studentInput), target);
                loss.backward();
                optimizer.step();
                lossSum += loss.item<float>();
                o.OnProgress?.Invoke(new TrainingProgress("distil", round + 1, steps + 1, o.StepsPerRound));
            }
            if (steps < o.StepsPerRound) break; // cancelled: the checkpoint keeps the last whole round
            double trainSeconds = watch.Elapsed.TotalSeconds;
            double validationLoss = HeldOutLoss(model, teacher, images, heldOut, studentSpec, teacherSpec);
            double trainLoss = lossSum / steps;
            var metrics = new EpochMetrics(round + 1, trainLoss, 1 - trainLoss, validationLoss, 1 - validationLoss, lr, watch.Elapsed.TotalSeconds,
                steps * o.BatchSize / Math.Max(1e-9, trainSeconds));
            history.Add(metrics);
            checkpoint?.Save(model, optimizer, new CheckpointState(round + 1, history.ToArray(), 0, double.NegativeInfinity, double.PositiveInfinity, null), run);
            if (o.OnRound is { } onRound)
            {
                student.eval();
                onRound(metrics, student);
            }
        }
        student.eval();
        return history;
    }

    /// <summary>A seed from (seed, counter) that is the same in every process (HashCode.Combine is randomised per process).</summary>
    private static int Mix(int seed, long counter) => unchecked((int)(((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)counter) * 0xBF58476D1CE4E5B9UL >> 33));

    private static Tensor CosineLoss(Tensor predicted, Tensor target) =>
        1 - nn.functional.cosine_similarity(predicted, target, dim: 1).mean();

    /// <summary>The held-out images, whole (no crop or flip), as both networks see them at evaluation.</summary>
    private double HeldOutLoss(DistillationStudent model, Backbone teacher, PackedImages images, int[] rows, PreprocessingSpec studentSpec, PreprocessingSpec teacherSpec)
    {
        if (rows.Length == 0) return double.NaN;
        model.eval();
        double sum = 0;
        using var _ = no_grad();
        for (int i = 0; i < rows.Length; i += Options.BatchSize)
        {
            using var scope = NewDisposeScope();
            var batch = rows.Skip(i).Take(Options.BatchSize).ToArray();
            var pixels = images.Batch(batch).to_type(ScalarType.Float32);
            var target = teacher.ForwardFeatures(Normalize(Resize(pixels, teacherSpec.Resolution), teacherSpec));
            sum += CosineLoss(model.call(Normalize(Resize(pixels, studentSpec.Resolution), studentSpec)), target).item<float>() * batch.Length;
        }
        model.train();
        return sum / rows.Length;
    }

    /// <summary>
    /// One augmented view per image, at both resolutions: the same random resized crop (area fraction and aspect ratio as
    /// torchvision's RandomResizedCrop) and flip for teacher and student, then mixup of part of the batch with its reverse.
    /// </summary>
    internal (Tensor Student, Tensor Teacher) Views(PackedImages images, int[] rows, PreprocessingSpec studentSpec, PreprocessingSpec teacherSpec, Random random)
    {
        var pixels = images.Batch(rows);
        int size = images.Size;
        var teacherViews = new Tensor[rows.Length];
        var studentViews = new Tensor[rows.Length];
        var crops = ImageAugmentation.Default with { MinScale = (float)Options.MinCropArea, MaxScale = 1f };
        for (int i = 0; i < rows.Length; i++)
        {
            var (left, top, width, height) = crops.SampleCrop(size, size, random);
            var crop = pixels[i].narrow(1, top, height).narrow(2, left, width).unsqueeze(0).to_type(ScalarType.Float32);
            if (random.NextDouble() < 0.5) crop = crop.flip(3);
            teacherViews[i] = Resize(crop, teacherSpec.Resolution);
            studentViews[i] = Resize(crop, studentSpec.Resolution);
        }
        var teacherBatch = cat(teacherViews, 0);
        var studentBatch = cat(studentViews, 0);
        int mixed = (int)Math.Round(rows.Length * Options.MixupFraction);
        if (mixed > 0)
        {
            // Image i of the first `mixed` is blended with image n-1-i, with the same weight for both networks.
            var weights = ones(rows.Length, 1, 1, 1);
            for (int i = 0; i < mixed; i++) weights[i] = random.NextSingle();
            teacherBatch = weights * teacherBatch + (1 - weights) * teacherBatch.flip(0);
            studentBatch = weights * studentBatch + (1 - weights) * studentBatch.flip(0);
        }
        return (Normalize(studentBatch, studentSpec), Normalize(teacherBatch, teacherSpec));
    }

    private static Tensor Resize(Tensor pixels, int resolution) =>
        pixels.shape[2] == resolution && pixels.shape[3] == resolution
            ? pixels
            : nn.functional.interpolate(pixels, [resolution, resolution], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);

    /// <summary>0-255 RGB floats [N,3,H,W] → what the network expects under <paramref name="spec"/> (mean/std per RGB channel, then channel order).</summary>
    public static Tensor Normalize(Tensor rgb255, PreprocessingSpec spec)
    {
        var mean = tensor(spec.Mean.ToArray()).view(1, 3, 1, 1);
        var std = tensor(spec.Std.ToArray()).view(1, 3, 1, 1);
        var x = (rgb255 / 255f - mean) / std;
        // Contiguous NCHW, never channels-last: libtorch 2.10's CPU 1x1 stride-2 convolution (ResNet's stage-4 shortcut,
        // 256->512) computes wrong values on channels-last input (docs/known-issues.md).
        return spec.ChannelOrder == ChannelOrder.Bgr ? x.flip(1) : x;
    }

    /// <summary>A seeded permutation of the training rows per pass, so the rows of any step are known without replaying the run.</summary>
    private sealed class EpochOrder(int count, int seed)
    {
        private readonly Dictionary<long, int[]> passes = [];

        public int[] Batch(long step, int batchSize)
        {
            var rows = new int[batchSize];
            for (int j = 0; j < batchSize; j++)
            {
                long sample = step * batchSize + j;
                rows[j] = Pass(sample / count)[sample % count];
            }
            return rows;
        }

        private int[] Pass(long pass)
        {
            if (passes.TryGetValue(pass, out var order)) return order;
            order = Enumerable.Range(0, count).ToArray();
            new Random(Mix(seed, pass)).Shuffle(order);
            if (passes.Count > 2) passes.Clear();
            return passes[pass] = order;
        }
    }
}
