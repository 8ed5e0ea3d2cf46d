namespace EfficientCnn.Cluster.Jobs;

/// <summary>A shard handed to a worker: the images <c>[Start, Start + Count)</c> of the job's list, until the lease expires.</summary>
[GenerateSerializer, Immutable]
public sealed class ShardLease
{
    /// <summary>The job.</summary>
    [Id(0)] public JobSpec Spec { get; init; } = new();

    /// <summary>Shard index.</summary>
    [Id(1)] public int Shard { get; init; }

    /// <summary>Lease identity, to renew, complete or release it.</summary>
    [Id(2)] public Guid LeaseId { get; init; }

    /// <summary>First image index.</summary>
    public int Start => Spec.ShardStart(Shard);

    /// <summary>Images in the shard.</summary>
    public int Count => Spec.ShardLength(Shard);
}

/// <summary>What a worker reports for a finished shard.</summary>
[GenerateSerializer, Immutable]
public sealed class ShardResult
{
    /// <summary>Rows written to the shard's result file.</summary>
    [Id(0)] public int Scored { get; init; }

    /// <summary>Images it could not read.</summary>
    [Id(1)] public List<SkippedImage> Skipped { get; init; } = [];

    /// <summary>Seconds the worker spent on the shard.</summary>
    [Id(2)] public double Seconds { get; init; }
}

/// <summary>A snapshot of a job for the client: counts, failures, and each worker's rate.</summary>
[GenerateSerializer, Immutable]
public sealed class JobStatus
{
    /// <summary>The job.</summary>
    [Id(0)] public JobSpec Spec { get; init; } = new();

    /// <summary>Shards done.</summary>
    [Id(1)] public int ShardsDone { get; init; }

    /// <summary>Shards leased now.</summary>
    [Id(2)] public int ShardsLeased { get; init; }

    /// <summary>Shards given up on, with why.</summary>
    [Id(3)] public List<FailedShard> Failed { get; init; } = [];

    /// <summary>Images in done shards.</summary>
    [Id(4)] public int ImagesDone { get; init; }

    /// <summary>Totals per worker.</summary>
    [Id(5)] public Dictionary<string, WorkerTotals> Workers { get; init; } = [];

    /// <summary>Leases that ran out so far (a worker died, hung or left without handing back).</summary>
    [Id(6)] public int ExpiredLeases { get; init; }

    /// <summary>True when no shard is pending or leased.</summary>
    public bool Finished => ShardsDone + Failed.Count == Spec.ShardCount;
}

/// <summary>A shard that failed too often.</summary>
[GenerateSerializer, Immutable]
public sealed class FailedShard
{
    /// <summary>Shard index.</summary>
    [Id(0)] public int Shard { get; init; }

    /// <summary>Attempts made.</summary>
    [Id(2)] public int Attempts { get; init; }

    /// <summary>The last error.</summary>
    [Id(3)] public string Error { get; init; } = "";
}
