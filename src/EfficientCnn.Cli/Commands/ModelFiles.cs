using EfficientCnn.Backbones.Onnx;
using EfficientCnn.MLNet;
using EfficientCnn.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientCnn.Cli.Commands;

/// <summary>A model zip written by <c>efficientcnn train</c>, loaded, with its image scorer found inside.</summary>
/// <param name="Path">The zip.</param>
/// <param name="Transformer">The whole loaded pipeline.</param>
/// <param name="Scorer">The ONNX image classifier inside it.</param>
internal sealed record LoadedModel(string Path, ITransformer Transformer, OnnxImageTransformer Scorer)
{
    /// <summary>Class names in the model's label order.</summary>
    public IReadOnlyList<string> Classes => Scorer.Model.Labels!;

    /// <summary>
    /// The same pipeline scoring with other settings (batch size, and skipping unreadable images rather than failing,
    /// so one bad file does not lose a whole run); returns the new scorer too, whose BadImages lists the skipped ones.
    /// </summary>
    public (ITransformer Pipeline, OnnxImageTransformer Scorer) WithScoring(int? batchSize)
    {
        var scorer = new OnnxImageTransformer(Scorer.Model, Scorer.Options with
        {
            OnBadImage = Backbones.Training.BadImagePolicy.Skip, BatchSize = batchSize ?? Scorer.Options.BatchSize,
        });
        var parts = ModelFiles.Parts(Transformer).Select(t => ReferenceEquals(t, Scorer) ? scorer : t).ToArray();
        return (new TransformerChain<ITransformer>(parts), scorer);
    }
}

/// <summary>Checks output paths before long work, saves model zips atomically and loads them back with clear errors.</summary>
internal static class ModelFiles
{
    /// <summary>
    /// Fails now, not after training, when <paramref name="path"/> cannot be written: a folder, a missing folder, a
    /// path under a regular file, or a folder without write permission.
    /// </summary>
    /// <returns>The full path.</returns>
    public static string CheckWritableFile(string path, string option)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new ArgumentException($"--{option} '{path}' is a folder; give a file path.", option);
        string folder = System.IO.Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
            throw new ArgumentException(File.Exists(folder) || AncestorIsFile(folder)
                ? $"--{option} '{path}' cannot be written: '{folder}' is not a folder (a file is in the way)."
                : $"--{option} '{path}' cannot be written: the folder '{folder}' does not exist.", option);
        string probe = System.IO.Path.Combine(folder, $".efficientcnn-probe-{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--{option} '{path}' cannot be written: {e.Message}", option, e);
        }
        return full;
    }

    /// <summary>Fails now when <paramref name="directory"/> cannot become a folder (a file is in its way).</summary>
    public static void CheckWritableFolder(string directory, string option)
    {
        string full = System.IO.Path.GetFullPath(directory);
        if (File.Exists(full) || AncestorIsFile(full))
            throw new ArgumentException($"--{option} '{directory}' cannot be a folder: a file is in the way.", option);
    }

    private static bool AncestorIsFile(string path)
    {
        for (var dir = System.IO.Path.GetDirectoryName(path); !string.IsNullOrEmpty(dir); dir = System.IO.Path.GetDirectoryName(dir))
        {
            if (File.Exists(dir)) return true;
            if (Directory.Exists(dir)) return false;
        }
        return false;
    }

    /// <summary>Saves the model to memory first and then moves the file into place: an existing zip is replaced whole or not at all.</summary>
    public static void Save(MLContext ml, ITransformer model, string path)
    {
        using var buffer = new MemoryStream();
        ml.Model.Save(model, ImageData.InputSchema(ml), buffer);
        OnnxExporter.WriteAtomically(path, buffer.ToArray());
    }

    /// <summary>Loads a zip written by <c>efficientcnn train</c>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a zip, not an ML.NET model, or an ML.NET model without our classifier.</exception>
    public static LoadedModel Load(MLContext ml, string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--model '{path}' does not exist.", path);
        ITransformer model;
        try
        {
            model = ml.Model.Load(path, out _);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // ML.NET throws many kinds here (zip, format, loader-not-found); to the user they all mean the same.
            throw new InvalidDataException($"--model '{path}' is not a model zip written by `efficientcnn train`: {e.Message}", e);
        }
        var scorer = Parts(model).OfType<OnnxImageTransformer>().FirstOrDefault(t => t.Model.Labels is { Count: > 0 })
                     ?? throw new InvalidDataException($"--model '{path}' is an ML.NET model but not an efficientcnn image classifier (it holds no EfficientCnn ONNX classifier).");
        var schema = model.GetOutputSchema(ImageData.InputSchema(ml));
        if (schema.GetColumnOrNull("PredictedLabel") is not { Type: TextDataViewType } || schema.GetColumnOrNull("Score") is null)
            throw new InvalidDataException($"--model '{path}' does not output a text 'PredictedLabel' and a 'Score' from an 'ImagePath' column; train it with `efficientcnn train`.");
        return new LoadedModel(path, model, scorer);
    }

    /// <summary>The transformers of a chain (a single transformer is a chain of one).</summary>
    public static IEnumerable<ITransformer> Parts(ITransformer model) =>
        model is IEnumerable<ITransformer> chain ? chain : [model];
}
