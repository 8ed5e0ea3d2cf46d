namespace EfficientCnn.Cluster.Client;

/// <summary>A batch-scoring job for the cluster: which model, which images, where the CSV goes, how to cut and lease.</summary>
/// <param name="Model">The model zip (read here and sent with the job: workers need no copy).</param>
/// <param name="Images">The images, in output order, as the CSV shows them (relative ones against <see cref="BaseFolder"/>).</param>
/// <param name="Output">The CSV to write; its folder must be on storage every worker sees (shard results go next to it).</param>
public sealed record ClusterScoringRequest(string Model, IReadOnlyList<string> Images, string Output)
{
    /// <summary>Images per shard: the unit of leasing, retry and result file.</summary>
    public int ShardSize { get; init; } = 64;

    /// <summary>Images per ONNX Runtime run, or null for the model's own.</summary>
    public int? BatchSize { get; init; }

    /// <summary>A shard whose worker gave no word for this long is leased again.</summary>
    public TimeSpan LeaseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Failures (or expired leases) after which a shard is reported failed rather than retried.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Folder relative image paths are resolved against, on every machine.</summary>
    public string BaseFolder { get; init; } = Environment.CurrentDirectory;

    /// <summary>How often progress is read from the job.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when a value is impossible.</summary>
    public ClusterScoringRequest Validate()
    {
        if (Images.Count == 0) throw new ArgumentException("The job has no images.", nameof(Images));
        if (ShardSize < 1) throw new ArgumentException($"--shard-size must be at least 1, got {ShardSize}.", "shard-size");
        if (BatchSize is < 1) throw new ArgumentException($"--batch-size must be at least 1, got {BatchSize}.", "batch-size");
        if (LeaseTimeout < TimeSpan.FromSeconds(1)) throw new ArgumentException($"--lease-timeout must be at least 1 s, got {LeaseTimeout.TotalSeconds} s.", "lease-timeout");
        if (MaxAttempts < 1) throw new ArgumentException($"--max-attempts must be at least 1, got {MaxAttempts}.", "max-attempts");
        return this;
    }
}
