namespace EfficientCnn.Cluster.Jobs;

/// <summary>Where a shard stands.</summary>
public enum ShardStatus
{
    /// <summary>Waiting for a worker.</summary>
    Pending,

    /// <summary>A worker holds a lease on it.</summary>
    Leased,

    /// <summary>Its result file is written and accepted.</summary>
    Done,

    /// <summary>It failed <see cref="JobSpec.MaxAttempts"/> times; reported, not retried (until the job is started again).</summary>
    Failed,
}

/// <summary>One shard's record in the job's persisted state.</summary>
[GenerateSerializer]
public sealed class ShardState
{
    /// <summary>Where it stands.</summary>
    [Id(0)] public ShardStatus Status { get; set; }

    /// <summary>The worker that holds (or last held, or finished) it.</summary>
    [Id(1)] public string? Worker { get; set; }

    /// <summary>Identifies the current lease, so a late answer from an expired one is recognised.</summary>
    [Id(2)] public Guid LeaseId { get; set; }

    /// <summary>When the lease runs out unless renewed (UTC, the job grain's clock).</summary>
    [Id(3)] public DateTime LeaseExpiresUtc { get; set; }

    /// <summary>Failed attempts and expired leases so far.</summary>
    [Id(4)] public int Attempts { get; set; }

    /// <summary>The last failure, for the report.</summary>
    [Id(5)] public string? LastError { get; set; }

    /// <summary>Images scored (rows in the result file) once done.</summary>
    [Id(6)] public int Scored { get; set; }

    /// <summary>Unreadable images of this shard, reported per row as local predict does.</summary>
    [Id(7)] public List<SkippedImage> Skipped { get; set; } = [];
}

/// <summary>An image a worker could not read.</summary>
[GenerateSerializer, Immutable]
public sealed class SkippedImage
{
    /// <summary>The image path.</summary>
    [Id(0)] public string Image { get; init; } = "";

    /// <summary>Why it was skipped.</summary>
    [Id(1)] public string Reason { get; init; } = "";
}

/// <summary>Per-worker totals, for progress (images/s of each silo).</summary>
[GenerateSerializer]
public sealed class WorkerTotals
{
    /// <summary>Shards finished.</summary>
    [Id(0)] public int Shards { get; set; }

    /// <summary>Images finished (scored or skipped).</summary>
    [Id(1)] public int Images { get; set; }

    /// <summary>Seconds spent scoring those shards (the worker's own measure).</summary>
    [Id(2)] public double Seconds { get; set; }
}

/// <summary>The job grain's persisted state (Redis grain storage): the spec and every shard's record.</summary>
[GenerateSerializer]
public sealed class JobState
{
    /// <summary>The job, or null before it started.</summary>
    [Id(0)] public JobSpec? Spec { get; set; }

    /// <summary>One record per shard.</summary>
    [Id(1)] public List<ShardState> Shards { get; set; } = [];

    /// <summary>Totals per worker.</summary>
    [Id(2)] public Dictionary<string, WorkerTotals> Workers { get; set; } = [];

    /// <summary>Leases that ran out so far.</summary>
    [Id(3)] public int ExpiredLeases { get; set; }
}

/// <summary>The model zip's bytes, kept apart from <see cref="JobState"/> so shard updates do not rewrite them.</summary>
[GenerateSerializer]
public sealed class ModelState
{
    /// <summary>The zip.</summary>
    [Id(0)] public byte[] Zip { get; set; } = [];
}
