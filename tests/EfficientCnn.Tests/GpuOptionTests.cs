using EfficientCnn.Backbones.Registry;
using EfficientCnn.MLNet;
using Microsoft.ML;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>
/// GpuDeviceId / FallbackToCpu as ApplyOnnxModel has them, on a machine whose ONNX Runtime has no CUDA provider (CI's):
/// fallback gives the CPU's answers, no fallback gives a short error naming the GPU. The CUDA path itself ran on a lent
/// H200 with bench/EfficientCnn.GpuCheck (docs/gpu.md).
/// </summary>
public sealed class GpuOptionTests
{
    private const string Bundled = "ecnn_mobilenet_v2_0.5_kd";

    private static (MLContext Ml, IDataView Data) FewImages()
    {
        var ml = new MLContext(seed: 1);
        var rows = Directory.EnumerateFiles(TrainingFixtures.Clipart4, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Take(6).Select(f => new LabeledImageRow { ImagePath = f, Label = "x" }).ToArray();
        return (ml, ml.Data.LoadFromEnumerable(rows));
    }

    private static OnnxImageEstimator Featurizer(MLContext ml, int? gpu, bool fallback) =>
        ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions
        {
            Backbone = BackboneSource.Resolve(Bundled),
            Scoring = new ImageScoringOptions { OutputColumnName = "Features", PredictedLabelColumnName = null, GpuDeviceId = gpu, FallbackToCpu = fallback },
        });

    [Test]
    public void FallbackToCpuGivesTheCpusFeaturesWhenNoGpuCanBeUsed()
    {
        var (ml, data) = FewImages();
        var cpu = ml.Data.CreateEnumerable<FeaturesRow>(Featurizer(ml, null, true).Fit(data).Transform(data), false).ToArray();
        var fallback = Featurizer(ml, 0, true).Fit(data);
        var features = ml.Data.CreateEnumerable<FeaturesRow>(fallback.Transform(data), false).ToArray();
        Assert.That(fallback.RunsOnGpu, Is.False);
        Assert.That(features.Zip(cpu).All(p => p.First.Features.SequenceEqual(p.Second.Features)), Is.True);
    }

    [Test]
    public void TheMLContextsGpuSettingsApplyWhenTheOptionsLeaveThemUnset()
    {
        var (_, data) = FewImages();
        var cpu = new MLContext(seed: 1);
        var expected = cpu.Data.CreateEnumerable<FeaturesRow>(cpu.Transforms.FeaturizeImages(backbone: Bundled).Fit(data).Transform(data), false).ToArray();
        // ML.NET's defaults: FallbackToCpu false, so a GPU that cannot be used is an error.
        var gpu = new MLContext(seed: 1) { GpuDeviceId = 3 };
        var strict = gpu.Transforms.FeaturizeImages(backbone: Bundled).Fit(data);
        Assert.That(strict.Options.GpuDeviceId, Is.EqualTo(3));
        Assert.That(Assert.Throws<InvalidOperationException>(() => gpu.Data.CreateEnumerable<FeaturesRow>(strict.Transform(data), false).ToArray())!.Message,
            Does.StartWith("GPU 3 cannot be used"));
        gpu.FallbackToCpu = true;
        var lenient = gpu.Transforms.FeaturizeImages(backbone: Bundled).Fit(data);
        var features = gpu.Data.CreateEnumerable<FeaturesRow>(lenient.Transform(data), false).ToArray();
        Assert.That(lenient.RunsOnGpu, Is.False);
        Assert.That(features.Zip(expected).All(p => p.First.Features.SequenceEqual(p.Second.Features)), Is.True);
    }

    [Test]
    public void WithoutFallbackAnUnusableGpuIsAShortErrorNamingTheGpu()
    {
        var (ml, data) = FewImages();
        var transformer = Featurizer(ml, 3, false).Fit(data);
        var e = Assert.Throws<InvalidOperationException>(() => ml.Data.CreateEnumerable<FeaturesRow>(transformer.Transform(data), false).ToArray());
        Assert.That(e!.Message, Does.StartWith("GPU 3 cannot be used by ONNX Runtime").And.Contain("FallbackToCpu"));
        Assert.That(e.Message.Length, Is.LessThan(600), "no pages of native template signatures");
    }
}
