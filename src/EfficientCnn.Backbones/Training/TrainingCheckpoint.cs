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
/// (every state-dict name and shape), the model and optimizer state, the history and the best weights so far.
/// </summary>
public sealed class TrainingCheckpoint
{
    private const string Magic = "ECNNCKPT";
    private const int Version = 1;

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

    /// <summary>Writes the checkpoint atomically (temporary file, then rename).</summary>
    public void Save(nn.Module model, OptimizerHelper optimizer, CheckpointState state)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string temp = FilePath + ".tmp";
        using (var stream = File.Create(temp))
        using (var w = new BinaryWriter(stream, Encoding.UTF8))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(Signature(model));
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
    /// <exception cref="InvalidDataException">Not a checkpoint, or one written for a different architecture (the first differing entry is named).</exception>
    public CheckpointState Load(nn.Module model, OptimizerHelper optimizer)
    {
        using var stream = File.OpenRead(FilePath);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        try
        {
            if (r.ReadString() != Magic || r.ReadInt32() != Version)
                throw new InvalidDataException($"'{FilePath}' is not an EfficientCnn training checkpoint (version {Version}).");
            string expected = Signature(model), found = r.ReadString();
            if (found != expected)
                throw new InvalidDataException($"Checkpoint '{FilePath}' was written for a different architecture: {FirstDifference(found, expected)}. " +
                                               "Delete it or point CheckpointDirectory elsewhere to start afresh.");
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
