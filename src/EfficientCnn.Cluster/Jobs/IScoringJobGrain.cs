namespace EfficientCnn.Cluster.Jobs;

/// <summary>
/// One scoring job (key: <see cref="JobSpec.JobId"/>): hands out shard leases, takes back results, and keeps every
/// shard's state in grain storage (Redis), so a restarted client re-attaches and a dead worker's shards are re-leased.
/// </summary>
public interface IScoringJobGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the job, or re-attaches to it when it exists with the same spec (shards that had failed are given a
    /// fresh set of attempts: the user ran the command again, presumably after fixing the cause).
    /// </summary>
    /// <exception cref="InvalidOperationException">A job with this id exists with a different spec.</exception>
    Task<JobStatus> StartAsync(JobSpec spec, byte[] modelZip);

    /// <summary>Leases the next pending shard to <paramref name="worker"/>, or null when none is pending.</summary>
    Task<ShardLease?> LeaseAsync(string worker);

    /// <summary>Extends a lease; false when it is no longer this worker's (expired and re-leased, or done).</summary>
    Task<bool> RenewAsync(int shard, Guid leaseId);

    /// <summary>Records a shard's result file as written; false when the shard was already done (a late duplicate).</summary>
    Task<bool> CompleteAsync(int shard, Guid leaseId, string worker, ShardResult result);

    /// <summary>Records a failed attempt; the shard is leased again until it has failed <see cref="JobSpec.MaxAttempts"/> times.</summary>
    Task FailAsync(int shard, Guid leaseId, string worker, string error);

    /// <summary>Hands a shard back without counting an attempt (a worker shutting down).</summary>
    Task ReleaseAsync(int shard, Guid leaseId);

    /// <summary>The model zip the job scores with.</summary>
    Task<byte[]> GetModelAsync();

    /// <summary>Where the job stands; null when there is no such job.</summary>
    Task<JobStatus?> GetStatusAsync();

    /// <summary>Each shard's result (rows written, unreadable images), in shard order; for shards not done, empty.</summary>
    Task<List<ShardResult>> GetResultsAsync();

    /// <summary>Deletes the job's state (after the client wrote the output).</summary>
    Task ForgetAsync();
}

/// <summary>The cluster's list of jobs with work left (key 0): workers ask it where to look for shards.</summary>
public interface IJobRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Adds a job.</summary>
    Task AddAsync(string jobId);

    /// <summary>Removes a job (finished or forgotten).</summary>
    Task RemoveAsync(string jobId);

    /// <summary>Jobs with work left, oldest first.</summary>
    Task<List<string>> ActiveAsync();
}
