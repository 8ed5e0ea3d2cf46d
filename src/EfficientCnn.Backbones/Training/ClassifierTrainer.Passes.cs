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

            /// <summary>Optimizer steps of one epoch.</summary>
            public abstract int StepsPerEpoch { get; }

            /// <summary>How often an epoch's steps see each row (images/s counts images, not visits).</summary>
            public virtual int VisitsPerRow => 1;

            /// <summary>The loss a step minimizes.</summary>
            public abstract Tensor Loss(Tensor logits, Tensor labels);

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

            public override int StepsPerEpoch => run.StepsPerEpoch(Rows);

            public override Tensor Loss(Tensor logits, Tensor labels) => nn.functional.cross_entropy(logits, labels, label_smoothing: run.o.LabelSmoothing);

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

        /// <summary>
        /// The head alone on features computed once (<see cref="TrainScope.HeadOnly"/>), fitted as a linear probe is: every
        /// step sees all the features, no dropout or label smoothing, an L2 penalty. Mini-batches of a dropout head picked
        /// an epoch off a noisy curve instead (wesnoth-races: docs/transfer.md). The recipe is
        /// <see cref="SoftmaxRegression"/>'s, the linear probe's.
        /// </summary>
        private sealed class CachedFeaturesPass(Run run, OptimizerHelper optimizer, Tensor features, Tensor labels, Tensor? validationFeatures, Tensor? validationLabels)
            : TrainingPass(optimizer, [1.0])
        {
            public override int Rows => (int)features.shape[0];

            private readonly Parameter headWeight = run.model.Head.modules().OfType<Linear>().Single().weight!;

            public override int StepsPerEpoch => FullBatchStepsPerEpoch;

            public override int VisitsPerRow => FullBatchStepsPerEpoch; // every step is the whole set

            public override Tensor Loss(Tensor logits, Tensor labels) =>
                nn.functional.cross_entropy(logits, labels) + SoftmaxRegression.L2 * headWeight.pow(2).sum();

            // An epoch over cached features takes milliseconds.
            public override bool ReportsBatchProgress => false;

            // Eval mode: the dropout in front of the head is for end-to-end training.
            public override void SetTrainingMode() => run.model.Head.eval();

            public override IEnumerable<TrainingBatch> Batches(int[] order, int epoch)
            {
                for (int step = 0; step < FullBatchStepsPerEpoch; step++)
                    yield return new(Rows, () => (run.model.Head.call(features), labels));
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
