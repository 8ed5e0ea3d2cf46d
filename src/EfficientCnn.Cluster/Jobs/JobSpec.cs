namespace EfficientCnn.Cluster.Jobs;

/// <summary>
/// What a scoring job is, fixed when it starts: where its image list and shard results live (storage every machine
/// sees), how the list is cut into shards, and the rules for leases and retries. The model's bytes travel separately.
/// </summary>
[GenerateSerializer, Immutable]
public sealed class JobSpec
{
    /// <summary>The job's id (a hash of output, model and image list, so the same command finds the same job).</summary>
    [Id(0)] public string JobId { get; init; } = "";

    /// <summary>Folder on shared storage with <c>images.txt</c> and the shard results.</summary>
    [Id(1)] public string WorkFolder { get; init; } = "";

    /// <summary>Images in the list.</summary>
    [Id(2)] public int ImageCount { get; init; }

    /// <summary>Images per shard (the last shard may hold fewer).</summary>
    [Id(3)] public int ShardSize { get; init; }

    /// <summary>Images per ONNX Runtime run inside a shard, or 0 for the model's own.</summary>
    [Id(4)] public int BatchSize { get; init; }

    /// <summary>SHA-256 of the model zip (hex): workers cache the loaded model by it.</summary>
    [Id(5)] public string ModelSha256 { get; init; } = "";

    /// <summary>How long a lease lasts without renewal before the shard is given to another worker.</summary>
    [Id(6)] public TimeSpan LeaseTimeout { get; init; }

    /// <summary>Attempts (failures and expired leases) after which a shard is reported failed, not retried.</summary>
    [Id(7)] public int MaxAttempts { get; init; }

    /// <summary>The CSV the client writes at the end (for humans reading the job's state).</summary>
    [Id(8)] public string Output { get; init; } = "";

    /// <summary>Folder the client ran in: relative image paths are resolved against it (on every machine: shared storage).</summary>
    [Id(9)] public string BaseFolder { get; init; } = "";

    /// <summary>Shards in the job.</summary>
    public int ShardCount => (ImageCount + ShardSize - 1) / ShardSize;

    /// <summary>First image index of <paramref name="shard"/>.</summary>
    public int ShardStart(int shard) => shard * ShardSize;

    /// <summary>Images in <paramref name="shard"/>.</summary>
    public int ShardLength(int shard) => Math.Min(ShardSize, ImageCount - ShardStart(shard));
}
