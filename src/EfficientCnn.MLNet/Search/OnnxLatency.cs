using System.Diagnostics;
using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Search;
using Microsoft.ML.OnnxRuntime;

namespace EfficientCnn.MLNet.Search;

/// <summary>How latency is measured: batch size, warm-up and timed runs, ONNX Runtime threads.</summary>
/// <param name="BatchSize">Images per run (1 = MNASNet's single-image latency).</param>
/// <param name="Warmup">Untimed runs first (allocations, caches, thread pools).</param>
/// <param name="Runs">Timed runs; the median is reported.</param>
/// <param name="Threads">ONNX Runtime intra-op threads (1: stable and comparable, like MNASNet's single big core).</param>
public sealed record LatencySettings(int BatchSize = 1, int Warmup = 3, int Runs = 20, int Threads = 1)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting at fault.</summary>
    public LatencySettings Validate()
    {
        if (BatchSize < 1) throw new ArgumentException($"batchSize must be >= 1, got {BatchSize}.", "batchSize");
        if (Warmup < 0) throw new ArgumentException($"warmup must be >= 0, got {Warmup}.", "warmup");
        if (Runs < 1) throw new ArgumentException($"runs must be >= 1, got {Runs}.", "runs");
        if (Threads < 1) throw new ArgumentException($"threads must be >= 1, got {Threads}.", "threads");
        return this;
    }
}

/// <summary>Result of an <see cref="OnnxLatency"/> measurement.</summary>
/// <param name="MedianMsPerBatch">Median wall time of one run.</param>
/// <param name="BatchSize">Images per run.</param>
/// <param name="Resolution">Input height and width.</param>
/// <param name="Threads">Intra-op threads.</param>
/// <param name="RunsMs">Every timed run, in order.</param>
public sealed record LatencyMeasurement(double MedianMsPerBatch, int BatchSize, int Resolution, int Threads, IReadOnlyList<double> RunsMs)
{
    /// <summary>Median time per image: <see cref="MedianMsPerBatch"/> / <see cref="BatchSize"/>.</summary>
    public double MedianMsPerImage => MedianMsPerBatch / BatchSize;

    /// <summary>Fastest run.</summary>
    public double MinMsPerBatch => RunsMs.Min();
}

/// <summary>
/// Latency on the machine that runs the search, measured with ONNX Runtime (MNASNet measures real latency rather than
/// using FLOPs as a proxy, Tan et al. 2019, Section 3; here the device is this CPU instead of a Pixel phone):
/// a session with full graph optimisation, a fixed random input, warm-up runs, then the median of timed runs.
/// </summary>
public static class OnnxLatency
{
    /// <summary>Median latency of an ONNX image model on [batchSize, 3, resolution, resolution] inputs.</summary>
    /// <param name="onnx">The model (input [N,3,H,W] float32; H and W fixed or symbolic).</param>
    /// <param name="resolution">Input height and width.</param>
    /// <param name="batchSize">Images per run.</param>
    /// <param name="warmup">Untimed runs.</param>
    /// <param name="runs">Timed runs.</param>
    /// <param name="threads">Intra-op threads.</param>
    /// <param name="cancellationToken">Checked between runs.</param>
    public static LatencyMeasurement Measure(byte[] onnx, int resolution, int batchSize = 1, int warmup = 3, int runs = 20, int threads = 1,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        if (resolution < 1) throw new ArgumentException($"resolution must be >= 1, got {resolution}.", nameof(resolution));
        new LatencySettings(batchSize, warmup, runs, threads).Validate();
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var session = new InferenceSession(onnx, options);
        string inputName = session.InputMetadata.Keys.Single();
        string[] outputs = session.OutputMetadata.Keys.ToArray();
        long[] shape = [batchSize, 3, resolution, resolution];
        var random = new Random(0);
        var data = new float[batchSize * 3 * resolution * resolution];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        using var input = OrtValue.CreateTensorValueFromMemory(data, shape);
        using var runOptions = new RunOptions();

        var times = new List<double>(runs);
        for (int i = 0; i < warmup + runs; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long start = Stopwatch.GetTimestamp();
            using (session.Run(runOptions, [inputName], [input], outputs)) { }
            if (i >= warmup) times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return new LatencyMeasurement(Median(times), batchSize, resolution, threads, times);
    }

    /// <summary>Exports <paramref name="model"/> (eval mode, head included) and measures it.</summary>
    public static LatencyMeasurement Measure(Backbone model, int resolution, LatencySettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var s = (settings ?? new LatencySettings()).Validate();
        return Measure(OnnxExporter.ExportBytes(model), resolution, s.BatchSize, s.Warmup, s.Runs, s.Threads, cancellationToken);
    }

    /// <summary>Builds <paramref name="spec"/> with a <paramref name="numClasses"/>-class head and measures it at its resolution.</summary>
    public static LatencyMeasurement Measure(ArchitectureSpec spec, int numClasses, LatencySettings? settings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        using var model = new SearchedNetwork(spec, numClasses);
        return Measure(model, spec.Resolution, settings, cancellationToken);
    }

    /// <summary>Median of <paramref name="values"/> (mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("No values.", nameof(values));
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
