using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

/// <summary>What a checkpoint holds besides the model and optimizer state.</summary>
/// <param name="EpochsCompleted">Epochs finished when it was written.</param>
/// <param name="History">Metrics of those epochs.</param>
/// <param name="BestEpoch">Best validation epoch so far (0: none).</param>
/// <param name="BestAccuracy">Its validation accuracy.</param>
/// <param name="BestLoss">Its validation loss.</param>
/// <param name="BestWeights">Its weights (state dict), or null.</param>
public sealed record CheckpointState(int EpochsCompleted, IReadOnlyList<EpochMetrics> History, int BestEpoch, double BestAccuracy, double BestLoss,
    Dictionary<string, Tensor>? BestWeights);

/// <summary>
/// The resumable state of a training run in one file (<c>checkpoint.bin</c> in a folder), rewritten atomically after
/// every epoch, so killing the process loses at most the epoch in progress. It holds the architecture signature
/// (every state-dict name and shape), what the run trained on and how (<see cref="Describe"/>: classes, a fingerprint
/// of the data, resolution, options), the model and optimizer state, the history and the best weights so far. A run
/// resumes only from a checkpoint of the same run: one with other classes or another resolution has tensors of the
/// same shapes and used to resume silently.
/// </summary>
public sealed class TrainingCheckpoint
{
    private const string Magic = "ECNNCKPT";
    private const int Version = 2;

    /// <summary>A checkpoint stored in <paramref name="directory"/> (created on first save).</summary>
    public TrainingCheckpoint(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = directory;
    }

    /// <summary>The checkpoint folder.</summary>
    public string Directory { get; }

    /// <summary>The checkpoint file.</summary>
    public string FilePath => Path.Combine(Directory, "checkpoint.bin");

    /// <summary>Whether a checkpoint has been written.</summary>
    public bool Exists => File.Exists(FilePath);

    /// <summary>Every state-dict entry as "name:shape", one per line: two models can load each other's weights when these are equal.</summary>
    public static string Signature(nn.Module model) =>
        string.Join("\n", model.state_dict().Select(kv => $"{kv.Key}:[{string.Join(",", kv.Value.shape)}]"));

    /// <summary>
    /// What identifies a training run besides the architecture, for <see cref="Save"/> and <see cref="Load"/>: the
    /// classes, a fingerprint of the images and labels (training and validation), the input resolution and the
    /// <paramref name="options"/> that shape the weights. The number of epochs is left out on purpose: a run may be
    /// continued for more (train --time sets them after the first epoch).
    /// </summary>
    public static IReadOnlyDictionary<string, string> Describe(ImageDataset train, ImageDataset? validation, int resolution,
        params IEnumerable<(string Name, object? Value)> options)
    {
        var run = new Dictionary<string, string>
        {
            ["classes"] = string.Join(", ", train.Classes),
            ["data"] = Fingerprint(train, validation),
            ["resolution"] = resolution.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (name, value) in options) run[name] = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
        return run;
    }

    /// <summary>Image count and a hash of every image name with its label: another data set, or another split, differs.</summary>
    private static string Fingerprint(ImageDataset train, ImageDataset? validation)
    {
        var text = new StringBuilder();
        foreach (var part in new[] { train, validation })
        {
            foreach (var item in part?.Items ?? []) text.Append(item.Image.Name).Append('\t').Append(item.Label).Append('\n');
            text.Append("--\n");
        }
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
        return $"{train.Count} training + {validation?.Count ?? 0} validation images, sha256 {hash}";
    }

    /// <summary>Writes the checkpoint atomically (temporary file, then rename).</summary>
    /// <param name="model">The model whose state is saved.</param>
    /// <param name="optimizer">Its optimizer.</param>
    /// <param name="state">History and best weights.</param>
    /// <param name="run">What identifies the run (<see cref="Describe"/>), checked on <see cref="Load"/>; null for nothing.</param>
    public void Save(nn.Module model, OptimizerHelper optimizer, CheckpointState state, IReadOnlyDictionary<string, string>? run = null)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string temp = FilePath + ".tmp";
        using (var stream = File.Create(temp))
        using (var w = new BinaryWriter(stream, Encoding.UTF8))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(Signature(model));
            w.Write(JsonSerializer.Serialize(run ?? new Dictionary<string, string>()));
            w.Write(state.EpochsCompleted);
            w.Write(JsonSerializer.Serialize(state.History));
            w.Write(state.BestEpoch);
            w.Write(state.BestAccuracy);
            w.Write(state.BestLoss);
            w.Write(state.BestWeights is not null);
            if (state.BestWeights is not null)
                foreach (var (name, _) in model.state_dict()) state.BestWeights[name].cpu().Save(w);
            model.save(w);
            optimizer.save_state_dict(w);
        }
        File.Move(temp, FilePath, overwrite: true);
    }

    /// <summary>Restores <paramref name="model"/> and <paramref name="optimizer"/> and returns the rest of the state.</summary>
    /// <param name="model">The model to restore.</param>
    /// <param name="optimizer">Its optimizer.</param>
    /// <param name="run">This run's identity (<see cref="Describe"/>): a checkpoint of another run is refused; null checks nothing.</param>
    /// <exception cref="InvalidDataException">
    /// Not a checkpoint, one written for a different architecture (the first differing entry is named), or one of a
    /// different run (every differing item is named with both values).
    /// </exception>
    public CheckpointState Load(nn.Module model, OptimizerHelper optimizer, IReadOnlyDictionary<string, string>? run = null)
    {
        using var stream = File.OpenRead(FilePath);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        try
        {
            if (r.ReadString() != Magic)
                throw new InvalidDataException($"'{FilePath}' is not an EfficientCnn training checkpoint.");
            if (r.ReadInt32() is var version && version != Version)
                throw new InvalidDataException($"'{FilePath}' is a training checkpoint of format {version}, not {Version} (written by another version of EfficientCnn); delete it to start afresh.");
            string expected = Signature(model), found = r.ReadString();
            if (found != expected)
                throw new InvalidDataException($"Checkpoint '{FilePath}' was written for a different architecture: {FirstDifference(found, expected)}. " +
                                               "Delete it or point CheckpointDirectory elsewhere to start afresh.");
            var saved = JsonSerializer.Deserialize<Dictionary<string, string>>(r.ReadString()) ?? [];
            if (run is not null && RunDifferences(saved, run) is { Length: > 0 } differences)
                throw new InvalidDataException($"Checkpoint '{FilePath}' belongs to another training run: {differences}. " +
                                               "Delete it or use another checkpoint folder to start afresh, or run with the checkpoint's settings and data to resume.");
            int epochs = r.ReadInt32();
            var history = JsonSerializer.Deserialize<EpochMetrics[]>(r.ReadString()) ?? [];
            int bestEpoch = r.ReadInt32();
            double bestAccuracy = r.ReadDouble(), bestLoss = r.ReadDouble();
            Dictionary<string, Tensor>? best = null;
            if (r.ReadBoolean())
            {
                best = [];
                foreach (var (name, current) in model.state_dict())
                {
                    var t = zeros(current.shape, current.dtype).DetachFromDisposeScope();
                    t.Load(r);
                    best[name] = t.to(current.device);
                }
            }
            model.load(r);
            optimizer.load_state_dict(r);
            return new CheckpointState(epochs, history, bestEpoch, bestAccuracy, bestLoss, best);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Checkpoint '{FilePath}' is truncated.", e);
        }
    }

    private static string RunDifferences(IReadOnlyDictionary<string, string> saved, IReadOnlyDictionary<string, string> run) =>
        string.Join("; ", run.Keys.Union(saved.Keys)
            .Where(k => !saved.TryGetValue(k, out var a) || !run.TryGetValue(k, out var b) || a != b)
            .Select(k => $"{k} is '{saved.GetValueOrDefault(k, "(not recorded)")}' in the checkpoint but '{run.GetValueOrDefault(k, "(not set)")}' now"));

    private static string FirstDifference(string found, string expected)
    {
        var a = found.Split('\n');
        var b = expected.Split('\n');
        for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            string x = i < a.Length ? a[i] : "(nothing)", y = i < b.Length ? b[i] : "(nothing)";
            if (x != y) return $"entry {i} is '{x}' in the checkpoint but '{y}' in the model ({a.Length} vs {b.Length} entries)";
        }
        return "signatures differ";
    }
}
