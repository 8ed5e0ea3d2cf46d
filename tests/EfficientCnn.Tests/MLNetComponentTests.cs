using System.Collections.Concurrent;
using System.Globalization;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Search;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>Input row: an image path and its class name.</summary>
public sealed class LabeledImageRow
{
    /// <summary>Path of the image file.</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>Class name.</summary>
    public string Label { get; set; } = "";
}

/// <summary>Featurizer output row.</summary>
public sealed class FeaturesRow
{
    /// <summary>Pooled backbone features.</summary>
    public float[] Features { get; set; } = [];
}

/// <summary>The ML.NET front door: featurizer, fine-tuning trainer, evaluation, save/load, batch scoring, bad input.</summary>
public sealed class MLNetComponentTests
{
    private const string SmallZoo = "mobilenet_v2_0.35";
    private string folder = "";

    [SetUp]
    public void SetUp() => folder = TrainingFixtures.TempFolder("mlnet");

    [TearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    private static LabeledImageRow[] Rows(string dir) =>
        ImageDataset.FromFolder(dir).Items.Select((item, _) => new LabeledImageRow
        {
            ImagePath = item.Image.Path!, Label = Path.GetFileName(Path.GetDirectoryName(item.Image.Path))!,
        }).ToArray();

    [Test]
    public void FeaturizerFeedsAnMLNetTrainerFromPathsBytesAndMLImage()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(TrainingFixtures.Clipart4).Where((_, i) => i % 5 == 0).ToArray(); // 44 real images, 4 classes
        var data = ml.Data.LoadFromEnumerable(rows);
        var featurizer = ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions { Backbone = BackboneSource.Resolve(SmallZoo), Resolution = 64 });
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(featurizer)
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features"));
        var model = pipeline.Fit(data);
        // Schema propagation keeps the label's key values through the featurizer, so class names come back downstream.
        var named = pipeline.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelText", "PredictedLabel")).Fit(data);
        Assert.That(named.Transform(data).GetColumn<string>("PredictedLabelText").Distinct(), Is.SubsetOf(rows.Select(r => r.Label).Distinct()));
        // Random-init features carry little information; this checks the plumbing (accuracy on pretrained backbones: docs/benchmarks.md).
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(data));
        Assert.That(metrics.ConfusionMatrix.NumberOfClasses, Is.EqualTo(4));
        Assert.That(metrics.LogLoss, Is.GreaterThan(0).And.LessThan(10));

        var features = ml.Data.CreateEnumerable<FeaturesRow>(featurizer.Fit(data).Transform(data), reuseRowObject: false).ToArray();
        Assert.That(features.All(f => f.Features.Length == 1280 && f.Features.All(float.IsFinite)), Is.True);
        Assert.That(features.Select(f => f.Features[0]).Distinct().Count(), Is.GreaterThan(20), "different images give different features");

        // Encoded bytes and ML.NET's MLImage (LoadImages) give the same features as file paths.
        var bytes = ml.Data.LoadFromEnumerable(rows.Take(4).Select(r => new MLNetPersistenceTests.BytesRow { Image = File.ReadAllBytes(r.ImagePath) }));
        var fromBytes = ml.Data.CreateEnumerable<FeaturesRow>(
            ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions { Backbone = BackboneSource.Resolve(SmallZoo), Resolution = 64, Scoring = new() { InputColumnName = "Image", OutputColumnName = "Features", PredictedLabelColumnName = null } })
                .Fit(bytes).Transform(bytes), reuseRowObject: false).ToArray();
        var loaded = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "ImagePath").Fit(data).Transform(ml.Data.TakeRows(data, 4));
        var fromMlImage = ml.Data.CreateEnumerable<FeaturesRow>(
            ml.Transforms.FeaturizeImages("Features", "Image", SmallZoo).Fit(loaded).Transform(loaded), reuseRowObject: false).ToArray();
        var fromPaths224 = ml.Data.CreateEnumerable<FeaturesRow>(
            ml.Transforms.FeaturizeImages("Features", "ImagePath", SmallZoo).Fit(data).Transform(ml.Data.TakeRows(data, 4)), reuseRowObject: false).ToArray();
        for (int i = 0; i < 4; i++)
        {
            Assert.That(fromBytes[i].Features, Is.EqualTo(features[i].Features).Within(1e-5f), $"bytes row {i}");
            Assert.That(fromMlImage[i].Features, Is.EqualTo(fromPaths224[i].Features).Within(1e-3f), $"MLImage row {i}");
        }
    }

    [Test]
    public void FeaturizerReadsAnyOnnxFileWithItsMetadataPreprocessing()
    {
        var source = BackboneSource.Resolve(SmallZoo);
        var (onnx, output) = source.FeaturizerOnnx(seed: 0);
        string file = Path.Combine(folder, "backbone.onnx");
        File.WriteAllBytes(file, onnx);
        Assert.That(output, Is.EqualTo(OnnxExporter.FeaturesName));
        Assert.That(BackboneSource.Resolve(file).Kind, Is.EqualTo(BackboneSourceKind.OnnxFile));
        Assert.That(BackboneSource.Resolve(file).Preprocessing, Is.EqualTo(source.Preprocessing));

        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(TrainingFixtures.Clipart4).Take(3));
        var a = ml.Data.CreateEnumerable<FeaturesRow>(ml.Transforms.FeaturizeImages(backbone: file).Fit(data).Transform(data), false).ToArray();
        var b = ml.Data.CreateEnumerable<FeaturesRow>(ml.Transforms.FeaturizeImages(backbone: SmallZoo).Fit(data).Transform(data), false).ToArray();
        for (int i = 0; i < 3; i++) Assert.That(a[i].Features, Is.EqualTo(b[i].Features).Within(1e-6f));
    }

    [Test]
    public void ArchitectureSpecFileIsABackboneTrainedFromScratch()
    {
        // What `efficientcnn search` writes (best.json) must be trainable and usable wherever a backbone name is.
        var spec = ArchitectureSpec.MobileNetV2Skeleton.Scale(1, 0.25, 32) with { HeadChannels = 48 };
        string file = Path.Combine(folder, "searched.json");
        spec.Save(file);
        var source = BackboneSource.Resolve(file);
        Assert.That(source.Kind, Is.EqualTo(BackboneSourceKind.ArchitectureSpecFile));
        Assert.That(source.IsRandomlyInitialised, Is.True);
        Assert.That(source.Spec, Is.EqualTo(spec), "read once when resolved");
        Assert.That(source.Preprocessing.Resolution, Is.EqualTo(32), "the spec's own resolution");
        var a = source.CreateFeatureExtractor(seed: 3);
        Assert.That(a, Is.TypeOf<SearchedNetwork>());
        Assert.That(((SearchedNetwork)a).Spec, Is.EqualTo(spec));
        var b = source.CreateFeatureExtractor(seed: 3);
        Assert.That(a.parameters().First().data<float>().ToArray(), Is.EqualTo(b.parameters().First().data<float>().ToArray()), "same seed, same weights");

        var ml = new MLContext(seed: 1);
        var images = ml.Data.LoadFromEnumerable(Rows(TrainingFixtures.Clipart4).Take(2));
        var features = ml.Data.CreateEnumerable<FeaturesRow>(ml.Transforms.FeaturizeImages(backbone: file).Fit(images).Transform(images), false).ToArray();
        Assert.That(features.Select(f => f.Features.Length), Is.All.EqualTo(48), "pooled features of the spec's head");

        TrainingFixtures.WriteStripes(folder, 8, 32);
        var data = ml.Data.LoadFromEnumerable(Rows(folder));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var trainer = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
        {
            Backbone = BackboneSource.Resolve(file), ValidationFraction = 0, Seed = 1, Training = new() { Epochs = 2, BatchSize = 8, BatchNormRecalibrationBatches = 2 },
        });
        var scored = trainer.Fit(keyed).Transform(keyed);
        Assert.That(trainer.LastResult!.History, Has.Count.EqualTo(2));
        Assert.That(scored.Schema["Score"].Type, Is.EqualTo(new VectorDataViewType(NumberDataViewType.Single, 2)));

        File.WriteAllText(Path.Combine(folder, "broken.json"), "{ \"stemChannels\": 0 }");
        var e = Assert.Throws<ArgumentException>(() => BackboneSource.Resolve(Path.Combine(folder, "broken.json")));
        Assert.That(e!.Message, Does.Contain("broken.json"));
        Assert.Throws<FileNotFoundException>(() => BackboneSource.Resolve(Path.Combine(folder, "missing.json")));
    }

    [Test]
    public void BadBackbonesGiveClearErrors()
    {
        var ml = new MLContext();
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.FeaturizeImages(backbone: "no_such_net"));
        Assert.That(e!.Message, Does.Contain("no_such_net").And.Contain("efficientcnn zoo"));
        Assert.Throws<FileNotFoundException>(() => ml.Transforms.FeaturizeImages(backbone: Path.Combine(folder, "missing.onnx")));
        string junk = Path.Combine(folder, "junk.onnx");
        File.WriteAllText(junk, "this is not a model");
        Assert.That(Assert.Throws<InvalidDataException>(() => ml.Transforms.FeaturizeImages(backbone: junk))!.Message, Does.Contain("junk.onnx"));
        string notImage = Path.Combine(folder, "vector.onnx");
        File.WriteAllBytes(notImage, OnnxTestModels.VectorModel());
        var e2 = Assert.Throws<InvalidDataException>(() => ml.Transforms.FeaturizeImages(backbone: notImage));
        Assert.That(e2!.Message, Does.Contain("vector.onnx").And.Contain("not an image model"));
    }

    [Test]
    public void FineTunedClassifierEvaluatesSavesReloadsAndScoresInBatches()
    {
        TrainingFixtures.WriteStripes(folder, 20, 40);
        var ml = new MLContext(seed: 1);
        var rows = Rows(folder);
        var data = ml.Data.LoadFromEnumerable(rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var epochs = new List<EpochMetrics>();
        var trainer = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
        {
            Backbone = BackboneSource.Resolve(SmallZoo), Resolution = 32, ValidationFraction = 0.2, Seed = 7,
            Training = new() { Epochs = 3, BatchSize = 8, LearningRate = 3e-3, OnEpoch = epochs.Add }, Scoring = new() { BatchSize = 7 },
        });
        var model = trainer.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelText", "PredictedLabel")).Fit(keyed);
        Assert.That(epochs, Has.Count.EqualTo(3));
        Assert.That(epochs.All(m => m.ValidationAccuracy is not null), Is.True);
        Assert.That(trainer.LastResult!.Classes, Is.EqualTo(new[] { "horizontal", "vertical" }));

        var scored = model.Transform(keyed);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        TestContext.Out.WriteLine($"micro {metrics.MicroAccuracy:F3} log-loss {metrics.LogLoss:F3}; epochs: {string.Join(" ", epochs.Select(m => $"{m.TrainLoss:F2}/{m.TrainAccuracy:F2}/{m.ValidationAccuracy:F2}"))}");
        // A random-init MobileNetV2 barely moves in 3 epochs on 32 images (its eval-mode BN statistics lag): this test is
        // about the ML.NET contract; learning itself is tested in TrainingTests and measured in docs/benchmarks.md.
        Assert.That(metrics.ConfusionMatrix.NumberOfClasses, Is.EqualTo(2));
        Assert.That(metrics.LogLoss, Is.GreaterThan(0).And.LessThan(5));
        Assert.That(scored.Schema["Score"].Type, Is.EqualTo(new VectorDataViewType(NumberDataViewType.Single, 2)));
        Assert.That(scored.Schema["PredictedLabel"].Type, Is.TypeOf<KeyDataViewType>());
        var texts = scored.GetColumn<string>("PredictedLabelText").ToArray();
        var keys = scored.GetColumn<uint>("PredictedLabel").ToArray();
        var probabilities = scored.GetColumn<float[]>("Score").ToArray();
        for (int i = 0; i < keys.Length; i++)
        {
            Assert.That(keys[i], Is.EqualTo(probabilities[i][1] > probabilities[i][0] ? 2u : 1u), "PredictedLabel is the 1-based arg max of Score");
            Assert.That(texts[i], Is.EqualTo(keys[i] == 1 ? "horizontal" : "vertical"), "MapKeyToValue gives the class name");
        }

        // One zip, loaded again: identical scores; a prediction engine agrees with the batched transform.
        string zip = Path.Combine(folder, "model.zip");
        ml.Model.Save(model, keyed.Schema, zip);
        var reloaded = ml.Model.Load(zip, out _);
        var before = scored.GetColumn<float[]>("Score").ToArray();
        var after = reloaded.Transform(keyed).GetColumn<float[]>("Score").ToArray();
        Assert.That(after, Is.EqualTo(before));
        var engine = ml.Model.CreatePredictionEngine<LabeledImageRow, ClassifiedRow>(reloaded);
        for (int i = 0; i < 5; i++)
        {
            var single = engine.Predict(rows[i]);
            Assert.That(single.Score, Is.EqualTo(before[i]).Within(1e-5f));
            Assert.That(single.PredictedLabelText, Is.EqualTo(texts[i]));
        }
    }

    [Test]
    public void RealImagesFineTuneEvaluateSaveReloadInAFreshProcessAndBatchScore()
    {
        // The issue's end-to-end path on real data shipped in the repository (clipart4, public domain).
        var ml = new MLContext(seed: 1);
        var split = File.ReadLines(Path.Combine(TrainingFixtures.Clipart4, "split.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        LabeledImageRow[] Part(string name) => split.Where(f => f[2] == name)
            .Select(f => new LabeledImageRow { ImagePath = Path.Combine(TrainingFixtures.Clipart4, f[0]), Label = f[1] }).ToArray();
        var train = ml.Data.LoadFromEnumerable(Part("train"));
        var testRows = Part("test");
        var test = ml.Data.LoadFromEnumerable(testRows);
        var labelKeys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        var trained = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
        {
            Backbone = BackboneSource.Resolve(SmallZoo), Resolution = 32, Seed = 1,
            Training = new() { Epochs = 1, BatchSize = 16, Scope = TrainScope.LastStages, TrainLastStages = 2 }, Scoring = new() { BatchSize = 16 },
        }).Fit(labelKeys.Transform(train));
        var metrics = ml.MulticlassClassification.Evaluate(trained.Transform(labelKeys.Transform(test)));
        Assert.That(metrics.ConfusionMatrix.NumberOfClasses, Is.EqualTo(4));
        Assert.That(metrics.ConfusionMatrix.Counts.Sum(r => r.Sum()), Is.EqualTo(60), "every test image scored once");

        // The saved model needs no Label column: the trained transformer, then the key mapped back to the class name.
        var model = new TransformerChain<ITransformer>(trained, ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(trained.Transform(labelKeys.Transform(train))));
        string zip = Path.Combine(folder, "clipart.zip");
        ml.Model.Save(model, train.Schema, zip);
        var expected = ml.Data.CreateEnumerable<MLNetPersistenceTests.ScoredImageRowPublic>(model.Transform(test), reuseRowObject: false).ToArray();
        string list = Path.Combine(folder, "images.txt"), output = Path.Combine(folder, "fresh.txt");
        File.WriteAllLines(list, testRows.Select(r => r.ImagePath));
        var (code, log) = MLNetPersistenceTests.RunFreshProcessPublic("mlnet-load", zip, list, output, "register");
        Assert.That(code, Is.EqualTo(0), log);
        var fresh = File.ReadAllLines(output);
        Assert.That(fresh, Has.Length.EqualTo(60));
        for (int i = 0; i < fresh.Length; i++)
        {
            var parts = fresh[i].Split('\t');
            Assert.That(parts[0], Is.EqualTo(expected[i].PredictedLabel), $"row {i} label");
            var scores = parts[1].Split(' ').Select(v => BitConverter.Int32BitsToSingle(int.Parse(v, CultureInfo.InvariantCulture))).ToArray();
            Assert.That(scores, Is.EqualTo(expected[i].Score), $"row {i}: bit-identical scores in the fresh process");
        }
    }

    [Test]
    public void SameSeedOnTheCpuGivesTheSameModel()
    {
        TrainingFixtures.WriteStripes(folder, 6, 32);
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Rows(folder))).Transform(ml.Data.LoadFromEnumerable(Rows(folder)));
        float[][] Train(int seed) => ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
        {
            Backbone = BackboneSource.Resolve(SmallZoo), Resolution = 32, Seed = seed, Training = new() { Epochs = 2, BatchSize = 4 },
        }).Fit(data).Transform(data).GetColumn<float[]>("Score").ToArray();
        var a = Train(3);
        Assert.That(Train(3), Is.EqualTo(a));
        Assert.That(Train(4), Is.Not.EqualTo(a));
    }

    [Test]
    public void TheMLContextsSeedAndLogReachTheTrainerWhichIsAnMLNetTrainerEstimator()
    {
        TrainingFixtures.WriteStripes(folder, 6, 32);
        (float[][] Scores, List<string> Log) Train(MLContext ml, int? seed)
        {
            var log = new List<string>();
            ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
            var rows = ml.Data.LoadFromEnumerable(Rows(folder));
            var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(rows).Transform(rows);
            ITrainerEstimator<OnnxImageTransformer, OnnxImageModel> trainer = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
            {
                Backbone = BackboneSource.Resolve(SmallZoo), Resolution = 32, Seed = seed, Training = new() { Epochs = 2, BatchSize = 4 },
            });
            Assert.That(trainer.Info.NeedNormalization || trainer.Info.WantCaching, Is.False, "images: no normalizer or cache in front of the trainer");
            ISingleFeaturePredictionTransformer<OnnxImageModel> model = trainer.Fit(data);
            Assert.That(model.FeatureColumnName, Is.EqualTo("ImagePath"));
            Assert.That(model.Model.Labels, Is.EquivalentTo(new[] { "horizontal", "vertical" }));
            return (model.Transform(data).GetColumn<float[]>("Score").ToArray(), log);
        }
        var (fromContext, log) = Train(new MLContext(seed: 3), null);
        Assert.That(Train(new MLContext(), 3).Scores, Is.EqualTo(fromContext), "Seed unset: the MLContext's seed (3) is used");
        Assert.That(Train(new MLContext(seed: 4), null).Scores, Is.Not.EqualTo(fromContext), "another MLContext seed, another model");
        Assert.That(log, Has.Some.Contains("ImageClassifierTrainer").And.Some.Contains("epoch 1: train loss").And.Some.Contains("epoch 2: train loss"),
            "training progress goes to MLContext.Log");
    }

    [Test]
    public void WrongColumnsAndUntrainableDataAreNamed()
    {
        var ml = new MLContext();
        TrainingFixtures.WriteStripes(folder, 2, 16);
        var rows = Rows(folder);
        var data = ml.Data.LoadFromEnumerable(rows);
        var trainer = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(backbone: SmallZoo, epochs: 1, resolution: 32);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(data));
        Assert.That(e!.Message, Does.Contain("'Label'").And.Contain("MapValueToKey"));
        // An estimator chain propagates schemas (GetOutputSchema on a SchemaShape) before fitting anything.
        e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.CopyColumns("Copy", "ImagePath").Append(trainer).Fit(data));
        Assert.That(e!.Message, Does.Contain("'Label'"));

        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var wrongImage = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(imageColumnName: "Label", backbone: SmallZoo, epochs: 1, resolution: 32);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => wrongImage.Fit(keyed));
        Assert.That(e!.Message, Does.Contain("Image column 'Label'").And.Contain("expected text"));
        var missing = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(imageColumnName: "Picture", backbone: SmallZoo, epochs: 1, resolution: 32);
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => missing.Fit(keyed))!.Message, Does.Contain("'Picture' not found"));

        var oneClass = ml.Data.LoadFromEnumerable(rows.Where(r => r.Label == "vertical"));
        var keyedOne = ml.Transforms.Conversion.MapValueToKey("Label").Fit(oneClass).Transform(oneClass);
        Assert.That(Assert.Throws<InvalidDataException>(() => trainer.Fit(keyedOne))!.Message, Does.Contain("only one class"));
        var empty = ml.Data.SkipRows(keyed, 1000);
        Assert.That(Assert.Throws<InvalidDataException>(() => trainer.Fit(empty))!.Message, Does.Contain("no images"));

        Assert.That(Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.FineTuneImageClassifier(
            new ImageClassifierTrainerOptions { Training = new() { Epochs = 0 } }))!.ParamName, Is.EqualTo("Epochs"));
    }

    [Test]
    public void BadImagesStopWithFileAndRowOrAreSkippedAndCounted()
    {
        TrainingFixtures.WriteStripes(folder, 3, 24);
        string broken = Path.Combine(folder, "broken.png");
        File.WriteAllText(broken, "not an image");
        var ml = new MLContext();
        var rows = Rows(folder).ToList();
        rows.Insert(2, new LabeledImageRow { ImagePath = broken, Label = "vertical" });
        var data = ml.Data.LoadFromEnumerable(rows);
        var strict = ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions { Backbone = BackboneSource.Resolve(SmallZoo), Resolution = 32, Scoring = new() { OutputColumnName = "Features", BatchSize = 4 } }).Fit(data);
        var e = Assert.Throws<InvalidDataException>(() => strict.Transform(data).GetColumn<float[]>("Features").ToArray());
        Assert.That(e!.Message, Does.Contain("broken.png").And.Contain("row 2"));

        var lenient = ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions
        {
            Backbone = BackboneSource.Resolve(SmallZoo), Resolution = 32, Scoring = new() { OutputColumnName = "Features", BatchSize = 4, OnBadImage = BadImagePolicy.Skip },
        }).Fit(data);
        var kept = lenient.Transform(data).GetColumn<string>("ImagePath").ToArray();
        Assert.That(kept, Has.Length.EqualTo(6));
        Assert.That(kept, Does.Not.Contain(broken));
        Assert.That(lenient.BadImages.Count, Is.EqualTo(1));
        Assert.That(lenient.BadImages.Images[0].Row, Is.EqualTo(2));
    }

    [Test]
    public void ManyThreadsScoringOneModelAgreeWithOneThread()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(TrainingFixtures.Clipart4).Where((_, i) => i % 11 == 0).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions { Backbone = BackboneSource.Resolve(SmallZoo), Resolution = 48, Scoring = new() { OutputColumnName = "Features", BatchSize = 3 } }).Fit(data);
        var expected = model.Transform(data).GetColumn<float[]>("Features").ToArray();
        var results = new ConcurrentBag<(int Thread, float[][] Features)>();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            var engine = ml.Model.CreatePredictionEngine<LabeledImageRow, FeaturesRow>(model);
            var single = rows.Select(r => engine.Predict(r).Features).ToArray();
            var batched = model.Transform(data).GetColumn<float[]>("Features").ToArray();
            results.Add((t, single));
            results.Add((t, batched));
        });
        foreach (var (thread, features) in results)
            for (int i = 0; i < rows.Length; i++)
                Assert.That(features[i], Is.EqualTo(expected[i]).Within(1e-5f), $"thread {thread.ToString(CultureInfo.InvariantCulture)}, row {i}");
    }

    /// <summary>Prediction output with the class name mapped back from the key.</summary>
    public sealed class ClassifiedRow
    {
        /// <summary>Class probabilities.</summary>
        public float[] Score { get; set; } = [];

        /// <summary>The predicted class name.</summary>
        public string PredictedLabelText { get; set; } = "";
    }
}
