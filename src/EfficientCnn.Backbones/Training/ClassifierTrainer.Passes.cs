using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

public sealed partial class ClassifierTrainer
{
    private sealed partial class Run
    {
        /// <summary>One optimizer step's images: their count and the forward pass (run inside the step's dispose scope).</summary>
        private readonly record struct TrainingBatch(int Count, Func<(Tensor Logits, Tensor Labels)> Forward);

        /// <summary>What a scope trains on and how; the epoch loop around it (<see cref="RunEpochs"/>) is the same for all.</summary>
        private abstract class TrainingPass(OptimizerHelper optimizer, IReadOnlyList<double> groupRateFactors)
        {
            public OptimizerHelper Optimizer { get; } = optimizer;

            /// <summary>Each parameter group's fraction of the scheduled learning rate, in the optimizer's group order.</summary>
            public IReadOnlyList<double> GroupRateFactors { get; } = groupRateFactors;

            /// <summary>Training rows one epoch shuffles and visits.</summary>
            public abstract int Rows { get; }

            /// <summary>Whether every step reports <see cref="TrainingProgress"/> (the console's progress and ETA read it).</summary>
            public abstract bool ReportsBatchProgress { get; }

            public abstract void SetTrainingMode();

            /// <summary>The epoch's steps over <paramref name="order"/>; may throw <see cref="OperationCanceledException"/>.</summary>
            public abstract IEnumerable<TrainingBatch> Batches(int[] order, int epoch);

            /// <summary>Runs between the backward pass and the optimizer step.</summary>
            public virtual void BeforeOptimizerStep() { }

            /// <summary>Ends 1-based <paramref name="epoch"/>: puts the network in eval mode and returns the validation loss and accuracy, or nulls.</summary>
            public abstract (double? Loss, double? Accuracy) EndEpoch(int epoch);
        }

        /// <summary>Images through the trained stages and the head: decoding and augmenting each batch.</summary>
        private sealed class EndToEndPass(Run run, OptimizerHelper optimizer, IReadOnlyList<double> groupRateFactors, IReadOnlyList<nn.Module> frozenStages)
            : TrainingPass(optimizer, groupRateFactors)
        {
            public override int Rows => run.train.Count;

            public override bool ReportsBatchProgress => true;

            public override void SetTrainingMode()
            {
                run.model.train();
                foreach (var stage in frozenStages) stage.eval();
            }

            public override IEnumerable<TrainingBatch> Batches(int[] order, int epoch)
            {
                var o = run.o;
                foreach (var batch in run.loader.Batches(run.train, order, o.Augmentation, o.Seed, epoch, run.cancel))
                {
                    if (batch.Count < 2) continue; // batch norm cannot train on a single image
                    yield return new(batch.Count, () => (run.model.call(ToInput(batch, run.spec.Resolution, run.device)), tensor(batch.Labels, device: run.device)));
                }
            }

            public override void BeforeOptimizerStep()
            {
                if (run.o.AgcClipping is { } clip) AdaptiveGradientClipping.ApplyExceptHead(run.model, clip);
            }

            public override (double? Loss, double? Accuracy) EndEpoch(int epoch)
            {
                if (run.o.BatchNormRecalibrationBatches > 0) run.RecalibrateBatchNorm(frozenStages);
                return run.Validate(epoch);
            }
        }

        /// <summary>The head alone on features computed once (<see cref="TrainScope.HeadOnly"/>).</summary>
        private sealed class CachedFeaturesPass(Run run, OptimizerHelper optimizer, Tensor features, Tensor labels, Tensor? validationFeatures, Tensor? validationLabels)
            : TrainingPass(optimizer, [1.0])
        {
            public override int Rows => (int)features.shape[0];

            // An epoch over cached features takes milliseconds.
            public override bool ReportsBatchProgress => false;

            public override void SetTrainingMode() => run.model.Head.train();

            public override IEnumerable<TrainingBatch> Batches(int[] order, int epoch)
            {
                for (int start = 0; start < order.Length; start += run.o.BatchSize)
                {
                    var rows = order.Skip(start).Take(run.o.BatchSize).Select(i => (long)i).ToArray();
                    yield return new(rows.Length, () =>
                    {
                        var index = tensor(rows, device: run.device);
                        return (run.model.Head.call(features.index_select(0, index)), labels.index_select(0, index));
                    });
                }
            }

            public override (double? Loss, double? Accuracy) EndEpoch(int epoch)
            {
                run.model.Head.eval();
                if (validationFeatures is null) return (null, null);
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var logits = run.model.Head.call(validationFeatures);
                return (nn.functional.cross_entropy(logits, validationLabels!).item<float>(),
                    logits.argmax(1).eq(validationLabels!).to_type(ScalarType.Float64).mean().item<double>());
            }
        }
    }
}
