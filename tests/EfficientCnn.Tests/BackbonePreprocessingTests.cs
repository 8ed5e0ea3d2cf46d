using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Search;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using EfficientCnn.MLNet.Scoring;
using Microsoft.ML;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>
/// A backbone carries its own preprocessing (as torchvision's weights enums and timm's pretrained configs carry their
/// transforms): every path that trains, featurizes or exports it must take it from the resolved backbone, not assume
/// ImageNet's. The backbones here have preprocessing no default could produce.
/// </summary>
[TestFixture]
public sealed class BackbonePreprocessingTests
{
    /// <summary>Nothing ImageNet-like: a stretch resize at 48 px with its own mean and std.</summary>
    private static readonly PreprocessingSpec Distinctive = new()
    {
        Resolution = 48, ResizeMode = ResizeMode.Stretch, Mean = [0.1f, 0.2f, 0.3f], Std = [0.3f, 0.2f, 0.1f],
    };

    private string folder = "", data = "", backboneFile = "";

    [OneTimeSetUp]
    public void WriteBackboneAndImages()
    {
        folder = TrainingFixtures.TempFolder("backbone-preprocessing");
        data = TrainingFixtures.WriteStripes(Path.Combine(folder, "data"), 4, 32);
        using var network = BackboneSource.Resolve("mobilenet_v2_0.35").CreateFeatureExtractor(seed: 0);
        network.eval();
        backboneFile = Path.Combine(folder, "distinctive.onnx");
        File.WriteAllBytes(backboneFile, OnnxExporter.ExportBytes(network, new OnnxExportOptions
        {
            VariantName = "distinctive", IncludeHead = false, Preprocessing = Distinctive, WeightsProvenance = "test: distinctive preprocessing",
        }));
    }

    [OneTimeTearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    [Test]
    public void ResolvingReadsThePreprocessingAndProvenanceOnce()
    {
        var backbone = BackboneSource.Resolve(backboneFile);
        Assert.That(backbone.Preprocessing, Is.EqualTo(Distinctive));
        Assert.That(backbone.WeightsProvenance, Is.EqualTo("test: distinctive preprocessing"));
        Assert.That(backbone.WithPreprocessing(resolution: 64).Preprocessing, Is.EqualTo(Distinctive with { Resolution = 64 }), "only the resolution overridden");
    }

    [Test]
    public void TheFeaturizerUsesTheBackbonesPreprocessing()
    {
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(Images());
        var featurizer = ml.Transforms.FeaturizeImages(backbone: backboneFile).Fit(rows);
        Assert.That(featurizer.Model.Preprocessing, Is.EqualTo(Distinctive));
    }

    [Test]
    public void TheMLNetTrainerUsesTheBackbonesPreprocessing()
    {
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(Images());
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(rows).Transform(rows);
        var model = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
        {
            Backbone = BackboneSource.Resolve(backboneFile), Training = new() { Epochs = 1, BatchSize = 4, Scope = TrainScope.HeadOnly },
        }).Fit(keyed);
        Assert.That(model.Model.Preprocessing, Is.EqualTo(Distinctive));
    }

    [Test]
    public void TrainSavesAModelWithTheBackbonesPreprocessing()
    {
        string zip = Path.Combine(folder, "model.zip");
        int code = CliRunner.Run(out var text, "train", "--data", data, "--output", zip, "--backbone", backboneFile,
            "--epochs", "1", "--scope", "head", "--batch-size", "4", "--validation-fraction", "0");
        Assert.That(code, Is.EqualTo(0), text);
        var loaded = ModelZip.Load(new MLContext(), zip, "the trained model");
        Assert.That(loaded.Scorer.Model.Preprocessing, Is.EqualTo(Distinctive));
    }

    [Test]
    public void PretrainWritesABackboneWithItsPreprocessingAtTheGivenResolution()
    {
        string output = Path.Combine(folder, "pretrained.onnx");
        int code = CliRunner.Run(out var text, "pretrain", "--data", data, "--backbone", backboneFile, "--resolution", "40",
            "--epochs", "1", "--batch-size", "4", "-o", output);
        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(PreprocessingSpec.FromMetadata(OnnxModelInfo.Read(output).Metadata), Is.EqualTo(Distinctive with { Resolution = 40 }));
    }

    [Test]
    public void ExportWritesTheArchitectureSpecsOwnResolution()
    {
        // A spec's resolution is its own (224 is every zoo variant's default: 56 cannot come from a default).
        var spec = ArchitectureSpec.MobileNetV2Skeleton.Scale(1, 0.25, 56) with { HeadChannels = 48 };
        string file = Path.Combine(folder, "searched.json");
        spec.Save(file);
        string output = Path.Combine(folder, "exported.onnx");
        int code = CliRunner.Run(out var text, "export", "--backbone", file, "--classes", "0", "--output", output);
        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(PreprocessingSpec.FromMetadata(OnnxModelInfo.Read(output).Metadata), Is.EqualTo(PreprocessingSpec.ImageNet(56)));

        Assert.That(CliRunner.Run(out var refused, "export", "--backbone", backboneFile, "--output", Path.Combine(folder, "again.onnx")), Is.EqualTo(1));
        Assert.That(refused, Does.Contain("is an ONNX model already"));
    }

    private LabeledImageRow[] Images() =>
        ImageDataset.FromFolder(data).Items.Select(item => new LabeledImageRow
        {
            ImagePath = item.Image.Path!, Label = Path.GetFileName(Path.GetDirectoryName(item.Image.Path))!,
        }).ToArray();
}
