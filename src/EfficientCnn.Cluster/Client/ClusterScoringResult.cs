using EfficientCnn.Cluster.Jobs;

namespace EfficientCnn.Cluster.Client;

/// <summary>A finished cluster job.</summary>
/// <param name="JobId">The job's id.</param>
/// <param name="Reattached">True when the job already existed (a client had started it and gone away).</param>
/// <param name="Scored">Rows written to the output.</param>
/// <param name="Skipped">Unreadable images, left out as local predict does.</param>
/// <param name="Final">The job's last status (per-worker totals, expired leases).</param>
/// <param name="Seconds">Wall time of this client's run.</param>
public sealed record ClusterScoringResult(string JobId, bool Reattached, int Scored, IReadOnlyList<SkippedImage> Skipped, JobStatus Final, double Seconds);

/// <summary>Shards failed too often: the job is reported, not retried forever. Running the same command again retries them.</summary>
public sealed class ClusterJobFailedException(JobStatus status) : InvalidOperationException(Describe(status))
{
    /// <summary>The job's status, with the failed shards and their last errors.</summary>
    public JobStatus Status { get; } = status;

    private static string Describe(JobStatus status)
    {
        var spec = status.Spec;
        var lines = status.Failed.Take(10).Select(f =>
            $"  shard {f.Shard} (images {spec.ShardStart(f.Shard) + 1}-{spec.ShardStart(f.Shard) + spec.ShardLength(f.Shard)} of images.txt): {f.Attempts} attempts, last: {f.Error}");
        string more = status.Failed.Count > 10 ? $"\n  ... and {status.Failed.Count - 10} more" : "";
        return $"Job {spec.JobId}: {status.Failed.Count} of {spec.ShardCount} shards failed {spec.MaxAttempts} times and were given up; " +
               $"no output written (done shards are kept in {spec.WorkFolder}: run the same command again to retry the failed ones).\n" +
               string.Join("\n", lines) + more;
    }
}

/// <summary>The cluster cannot be reached: no silo answers, or Redis is down.</summary>
public sealed class ClusterUnavailableException(string message, Exception inner) : InvalidOperationException(message, inner);
