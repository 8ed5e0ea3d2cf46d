using EfficientCnn.Backbones.Registry;
using System.Diagnostics;
using EfficientCnn.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

// Checks, on a machine with an NVIDIA GPU and ONNX Runtime's CUDA provider next to this program, that the featurizer
// and batch scorer (1) run on the GPU when GpuDeviceId is set, (2) give the CPU's features, (3) fall back to the CPU
// or fail clearly as ApplyOnnxModel does, and (4) how fast they are per batch size. Exit code 0 when every check holds.
// Usage: EfficientCnn.GpuCheck IMAGE_DIR [BACKBONE] [REPEAT]
string imageDir = args.Length > 0 ? args[0] : "samples/data/clipart4";
string? backbone = args.Length > 1 && args[1].Length > 0 ? args[1] : null;
int repeat = args.Length > 2 ? int.Parse(args[2]) : 8;
int failures = 0;
void Check(bool ok, string what) { Console.WriteLine($"{(ok ? "PASS" : "FAIL")}  {what}"); if (!ok) failures++; }

Console.WriteLine($"ONNX Runtime providers: {string.Join(", ", OrtEnv.Instance().GetAvailableProviders())}");
var files = Directory.EnumerateFiles(imageDir, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
var rows = Enumerable.Repeat(files, repeat).SelectMany(f => f).Select(f => new ImageRow { ImagePath = Path.GetFullPath(f) }).ToArray();
Console.WriteLine($"{files.Length} images from {imageDir}, scored {repeat}x ({rows.Length} rows); backbone {backbone ?? "default bundled"}");
var ml = new MLContext(seed: 1);
var data = ml.Data.LoadFromEnumerable(rows);

(float[][] Features, bool OnGpu, double Seconds) Featurize(int? gpu, bool fallback, int batch)
{
    var estimator = ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions
    {
        Backbone = BackboneSource.Resolve(backbone),
        Scoring = new ImageScoringOptions { OutputColumnName = "Features", PredictedLabelColumnName = null, BatchSize = batch, GpuDeviceId = gpu, FallbackToCpu = fallback },
    });
    var transformer = estimator.Fit(data);
    var watch = Stopwatch.StartNew();
    var features = ml.Data.CreateEnumerable<FeatureRow>(transformer.Transform(data), reuseRowObject: false).Select(r => r.Features).ToArray();
    return (features, transformer.RunsOnGpu, watch.Elapsed.TotalSeconds);
}

var cpu = Featurize(null, true, 32);
Console.WriteLine($"CPU  batch 32: {rows.Length / cpu.Seconds,8:F1} img/s");
try
{
    var gpu = Featurize(0, false, 32);
    Check(gpu.OnGpu, "GpuDeviceId = 0, FallbackToCpu = false: the session runs on the CUDA provider");
    double maxDiff = cpu.Features.Zip(gpu.Features).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
    double maxAbs = cpu.Features.Max(f => f.Max(Math.Abs));
    // ONNX Runtime's CUDA provider runs convolutions in TF32 on Ampere and later (its use_tf32 default, like PyTorch's
    // cuDNN default): about 1e-3 relative error, so the GPU's features match the CPU's to 1 %, not bit for bit.
    Check(maxDiff <= 1e-2 * Math.Max(1, maxAbs), $"GPU features equal the CPU's within TF32 rounding (max |diff| {maxDiff:G3}, max |feature| {maxAbs:G3})");
    foreach (int batch in new[] { 1, 8, 32, 128 })
    {
        var run = Featurize(0, false, batch);
        Console.WriteLine($"GPU  batch {batch,3}: {rows.Length / run.Seconds,8:F1} img/s (decode on {Environment.ProcessorCount} cores)");
    }
}
catch (Exception e) { Check(false, $"GPU 0 usable: {e.GetType().Name}: {e.Message}"); }

var fallback = Featurize(7, true, 32);
Check(!fallback.OnGpu && fallback.Features.Zip(cpu.Features).All(p => p.First.SequenceEqual(p.Second)),
    "GpuDeviceId = 7 (no such GPU), FallbackToCpu = true: runs on the CPU with the CPU's features");
try
{
    Featurize(7, false, 32);
    Check(false, "GpuDeviceId = 7, FallbackToCpu = false: should have failed");
}
catch (InvalidOperationException e) { Check(e.Message.Contains("GPU 7"), $"GpuDeviceId = 7, FallbackToCpu = false: clear error: {e.Message}"); }

Console.WriteLine(failures == 0 ? "all GPU checks passed" : $"{failures} GPU check(s) failed");
return failures == 0 ? 0 : 1;

internal sealed class ImageRow
{
    public string ImagePath { get; set; } = "";
}

internal sealed class FeatureRow
{
    [VectorType]
    public float[] Features { get; set; } = [];
}
