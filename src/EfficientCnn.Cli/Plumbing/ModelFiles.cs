using EfficientCnn.Backbones.Training;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.MLNet;
using EfficientCnn.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientCnn.Cli.Plumbing;

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
    public static LoadedModel Load(MLContext ml, string path) => ModelZip.Load(ml, path, $"--model '{path}'");

    /// <summary>The transformers of a chain (a single transformer is a chain of one).</summary>
    public static IEnumerable<ITransformer> Parts(ITransformer model) => ModelZip.Parts(model);

    /// <summary>
    /// For the commands that take <c>--checkpoint</c> and <c>--resume</c> (pretrain, distill), like <c>efficientcnn search</c>: a checkpoint is continued only when asked (<c>--resume</c>), and <c>--resume</c>
    /// needs a checkpoint, so neither a finished run is silently extended nor a typo in the folder starts afresh.
    /// </summary>
    public static void CheckResume(string? checkpointFolder, bool resume)
    {
        if (checkpointFolder is null) return;
        ModelFiles.CheckWritableFolder(checkpointFolder, "checkpoint");
        var checkpoint = new TrainingCheckpoint(checkpointFolder);
        string folder = Path.GetFullPath(checkpointFolder);
        if (checkpoint.Exists && !resume)
            throw new ArgumentException($"--checkpoint {folder} already holds a training checkpoint ({Path.GetFileName(checkpoint.FilePath)}): pass --resume to continue that run, or choose another --checkpoint folder.", "checkpoint");
        if (!checkpoint.Exists && resume)
            throw new ArgumentException($"--resume: {folder} holds no training checkpoint ({Path.GetFileName(checkpoint.FilePath)}) to continue; point --checkpoint at the run's folder, or drop --resume to start afresh.", "resume");
    }
}
