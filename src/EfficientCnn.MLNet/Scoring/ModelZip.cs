using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientCnn.MLNet.Scoring;

/// <summary>A model zip written by <c>efficientcnn train</c>, loaded, with its image scorer found inside.</summary>
/// <param name="Path">The zip (or a name for it when it was loaded from bytes).</param>
/// <param name="Transformer">The whole loaded pipeline.</param>
/// <param name="Scorer">The ONNX image classifier inside it.</param>
public sealed record LoadedModel(string Path, ITransformer Transformer, OnnxImageTransformer Scorer)
{
    /// <summary>Class names in the model's label order.</summary>
    public IReadOnlyList<string> Classes => Scorer.Model.Labels!;

    /// <summary>
    /// The same pipeline scoring with other settings (batch size, ONNX Runtime threads, and skipping unreadable images
    /// rather than failing, so one bad file does not lose a whole run); returns the new scorer too, whose BadImages
    /// lists the skipped ones. <paramref name="imageFolder"/> resolves relative image paths when the model names no folder of its own (the output keeps
    /// them relative, as given).
    /// </summary>
    public (ITransformer Pipeline, OnnxImageTransformer Scorer) WithScoring(int? batchSize, int? intraOpThreads = null, string? imageFolder = null)
    {
        var scorer = new OnnxImageTransformer(Scorer.Model, Scorer.Options with
        {
            OnBadImage = BadImagePolicy.Skip, BatchSize = batchSize ?? Scorer.Options.BatchSize,
            IntraOpThreads = intraOpThreads ?? Scorer.Options.IntraOpThreads, ImageFolder = Scorer.Options.ImageFolder ?? imageFolder,
        });
        var parts = ModelZip.Parts(Transformer).Select(t => ReferenceEquals(t, Scorer) ? scorer : t).ToArray();
        return (new TransformerChain<ITransformer>(parts), scorer);
    }
}

/// <summary>Loads the ML.NET model zips written by <c>efficientcnn train</c> (input: one text column <c>ImagePath</c>).</summary>
public static class ModelZip
{
    /// <summary>Loads a zip file; errors name it as <paramref name="displayName"/> (default: <c>Model 'path'</c>).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a zip, not an ML.NET model, or an ML.NET model without our classifier.</exception>
    public static LoadedModel Load(MLContext ml, string path, string? displayName = null)
    {
        displayName ??= $"Model '{path}'";
        if (!File.Exists(path)) throw new FileNotFoundException($"{displayName} does not exist.", path);
        using var stream = File.OpenRead(path);
        return Load(ml, stream, path, displayName);
    }

    /// <summary>Loads a zip from a stream (a worker that received the model's bytes); <paramref name="path"/> only names it.</summary>
    /// <exception cref="InvalidDataException">Not a zip, not an ML.NET model, or an ML.NET model without our classifier.</exception>
    public static LoadedModel Load(MLContext ml, Stream zip, string path, string displayName)
    {
        ModelLoaderAssembly.EnsureRegistered();
        ITransformer model;
        try
        {
            model = ml.Model.Load(zip, out _);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // ML.NET throws many kinds here (zip, format, loader-not-found); to the user they all mean the same.
            throw new InvalidDataException($"{displayName} is not a model zip written by `efficientcnn train`: {e.Message}", e);
        }
        var scorer = Parts(model).OfType<OnnxImageTransformer>().FirstOrDefault(t => t.Model.Labels is { Count: > 0 })
                     ?? throw new InvalidDataException($"{displayName} is an ML.NET model but not an efficientcnn image classifier (it holds no EfficientCnn ONNX classifier).");
        CheckOnnx(displayName, scorer);
        var schema = model.GetOutputSchema(InputSchema(ml));
        if (schema.GetColumnOrNull("PredictedLabel") is not { Type: TextDataViewType } || schema.GetColumnOrNull("Score") is null)
            throw new InvalidDataException($"{displayName} does not output a text 'PredictedLabel' and a 'Score' from an 'ImagePath' column; train it with `efficientcnn train`.");
        return new LoadedModel(path, model, scorer);
    }

    /// <summary>
    /// Opens the network inside the zip in ONNX Runtime now: the scorer does so lazily at the first image, where a
    /// damaged entry surfaced as a bare OnnxRuntimeException (exit 255) without the file's name.
    /// </summary>
    private static void CheckOnnx(string displayName, OnnxImageTransformer scorer)
    {
        try
        {
            using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(scorer.Model.Onnx);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{displayName}: the ONNX network inside it (entry Model.onnx) cannot be loaded: {e.Message}", e);
        }
    }

    /// <summary>The transformers of a chain (a single transformer is a chain of one).</summary>
    public static IEnumerable<ITransformer> Parts(ITransformer model) =>
        model is IEnumerable<ITransformer> chain ? chain : [model];

    /// <summary>Image paths as the input rows of a saved model.</summary>
    public static IDataView ToDataView(MLContext ml, IEnumerable<string> paths) =>
        ml.Data.LoadFromEnumerable(paths.Select(p => new ImagePathInput { ImagePath = p }).ToArray());

    /// <summary>The schema a saved model expects: one text column <c>ImagePath</c>.</summary>
    public static DataViewSchema InputSchema(MLContext ml) => ToDataView(ml, Array.Empty<string>()).Schema;

    private sealed class ImagePathInput
    {
        public string ImagePath { get; set; } = "";
    }
}
