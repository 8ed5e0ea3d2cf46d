using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Profiling;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.MLNet.Search;

namespace EfficientCnn.Bench;

/// <summary>Size and speed of a backbone's features at one resolution, as the transfer study's results record them.</summary>
/// <param name="Macs">Multiply-accumulates per image (ModelProfiler); null for an ONNX file of unknown architecture.</param>
/// <param name="Params">Parameters without head (ModelProfiler); null when <paramref name="Macs"/> is.</param>
/// <param name="LatencyMs">Median ms per image: ONNX Runtime, batch 1, 1 intra-op thread, 30 timed runs after 5 warm-up runs.</param>
internal sealed record BackboneCost(long? Macs, long? Params, double LatencyMs)
{
    /// <summary>Measures the featurizer ONNX of <paramref name="source"/> (output <paramref name="outputTensor"/>) at <paramref name="resolution"/>.</summary>
    public static BackboneCost Measure(BackboneSource source, string? outputTensor, int resolution)
    {
        var (onnx, _) = source.FeaturizerOnnx(outputTensor);
        var latency = OnnxLatency.Measure(onnx, resolution, batchSize: 1, warmup: 5, runs: 30, threads: 1);
        var profile = Profile(source, resolution);
        return new BackboneCost(profile?.Macs, profile?.Params, latency.MedianMsPerImage);
    }

    /// <summary>
    /// Counts need TorchSharp modules: the importer runs ONNX graphs with functional operators, which the profiler's hooks
    /// do not see. So an ONNX file is profiled through the zoo variant of the same architecture: the one named in our
    /// export metadata, or ResNet-18 for ML.NET's ResNet18; MACs and params do not depend on the weights.
    /// </summary>
    private static ModelProfile? Profile(BackboneSource source, int resolution)
    {
        if (source.IsRandomlyInitialised)
        {
            using Backbone built = source.CreateFeatureExtractor(); // a zoo variant or a spec: the module itself
            return ModelProfiler.Profile(built, resolution);
        }
        string path = source.Path!;
        string? variant = MlNetResNet18.Is(path) ? MlNetResNet18.ZooTwin : OnnxModelInfo.Read(path).Metadata.GetValueOrDefault(OnnxMetadataKeys.Variant);
        if (variant is null || !BackboneRegistry.Contains(variant)) return null;
        using Backbone model = BackboneRegistry.Create(variant, new BackboneOptions { NumClasses = 0 });
        return ModelProfiler.Profile(model, resolution);
    }
}
