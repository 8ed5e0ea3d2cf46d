using System.Diagnostics;
using EfficientCnn.Backbones.Onnx;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientCnn.MLNet;

/// <summary>One compared output: the largest absolute difference between ONNX Runtime and TorchSharp.</summary>
/// <param name="Name">"features" or "logits".</param>
/// <param name="OnnxName">The tensor compared in the ONNX graph.</param>
/// <param name="Shape">Shape of the compared output.</param>
/// <param name="MaxAbsDiff">max |ORT − TorchSharp|.</param>
/// <param name="MaxAbs">max |ORT|, the scale of the tolerance.</param>
/// <param name="Tolerance">1e-4 · max(1, MaxAbs).</param>
public sealed record OnnxOutputDiff(string Name, string OnnxName, long[] Shape, double MaxAbsDiff, double MaxAbs, double Tolerance)
{
    /// <summary>True when <see cref="MaxAbsDiff"/> is within <see cref="Tolerance"/>.</summary>
    public bool Passed => MaxAbsDiff <= Tolerance;
}

/// <summary>Result of <see cref="OnnxParity.Check"/>.</summary>
/// <param name="Path">The checked file.</param>
/// <param name="Batch">Images in the random batch.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="Outputs">Compared outputs.</param>
/// <param name="Operators">Operator histogram of the imported part of the graph.</param>
/// <param name="ImportSeconds">Time to import the file into TorchSharp.</param>
/// <param name="OrtSeconds">Time of the ONNX Runtime run(s), session creation included.</param>
/// <param name="TorchSeconds">Time of the TorchSharp forward.</param>
public sealed record OnnxParityReport(string Path, int Batch, long Height, long Width, IReadOnlyList<OnnxOutputDiff> Outputs,
    IReadOnlyDictionary<string, int> Operators, double ImportSeconds, double OrtSeconds, double TorchSeconds)
{
    /// <summary>The worst difference over all outputs.</summary>
    public double MaxAbsDiff => Outputs.Count == 0 ? 0 : Outputs.Max(o => o.MaxAbsDiff);

    /// <summary>True when every output is within tolerance.</summary>
    public bool Passed => Outputs.Count > 0 && Outputs.All(o => o.Passed);
}

/// <summary>
/// Runs ONNX models with ONNX Runtime and compares them with their TorchSharp import (the CLI's <c>check-onnx</c>,
/// and the tests). Lives here because EfficientCnn.Backbones depends only on TorchSharp and protobuf.
/// </summary>
public static class OnnxParity
{
    /// <summary>The parity tolerance: 1e-4 · max(1, max|y|).</summary>
    public static double Tolerance(double maxAbs) => 1e-4 * Math.Max(1.0, maxAbs);

    /// <summary>
    /// Runs <paramref name="model"/> on <paramref name="input"/> ([N,3,H,W] float32) and returns the requested outputs
    /// (default: all graph outputs) as CPU tensors. A model whose batch dim is fixed to 1 is run image by image.
    /// </summary>
    public static Dictionary<string, Tensor> Run(byte[] model, Tensor input, IReadOnlyList<string>? outputs = null, int? threads = null)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads ?? Environment.ProcessorCount };
        using var session = new InferenceSession(model, options);
        return Run(session, input, outputs);
    }

    /// <summary>Runs an open session (see <see cref="Run(byte[], Tensor, IReadOnlyList{string}?, int?)"/>).</summary>
    public static Dictionary<string, Tensor> Run(InferenceSession session, Tensor input, IReadOnlyList<string>? outputs = null)
    {
        var inputName = session.InputMetadata.Keys.Single();
        var dims = session.InputMetadata[inputName].Dimensions;
        bool batchOfOne = dims.Length > 0 && dims[0] == 1;
        var names = outputs ?? session.OutputMetadata.Keys.ToList();
        var x = input.detach().cpu().to_type(ScalarType.Float32).contiguous();
        var chunks = batchOfOne ? Enumerable.Range(0, (int)x.shape[0]).Select(i => x.narrow(0, i, 1)).ToList() : [x];
        var parts = names.ToDictionary(n => n, _ => new List<Tensor>());
        foreach (var chunk in chunks)
        {
            float[] data = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(chunk.contiguous().bytes).ToArray();
            using var value = OrtValue.CreateTensorValueFromMemory(data, chunk.shape);
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, [inputName], [value], names.ToArray());
            for (int i = 0; i < names.Count; i++)
            {
                var shape = results[i].GetTensorTypeAndShape().Shape;
                parts[names[i]].Add(tensor(results[i].GetTensorDataAsSpan<float>().ToArray(), shape));
            }
        }
        return parts.ToDictionary(p => p.Key, p => p.Value.Count == 1 ? p.Value[0] : cat(p.Value, 0));
    }

    /// <summary>A copy of <paramref name="model"/> that also outputs the intermediate tensors <paramref name="names"/>.</summary>
    public static byte[] WithOutputs(ModelProto model, params string[] names)
    {
        var copy = model.Clone();
        foreach (var name in names.Where(n => copy.Graph.Output.All(o => o.Name != n)).Distinct())
            copy.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxTensors.Float } },
            });
        return copy.ToByteArray();
    }

    /// <summary>Max |a − b| and max |a| (a is the reference), after flattening both to [N, -1].</summary>
    public static (double MaxAbsDiff, double MaxAbs) Compare(Tensor reference, Tensor actual)
    {
        using var scope = NewDisposeScope();
        var a = reference.detach().cpu().to_type(ScalarType.Float64).reshape(reference.shape[0], -1);
        var b = actual.detach().cpu().to_type(ScalarType.Float64).reshape(actual.shape[0], -1);
        if (!a.shape.SequenceEqual(b.shape))
            throw new InvalidOperationException($"Shapes differ: ONNX Runtime [{string.Join(",", a.shape)}] vs TorchSharp [{string.Join(",", b.shape)}].");
        return ((a - b).abs().max().item<double>(), a.abs().max().item<double>());
    }

    /// <summary>
    /// Imports <paramref name="path"/> into TorchSharp, runs ONNX Runtime and TorchSharp on the same random batch
    /// (uniform in [-1, 1), fixed seed) and compares the features (the cut tensor) and, when a head was found, the logits.
    /// </summary>
    /// <param name="path">ONNX file.</param>
    /// <param name="resolution">Input size when the model's H/W are symbolic (default: metadata's, else 224).</param>
    /// <param name="batch">Images in the batch.</param>
    /// <param name="seed">Seed of the random batch.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a usable ONNX image model.</exception>
    public static OnnxParityReport Check(string path, int? resolution = null, int batch = 2, int seed = 0)
    {
        var model = OnnxModelReader.Read(path);
        var sw = Stopwatch.StartNew();
        using var imported = OnnxImportedModule.FromModel(model, null, Path.GetFullPath(path));
        double importSeconds = sw.Elapsed.TotalSeconds;
        imported.eval();
        long h = imported.InputHeight ?? resolution ?? imported.Preprocessing?.Resolution ?? 224;
        long w = imported.InputWidth ?? resolution ?? imported.Preprocessing?.Resolution ?? 224;

        using var scope = NewDisposeScope();
        var x = rand(new long[] { batch, 3, h, w }, generator: new Generator((ulong)seed)) * 2 - 1;
        var compared = new List<(string Name, string OnnxName)> { ("features", imported.FeatureTensorName) };
        if (imported.HeadOutputName is { } logitsName) compared.Add(("logits", logitsName));

        sw.Restart();
        var ort = Run(WithOutputs(model, compared.Select(c => c.OnnxName).ToArray()), x, compared.Select(c => c.OnnxName).ToList());
        double ortSeconds = sw.Elapsed.TotalSeconds;

        sw.Restart();
        Tensor features, logits;
        using (inference_mode())
        {
            features = imported.ForwardFeatures(x);
            logits = imported.Head is { } head ? head.call(features) : features;
        }
        double torchSeconds = sw.Elapsed.TotalSeconds;

        var diffs = compared.Select(c =>
        {
            var mine = c.Name == "features" ? features : logits;
            var (diff, maxAbs) = Compare(ort[c.OnnxName], mine);
            return new OnnxOutputDiff(c.Name, c.OnnxName, mine.shape, diff, maxAbs, Tolerance(maxAbs));
        }).ToList();
        return new OnnxParityReport(Path.GetFullPath(path), batch, h, w, diffs, imported.Operators, importSeconds, ortSeconds, torchSeconds);
    }
}
