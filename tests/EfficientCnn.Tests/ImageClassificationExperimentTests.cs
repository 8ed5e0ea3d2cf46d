using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using EfficientCnn.MLNet.Experiments;
using Microsoft.ML;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>The auto experiment and budgeted training from code, as docs/mlnet-components.md shows them.</summary>
[TestFixture]
public sealed class ImageClassificationExperimentTests
{
    private string folder = "";

    [SetUp]
    public void SetUp() => folder = TrainingFixtures.TempFolder("experiment");

    [TearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    [Test]
    public void TheExperimentReturnsTheBestModelAndALeaderboardOfEveryTrial()
    {
        var ml = new MLContext(seed: 0);
        var data = new ImageClassificationData(ml, ImageDataset.FromFolder(TrainingFixtures.WriteStripes(folder, 6, 32)), validationFraction: 0.25, seed: 0);
        var messages = new List<string>();
        var result = new ImageClassificationExperiment(ml, new ImageClassificationExperimentOptions
        {
            Candidates = [BackboneSource.Resolve("mobilenet_v2_0.35"), BackboneSource.Resolve("mnasnet_b1_0.5")],
            Epochs = 1,
            Trainer = new ImageClassifierTrainerOptions { Resolution = 32, Training = new() { BatchSize = 4 } },
            OnMessage = messages.Add,
        }).Run(data.TrainView, data.ValidationView!);

        Assert.That(result.Leaderboard.Select(r => r.Name), Is.EquivalentTo(new[]
        {
            "mobilenet_v2_0.35 head-only", "mnasnet_b1_0.5 head-only", $"{result.Leaderboard.Single(r => r.Mode == "fine-tune").Backbone} fine-tune",
        }), "two head-only candidates, then the most accurate one fine-tuned");
        Assert.That(result.Leaderboard.Select(r => r.ValidationAccuracy), Is.Ordered.Descending);
        Assert.That(result.BestRow.ValidationAccuracy, Is.EqualTo(result.Leaderboard.Max(r => r.ValidationAccuracy)));
        Assert.That(result.Best.Scorer.Model.Preprocessing.Resolution, Is.EqualTo(32));
        Assert.That(messages, Has.Some.Contains("ms per image"));

        string zip = Path.Combine(folder, "model.zip");
        ml.Model.Save(data.Pipeline(result.Best.Scorer), data.TrainView.Schema, zip);
        Assert.That(ml.Model.Load(zip, out _), Is.Not.Null);
    }

    [Test]
    public void ATimeBudgetPlansTheEpochsThatFitAndKeepsTheBestWeights()
    {
        var ml = new MLContext(seed: 0);
        var data = new ImageClassificationData(ml, ImageDataset.FromFolder(TrainingFixtures.WriteStripes(folder, 6, 32)), validationFraction: 0.25, seed: 0);
        int? planned = null;
        var trainer = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
        {
            Backbone = BackboneSource.Resolve("mobilenet_v2_0.35"), Resolution = 32, ValidationSet = data.ValidationView,
            TimeBudget = TimeSpan.FromMinutes(2), OnEpochsPlanned = n => planned = n,
            Training = new() { Epochs = 3, BatchSize = 4, LinearProbeEpochs = 0 },
        });
        trainer.Fit(data.TrainView);
        // One epoch first, then the rest planned from its duration: far more than 3 fit in two minutes.
        Assert.That(planned, Is.EqualTo(3), "Training.Epochs is the most");
        Assert.That(trainer.LastResult!.History.Select(h => h.Epoch), Is.EqualTo(new[] { 1, 2, 3 }), "the first epoch resumed, not repeated");
    }
}
