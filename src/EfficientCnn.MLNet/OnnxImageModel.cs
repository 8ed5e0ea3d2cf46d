using EfficientCnn.Backbones.Imaging;
using Microsoft.ML.OnnxRuntime;

namespace EfficientCnn.MLNet;

/// <summary>
/// A network exported to ONNX together with what scoring needs: the preprocessing it was trained with, optional class
/// labels, and which graph input and output to use. This is the state an <see cref="OnnxImageTransformer"/> saves.
/// </summary>
public sealed class OnnxImageModel
{
    /// <summary>Wraps ONNX bytes.</summary>
    /// <param name="onnx">The serialized ONNX model (input [N, 3, R, R] float).</param>
    /// <param name="preprocessing">How images become the input tensor.</param>
    /// <param name="labels">Class names in output order (a classifier), or null (a featurizer).</param>
    /// <param name="inputName">Graph input to feed; null takes the only input.</param>
    /// <param name="outputName">Graph output to read; null takes the first output.</param>
    /// <param name="applySoftmax">Turn the output into probabilities; defaults to true when labels are given.</param>
    public OnnxImageModel(byte[] onnx, PreprocessingSpec preprocessing, IReadOnlyList<string>? labels = null,
        string? inputName = null, string? outputName = null, bool? applySoftmax = null)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        if (onnx.Length == 0) throw new ArgumentException("The ONNX model is empty.", nameof(onnx));
        ArgumentNullException.ThrowIfNull(preprocessing);
        Onnx = onnx;
        Preprocessing = preprocessing.Validate();
        Labels = labels?.ToArray();
        InputName = inputName;
        OutputName = outputName;
        ApplySoftmax = applySoftmax ?? labels is not null;
    }

    /// <summary>Reads an ONNX file.</summary>
    public static OnnxImageModel FromFile(string path, PreprocessingSpec preprocessing, IReadOnlyList<string>? labels = null,
        string? inputName = null, string? outputName = null, bool? applySoftmax = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model '{path}' does not exist.", path);
        return new OnnxImageModel(File.ReadAllBytes(path), preprocessing, labels, inputName, outputName, applySoftmax);
    }

    /// <summary>The serialized ONNX model.</summary>
    public byte[] Onnx { get; }

    /// <summary>The preprocessing the network expects.</summary>
    public PreprocessingSpec Preprocessing { get; }

    /// <summary>Class names in output order, or null for a featurizer.</summary>
    public IReadOnlyList<string>? Labels { get; }

    /// <summary>Graph input name, or null for the only input.</summary>
    public string? InputName { get; }

    /// <summary>Graph output name, or null for the first output.</summary>
    public string? OutputName { get; }

    /// <summary>Whether the output is turned into probabilities with a softmax.</summary>
    public bool ApplySoftmax { get; }
}

/// <summary>Runs an <see cref="OnnxImageModel"/> in ONNX Runtime on preprocessed batches. Thread-safe.</summary>
internal sealed class OnnxImageScorer : IDisposable
{
    private readonly InferenceSession session;
    private readonly string inputName;
    private readonly string outputName;
    private readonly int? fixedBatch;
    private readonly int resolution;
    private readonly bool softmax;

    public OnnxImageScorer(OnnxImageModel model, int? gpuDeviceId = null, bool fallbackToCpu = true, int? threads = null)
    {
        session = CreateSession(model.Onnx, gpuDeviceId, fallbackToCpu, threads);
        inputName = model.InputName ?? (session.InputMetadata.Count == 1
            ? session.InputMetadata.Keys.First()
            : throw new ArgumentException($"The ONNX model has {session.InputMetadata.Count} inputs; name the image input.", nameof(model)));
        outputName = model.OutputName ?? session.OutputMetadata.Keys.First();
        if (!session.InputMetadata.TryGetValue(inputName, out var input))
            throw new ArgumentException($"The ONNX model has no input '{inputName}'.", nameof(model));
        if (!session.OutputMetadata.TryGetValue(outputName, out var output))
            throw new ArgumentException($"The ONNX model has no output '{outputName}'.", nameof(model));

        resolution = model.Preprocessing.Resolution;
        var d = input.Dimensions;
        if (d.Length != 4 || (d[1] > 0 && d[1] != 3) || (d[2] > 0 && d[2] != resolution) || (d[3] > 0 && d[3] != resolution))
            throw new ArgumentException($"ONNX input '{inputName}' has shape [{string.Join(", ", d)}]; the preprocessing produces [N, 3, {resolution}, {resolution}].", nameof(model));
        fixedBatch = d[0] > 0 ? d[0] : null;
        softmax = model.ApplySoftmax;

        var outDims = output.Dimensions.Skip(1).ToArray();
        OutputLength = outDims.Length > 0 && outDims.All(x => x > 0) ? outDims.Aggregate(1, (a, b) => a * b) : ProbeOutputLength();
    }

    /// <summary>Floats produced per image.</summary>
    public int OutputLength { get; }

    /// <summary>Whether the session runs on ONNX Runtime's CUDA provider.</summary>
    public bool OnGpu { get; private set; }

    private InferenceSession CreateSession(byte[] onnx, int? gpuDeviceId, bool fallbackToCpu, int? threads)
    {
        if (gpuDeviceId is { } gpu)
        {
            try
            {
                using var cuda = SessionOptions.MakeSessionOptionWithCudaProvider(gpu);
                cuda.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
                var gpuSession = new InferenceSession(onnx, cuda);
                OnGpu = true;
                return gpuSession;
            }
            catch (Exception e) when (fallbackToCpu && e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                // As ApplyOnnxModel's fallbackToCpu: no CUDA provider in this ONNX Runtime build or no GPU; run on the CPU.
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                throw new InvalidOperationException($"GPU {gpu} cannot be used by ONNX Runtime ({GpuFailureReason(e.Message)}). Reference Microsoft.ML.OnnxRuntime.Gpu.Linux (or .Windows) with a CUDA 13 driver and cuDNN 9 (docs/gpu.md), or set FallbackToCpu.", e);
            }
        }
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = threads ?? Environment.ProcessorCount,
        };
        return new InferenceSession(onnx, options);
    }

    /// <summary>
    /// The part of ONNX Runtime's CUDA error a user can act on ("CUDA failure 101: invalid device ordinal"), without the
    /// C++ template signatures the native message carries around it.
    /// </summary>
    internal static string GpuFailureReason(string message)
    {
        int cuda = message.IndexOf("CUDA failure", StringComparison.Ordinal);
        if (cuda >= 0)
        {
            int end = message.IndexOf(" ;", cuda, StringComparison.Ordinal);
            return end > cuda ? message[cuda..end] : message[cuda..].Trim();
        }
        string first = message.Split('\n', 2)[0].Trim();
        return first.Length <= 300 ? first : first[..300] + "…";
    }

    /// <summary>Scores <paramref name="count"/> preprocessed images from <paramref name="input"/> into <paramref name="output"/>.</summary>
    public void Score(float[] input, int count, float[] output)
    {
        int len = 3 * resolution * resolution;
        int step = fixedBatch ?? Math.Max(1, count);
        for (int start = 0; start < count; start += step)
        {
            int n = Math.Min(step, count - start);
            int run = fixedBatch ?? n;
            Memory<float> slice = input.AsMemory(start * len, n * len);
            if (run != n)
            {
                // A model exported with a fixed batch: pad the last chunk with zeros.
                var padded = new float[run * len];
                slice.CopyTo(padded);
                slice = padded;
            }
            using var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, slice, [run, 3, resolution, resolution]);
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, [inputName], [value], [outputName]);
            results[0].GetTensorDataAsSpan<float>()[..(n * OutputLength)].CopyTo(output.AsSpan(start * OutputLength));
        }
        if (softmax)
            for (int i = 0; i < count; i++) Softmax(output.AsSpan(i * OutputLength, OutputLength));
    }

    private int ProbeOutputLength()
    {
        int run = fixedBatch ?? 1;
        var zeros = new float[run * 3 * resolution * resolution];
        using var value = OrtValue.CreateTensorValueFromMemory(zeros, [run, 3, resolution, resolution]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [inputName], [value], [outputName]);
        return (int)(results[0].GetTensorTypeAndShape().ElementCount / run);
    }

    private static void Softmax(Span<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) max = Math.Max(max, v);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i] = MathF.Exp(x[i] - max);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(x[i] / sum);
    }

    public void Dispose() => session.Dispose();
}
