using System.Diagnostics;
using EfficientCnn.Backbones.Imaging;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

/// <summary>The outcome of <see cref="ClassifierTrainer.Train"/>.</summary>
public sealed class TrainingResult
{
    internal TrainingResult(ImageClassifier model, IReadOnlyList<string> classes, IReadOnlyList<EpochMetrics> history, int bestEpoch,
        bool stoppedEarly, bool cancelled, int resumedFromEpoch, BadImageReport badImages, EpochMetrics? linearProbe = null)
    {
        LinearProbe = linearProbe;
        Model = model;
        Classes = classes;
        History = history;
        BestEpoch = bestEpoch;
        StoppedEarly = stoppedEarly;
        Cancelled = cancelled;
        ResumedFromEpoch = resumedFromEpoch;
        BadImages = badImages;
    }

    /// <summary>The trained network (eval mode, on the training device), with the best validation epoch's weights when validation data was given.</summary>
    public ImageClassifier Model { get; }

    /// <summary>
    /// LP-FT's linear probe (its best epoch), or null. With validation data it counts as epoch 0: when no fine-tuning epoch
    /// beats its validation accuracy, <see cref="BestEpoch"/> is 0 and <see cref="Model"/> is the probe.
    /// </summary>
    public EpochMetrics? LinearProbe { get; }

    /// <summary>Best validation accuracy of the run, the linear probe's included; null without validation data.</summary>
    public double? BestValidationAccuracy =>
        History.Select(h => h.ValidationAccuracy).Append(LinearProbe?.ValidationAccuracy).Max();

    /// <summary>Class names in output order.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Metrics of every epoch run (including those before a resume).</summary>
    public IReadOnlyList<EpochMetrics> History { get; }

    /// <summary>The epoch whose weights <see cref="Model"/> holds (the last one without validation data; 0: the <see cref="LinearProbe"/>).</summary>
    public int BestEpoch { get; }

    /// <summary>Whether early stopping ended the run before the last epoch.</summary>
    public bool StoppedEarly { get; }

    /// <summary>Whether cancellation ended the run; <see cref="Model"/> then holds the best weights so far.</summary>
    public bool Cancelled { get; }

    /// <summary>Epochs restored from a checkpoint (0 when the run started fresh).</summary>
    public int ResumedFromEpoch { get; }

    /// <summary>Images skipped under <see cref="BadImagePolicy.Skip"/>.</summary>
    public BadImageReport BadImages { get; }
}

/// <summary>
/// Fine-tunes a backbone with a new head on an <see cref="ImageDataset"/>: streaming batches with parallel decode and
/// augmentation, AdamW or SGD with warm-up + cosine decay, label smoothing, optional AGC, validation with early stopping
/// and best-epoch restore, a checkpoint per epoch with resume, and cancellation that keeps the best model so far.
/// <see cref="TrainScope.HeadOnly"/> computes the features once (ML.NET's bottleneck cache) and fits the head on all of
/// them at each step (<see cref="SoftmaxRegression"/>); LP-FT's linear probe is such a run.
/// </summary>
/// <remarks>
/// Determinism: the head initialisation, the data order, every augmentation draw and dropout derive from
/// <see cref="ClassifierTrainingOptions.Seed"/> (torch's generator is re-seeded per epoch, so a resumed run continues
/// exactly as an uninterrupted one). On a CPU with a fixed thread count the same seed gives the same weights.
/// </remarks>
public sealed partial class ClassifierTrainer
{
    /// <summary>Full-batch steps of a head-only epoch: 10 linear-probe epochs at the head rate are the 300 steps a probe converges in.</summary>
    public const int FullBatchStepsPerEpoch = 30;

    /// <summary>Creates a trainer with validated options.</summary>
    /// <remarks>Applies <see cref="Runtime.TorchRuntime.Configure"/> (malloc tuning, threads) unless the process already did: libtorch runs several times slower without it.</remarks>
    public ClassifierTrainer(ClassifierTrainingOptions? options = null)
    {
        Runtime.TorchRuntime.Configure();
        Options = (options ?? new ClassifierTrainingOptions()).Validate();
    }

    /// <summary>The settings.</summary>
    public ClassifierTrainingOptions Options { get; }

    /// <summary>Trains a new head (and per <see cref="ClassifierTrainingOptions.Scope"/> the backbone) on <paramref name="train"/>.</summary>
    /// <param name="featureExtractor">The backbone to fine-tune, or an <see cref="ImageClassifier"/> with the right number of classes to continue.</param>
    /// <param name="preprocessing">Resolution and normalization (the evaluation transform; augmentation is added for training).</param>
    /// <param name="train">Training data (at least two classes).</param>
    /// <param name="validation">Validation data with the same classes, or null.</param>
    /// <param name="cancellationToken">Stops after the current batch; the best weights so far are returned.</param>
    public TrainingResult Train(Backbone featureExtractor, PreprocessingSpec preprocessing, ImageDataset train, ImageDataset? validation = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(featureExtractor);
        ArgumentNullException.ThrowIfNull(preprocessing);
        ArgumentNullException.ThrowIfNull(train);
        train.EnsureTrainable();
        if (validation is not null && !validation.Classes.SequenceEqual(train.Classes))
            throw new ArgumentException($"Validation classes [{string.Join(", ", validation.Classes)}] differ from training classes [{string.Join(", ", train.Classes)}].", nameof(validation));
        if (validation is { Count: 0 }) validation = null;
        preprocessing.Validate();
        if (preprocessing.Resolution < featureExtractor.MinInputSize)
            throw new ArgumentException($"Resolution {preprocessing.Resolution} is below the {featureExtractor.MinInputSize} px the backbone's strides need.", nameof(preprocessing));

        EpochMetrics? linearProbe = null;
        if (Options.LinearProbeEpochs > 0 && Options.Scope != TrainScope.HeadOnly && !(featureExtractor is ImageClassifier continued && continued.NumClasses == train.Classes.Count))
        {
            // LP-FT's linear probe: the head fitted on frozen, cached features (head-only defaults: 10x the rate), then
            // the end-to-end run below continues this classifier.
            var probe = new ClassifierTrainer(Options with
            {
                Scope = TrainScope.HeadOnly, Epochs = Options.LinearProbeEpochs, LinearProbeEpochs = 0, WarmupEpochs = 0,
                LearningRate = Options.LearningRate * 10, CheckpointDirectory = null, EarlyStoppingPatience = null, OnEpoch = null,
            });
            var probed = probe.Train(featureExtractor, preprocessing, train, validation, cancellationToken);
            featureExtractor = probed.Model;
            linearProbe = probed.History.FirstOrDefault(h => h.Epoch == probed.BestEpoch);
        }
        var device = TrainingDevice.Parse(Options.Device);
        random.manual_seed(Options.Seed);
        var model = featureExtractor is ImageClassifier existing && existing.NumClasses == train.Classes.Count
            ? existing
            : new ImageClassifier(featureExtractor, train.Classes.Count, Options.HeadDropRate);
        model.to(device);
        var run = new Run(this, model, preprocessing, train, validation, device, cancellationToken, linearProbe);
        return Options.Scope == TrainScope.HeadOnly ? run.TrainHeadOnCachedFeatures() : run.TrainEndToEnd();
    }

    /// <summary>
    /// Class probabilities of every image of <paramref name="data"/> with <paramref name="model"/> in eval mode (the
    /// deterministic evaluation transform), plus the mean cross-entropy and the accuracy.
    /// </summary>
    public static (float[][] Probabilities, double Loss, double Accuracy) Evaluate(Backbone model, PreprocessingSpec preprocessing, ImageDataset data,
        int batchSize = 32, BadImagePolicy policy = BadImagePolicy.Throw) =>
        Evaluate(model, preprocessing, data, new ImageBatchLoader(preprocessing, batchSize, policy));

    /// <summary>See <see cref="Evaluate(Backbone, PreprocessingSpec, ImageDataset, int, BadImagePolicy)"/>; skipped images are recorded in <paramref name="loader"/>.</summary>
    private static (float[][] Probabilities, double Loss, double Accuracy) Evaluate(Backbone model, PreprocessingSpec preprocessing, ImageDataset data,
        ImageBatchLoader loader)
    {
        var device = model.parameters().FirstOrDefault()?.device ?? CPU;
        var probabilities = new float[data.Count][];
        double lossSum = 0;
        long correct = 0, seen = 0;
        model.eval();
        using var _ = no_grad();
        foreach (var batch in loader.Batches(data))
        {
            using var scope = NewDisposeScope();
            var logits = model.call(ToInput(batch, preprocessing.Resolution, device));
            var y = tensor(batch.Labels, device: device);
            lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
            correct += logits.argmax(1).eq(y).sum().item<long>();
            seen += batch.Count;
            var p = nn.functional.softmax(logits, 1).cpu().data<float>().ToArray();
            int k = logits.shape[1] is var c ? (int)c : 0;
            for (int i = 0; i < batch.Count; i++) probabilities[batch.Rows[i]] = p.AsSpan(i * k, k).ToArray();
        }
        return (probabilities, seen == 0 ? double.NaN : lossSum / seen, seen == 0 ? double.NaN : (double)correct / seen);
    }

    /// <summary>
    /// A batch as a contiguous [N, 3, R, R] tensor. Not channels-last, although oneDNN would skip a reorder: libtorch
    /// 2.10's CPU 1x1 stride-2 convolution (ResNet's stage-4 shortcut, 256->512) computes wrong values on channels-last
    /// input, so training saw other features than ONNX Runtime computes for the exported model (docs/known-issues.md).
    /// </summary>
    internal static Tensor ToInput(ImageBatch batch, int resolution, Device device)
    {
        int len = 3 * resolution * resolution;
        var data = batch.Pixels.Length == batch.Count * len ? batch.Pixels : batch.Pixels.AsSpan(0, batch.Count * len).ToArray();
        var x = tensor(data, [batch.Count, 3, resolution, resolution]);
        return device.type == DeviceType.CPU ? x : x.to(device);
    }

    /// <summary>State of one training run.</summary>
    private sealed partial class Run
    {
        private readonly ClassifierTrainingOptions o;
        private readonly ImageClassifier model;
        private readonly PreprocessingSpec spec;
        private readonly ImageDataset train;
        private readonly ImageDataset? validation;
        private readonly Device device;
        private readonly CancellationToken cancel;
        private readonly ImageBatchLoader loader;
        // Its own loader (no augmentation, the same bad-image policy) whose skipped images are reported with the
        // training ones: "skipped 6" was printed for 7 bad files when one fell in the validation split.
        private readonly ImageBatchLoader validationLoader;
        private readonly List<EpochMetrics> history = [];
        private Dictionary<string, Tensor>? bestState;
        private int bestEpoch;
        private double bestAccuracy = double.NegativeInfinity, bestLoss = double.PositiveInfinity;

        // LP-FT's probe, which fine-tuning must beat on validation to replace (its weights are "epoch 0").
        private readonly EpochMetrics? linearProbe;

        public Run(ClassifierTrainer owner, ImageClassifier model, PreprocessingSpec spec, ImageDataset train, ImageDataset? validation, Device device,
            CancellationToken cancel, EpochMetrics? linearProbe = null)
        {
            o = owner.Options;
            this.model = model;
            this.spec = spec;
            this.train = train;
            this.validation = validation;
            this.device = device;
            this.cancel = cancel;
            loader = new ImageBatchLoader(spec, o.BatchSize, o.OnBadImage, o.DecodeParallelism);
            validationLoader = new ImageBatchLoader(spec, o.BatchSize, o.OnBadImage, o.DecodeParallelism);
            this.linearProbe = linearProbe;
            if (linearProbe is { ValidationAccuracy: { } accuracy })
            {
                // Fine-tuning never loses to its own linear probe on validation: the probe is the best "epoch" until beaten.
                (bestEpoch, bestAccuracy, bestLoss) = (0, accuracy, linearProbe.ValidationLoss ?? double.PositiveInfinity);
                bestState = CopyOfWeights();
            }
        }

        public TrainingResult TrainEndToEnd()
        {
            var trainable = SelectTrainable();
            var head = model.Head.parameters().ToHashSet();
            var backboneRate = new ParamGroup(trainable.Where(p => !head.Contains(p)), o.BackboneLearningRateFactor);
            var headRate = new ParamGroup(trainable.Where(head.Contains), 1.0);
            var optimizer = CreateOptimizer(backboneRate, headRate);
            var pass = new EndToEndPass(this, optimizer, [backboneRate.Factor, headRate.Factor], FrozenStages());
            var checkpoint = o.CheckpointDirectory is null ? null : new TrainingCheckpoint(o.CheckpointDirectory);
            var identity = TrainingCheckpoint.Describe(train, validation, spec.Resolution, ("scope", o.Scope), ("trained stages", o.Scope == TrainScope.LastStages ? o.TrainLastStages : null),
                ("batch size", o.BatchSize), ("seed", o.Seed), ("optimizer", o.Optimizer), ("learning rate", o.EffectiveLearningRate), ("weight decay", o.WeightDecay),
                ("label smoothing", o.LabelSmoothing), ("precision", o.Precision), ("linear probe epochs", o.LinearProbeEpochs),
                ("backbone learning rate factor", o.BackboneLearningRateFactor));
            int startEpoch = 0;
            if (checkpoint is not null && o.Resume && checkpoint.Exists)
            {
                var state = checkpoint.Load(model, optimizer, identity);
                history.AddRange(state.History);
                (bestEpoch, bestAccuracy, bestLoss) = (state.BestEpoch, state.BestAccuracy, state.BestLoss);
                bestState = state.BestWeights;
                startEpoch = state.EpochsCompleted;
            }
            return RunEpochs(pass, startEpoch, checkpoint is null ? null : state => checkpoint.Save(model, optimizer, state, identity));
        }

        public TrainingResult TrainHeadOnCachedFeatures()
        {
            var trainFeatures = CacheFeatures(train, out var trainLabels);
            Tensor? valFeatures = null, valLabels = null;
            if (validation is not null) valFeatures = CacheFeatures(validation, out valLabels);
            foreach (var p in model.FeatureExtractor.parameters()) p.requires_grad = false;
            var optimizer = CreateOptimizer(model.Head.parameters().ToList());
            var pass = new CachedFeaturesPass(this, optimizer, trainFeatures, trainLabels, valFeatures, valLabels);
            try
            {
                return RunEpochs(pass, 0, saveCheckpoint: null);
            }
            finally
            {
                foreach (var p in model.FeatureExtractor.parameters()) p.requires_grad = true;
            }
        }

        /// <summary>
        /// The epoch loop of both scopes: seeding, shuffling, the scheduled optimizer steps, the epoch's metrics, best-epoch
        /// tracking, the checkpoint, early stopping and cancellation. <paramref name="pass"/> says what a step runs on.
        /// </summary>
        private TrainingResult RunEpochs(TrainingPass pass, int startEpoch, Action<CheckpointState>? saveCheckpoint)
        {
            int stepsPerEpoch = pass.StepsPerEpoch;
            var schedule = new LearningRateSchedule(o.EffectiveLearningRate, (long)stepsPerEpoch * o.Epochs, (long)Math.Round(o.WarmupEpochs * stepsPerEpoch));
            int sinceBest = 0;
            bool stoppedEarly = false, cancelled = false;
            for (int epoch = startEpoch; epoch < o.Epochs; epoch++)
            {
                if (cancel.IsCancellationRequested) { cancelled = true; break; }
                var watch = Stopwatch.StartNew();
                random.manual_seed(o.Seed * 7919L + epoch);
                pass.SetTrainingMode();
                var order = Enumerable.Range(0, pass.Rows).ToArray();
                ImageAugmentation.CreateRandom(o.Seed, epoch, -1).Shuffle(order);
                double lossSum = 0, lr = 0;
                long correct = 0, seen = 0;
                // Steps skipped in an epoch (a one-image batch) do not shift the next epoch's schedule.
                long step = (long)epoch * stepsPerEpoch;
                try
                {
                    foreach (var batch in pass.Batches(order, epoch))
                    {
                        using var scope = NewDisposeScope();
                        lr = schedule.At(step++);
                        foreach (var (group, factor) in pass.Optimizer.ParamGroups.Zip(pass.GroupRateFactors)) group.LearningRate = lr * factor;
                        pass.Optimizer.zero_grad();
                        var (logits, y) = batch.Forward();
                        var loss = pass.Loss(logits, y);
                        loss.backward();
                        pass.BeforeOptimizerStep();
                        pass.Optimizer.step();
                        lossSum += loss.item<float>() * batch.Count;
                        correct += logits.argmax(1).eq(y).sum().item<long>();
                        seen += batch.Count;
                        if (pass.ReportsBatchProgress) o.OnProgress?.Invoke(new TrainingProgress("train", epoch + 1, (int)seen, train.Count));
                    }
                }
                catch (OperationCanceledException)
                {
                    cancelled = true;
                    break;
                }
                double trainSeconds = watch.Elapsed.TotalSeconds;
                var (valLoss, valAccuracy) = pass.EndEpoch(epoch + 1);
                var metrics = new EpochMetrics(epoch + 1, lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen), valLoss, valAccuracy,
                    lr, watch.Elapsed.TotalSeconds, seen / (double)pass.VisitsPerRow / Math.Max(1e-9, trainSeconds));
                history.Add(metrics);
                sinceBest = TrackBest(metrics) ? 0 : sinceBest + 1;
                saveCheckpoint?.Invoke(new CheckpointState(epoch + 1, history.ToArray(), bestEpoch, bestAccuracy, bestLoss, bestState));
                o.OnEpoch?.Invoke(metrics);
                if (ShouldStopEarly(sinceBest, epoch))
                {
                    stoppedEarly = true;
                    break;
                }
            }
            return Finish(stoppedEarly, cancelled, startEpoch);
        }

        private TrainingResult Finish(bool stoppedEarly, bool cancelled, int resumed)
        {
            if (bestState is not null)
            {
                using var _ = no_grad();
                model.load_state_dict(bestState);
            }
            else bestEpoch = history.Count == 0 ? 0 : history[^1].Epoch;
            model.eval();
            var badImages = new BadImageReport();
            foreach (var bad in loader.BadImages.Images.Concat(validationLoader.BadImages.Images)) badImages.Add(bad);
            return new TrainingResult(model, train.Classes, history, bestEpoch, stoppedEarly, cancelled, resumed, badImages, linearProbe);
        }

        /// <summary>Whether early stopping ends the run after 0-based <paramref name="epoch"/> (never after the last one).</summary>
        private bool ShouldStopEarly(int epochsWithoutImprovement, int epoch) =>
            o.EarlyStoppingPatience is { } patience && validation is not null && epochsWithoutImprovement >= patience && epoch + 1 < o.Epochs;

        /// <summary>Records the epoch as the best when its validation accuracy is higher (ties: lower loss); returns whether it was.</summary>
        private bool TrackBest(EpochMetrics m)
        {
            if (m.ValidationAccuracy is not { } accuracy) return false;
            double loss = m.ValidationLoss ?? double.PositiveInfinity;
            if (accuracy < bestAccuracy || (accuracy == bestAccuracy && loss >= bestLoss)) return false;
            (bestAccuracy, bestLoss, bestEpoch) = (accuracy, loss, m.Epoch);
            if (bestState is not null) foreach (var t in bestState.Values) t.Dispose();
            bestState = CopyOfWeights();
            return true;
        }

        private Dictionary<string, Tensor> CopyOfWeights() =>
            model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());

        /// <summary>
        /// Re-estimates the running mean/variance of every trained batch-norm layer as the plain average over the first
        /// <see cref="ClassifierTrainingOptions.BatchNormRecalibrationBatches"/> training batches of rows spread evenly over the
        /// set (momentum null = cumulative average in libtorch), with the evaluation transform; frozen stages keep theirs.
        /// Deterministic: same batches every time.
        /// </summary>
        private void RecalibrateBatchNorm(IReadOnlyList<nn.Module> frozenStages)
        {
            var frozen = frozenStages.SelectMany(s => s.modules()).OfType<TorchSharp.Modules.BatchNorm>().ToHashSet();
            var norms = model.modules().OfType<TorchSharp.Modules.BatchNorm>().Where(b => !frozen.Contains(b) && b.track_running_stats).ToArray();
            if (norms.Length == 0) return;
            var momentum = norms.Select(b => b.momentum).ToArray();
            foreach (var b in norms)
            {
                b.reset_running_stats();
                b.momentum = null;
                b.train();
            }
            try
            {
                using var _ = no_grad();
                // Rows spread evenly over the set: datasets are often ordered by class, and the first rows alone
                // would give one class's statistics (seen on wesnoth-races: 0.39 against 0.51 without recalibration).
                int rows = Math.Min(train.Count, o.BatchNormRecalibrationBatches * o.BatchSize);
                var spread = Enumerable.Range(0, rows).Select(i => (int)((long)i * train.Count / rows)).ToArray();
                foreach (var batch in loader.Batches(train, spread, cancellationToken: cancel))
                {
                    if (batch.Count < 2) continue;
                    using var scope = NewDisposeScope();
                    model.call(ToInput(batch, spec.Resolution, device));
                }
            }
            finally
            {
                for (int i = 0; i < norms.Length; i++) norms[i].momentum = momentum[i];
            }
        }

        private (double? Loss, double? Accuracy) Validate(int epoch)
        {
            if (validation is null) return (null, null);
            o.OnProgress?.Invoke(new TrainingProgress("validate", epoch, 0, validation.Count));
            var (_, loss, accuracy) = Evaluate(model, spec, validation, validationLoader);
            o.OnProgress?.Invoke(new TrainingProgress("validate", epoch, validation.Count, validation.Count));
            return (loss, accuracy);
        }

        private Tensor CacheFeatures(ImageDataset data, out Tensor labels)
        {
            model.eval();
            var features = new List<Tensor>();
            var ys = new List<long>();
            int done = 0;
            using (no_grad())
            {
                foreach (var batch in loader.Batches(data, cancellationToken: cancel))
                {
                    features.Add(model.FeatureExtractor.ForwardFeatures(ToInput(batch, spec.Resolution, device)).detach());
                    ys.AddRange(batch.Labels);
                    done += batch.Count;
                    o.OnProgress?.Invoke(new TrainingProgress("features", 0, done, data.Count));
                }
            }
            labels = tensor(ys.ToArray(), device: device);
            return features.Count == 0 ? zeros(0, model.FeatureDim, device: device) : cat(features, 0);
        }

        private List<Parameter> SelectTrainable()
        {
            var stages = model.Stages;
            int firstTrained = o.Scope == TrainScope.LastStages ? Math.Max(0, stages.Count - o.TrainLastStages) : 0;
            var trainable = new List<Parameter>();
            foreach (var p in model.FeatureExtractor.parameters()) p.requires_grad = false;
            for (int s = firstTrained; s < stages.Count; s++)
                foreach (var p in stages[s].parameters()) { p.requires_grad = true; trainable.Add(p); }
            foreach (var p in model.Head.parameters()) { p.requires_grad = true; trainable.Add(p); }
            return trainable;
        }

        private IReadOnlyList<nn.Module> FrozenStages() =>
            o.Scope == TrainScope.LastStages ? model.Stages.Take(Math.Max(0, model.Stages.Count - o.TrainLastStages)).ToArray() : [];

        private OptimizerHelper CreateOptimizer(IList<Parameter> parameters) => o.Optimizer == OptimizerKind.AdamW
            ? optim.AdamW(parameters, lr: o.EffectiveLearningRate, weight_decay: o.WeightDecay)
            : optim.SGD(parameters, o.EffectiveLearningRate, momentum: o.Momentum, weight_decay: o.WeightDecay);

        /// <summary>One optimizer over parameter groups, each at its fraction of the scheduled rate (the groups' order is kept).</summary>
        private OptimizerHelper CreateOptimizer(params ParamGroup[] groups) => o.Optimizer == OptimizerKind.AdamW
            ? optim.AdamW(groups.Select(g => new AdamW.ParamGroup(g.Parameters, new AdamW.Options { LearningRate = o.EffectiveLearningRate * g.Factor })),
                lr: o.EffectiveLearningRate, weight_decay: o.WeightDecay)
            : optim.SGD(groups.Select(g => new SGD.ParamGroup(g.Parameters, new SGD.Options { LearningRate = o.EffectiveLearningRate * g.Factor })),
                o.EffectiveLearningRate, momentum: o.Momentum, weight_decay: o.WeightDecay);

        /// <summary>Parameters trained at <see cref="Factor"/> times the scheduled learning rate.</summary>
        private sealed record ParamGroup(IEnumerable<Parameter> Parameters, double Factor);

        private int StepsPerEpoch(int count) => Math.Max(1, (count + o.BatchSize - 1) / o.BatchSize);
    }
}
