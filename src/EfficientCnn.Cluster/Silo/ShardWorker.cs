using EfficientCnn.Cluster.Jobs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EfficientCnn.Cluster.Silo;

/// <summary>
/// A silo's work loop: asks the registry which jobs have work, leases one shard at a time, renews the lease while it
/// scores, and reports the result. On shutdown (Ctrl-C, SIGTERM) it leases nothing more, finishes the shard in hand
/// if that takes at most <see cref="ScoringSiloOptions.ShutdownGrace"/>, and otherwise hands it back.
/// </summary>
internal sealed class ShardWorker(IGrainFactory grains, ShardScorer scorer, ScoringSiloOptions options, ILogger<ShardWorker> log) : BackgroundService
{
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(500);

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        log.LogInformation("Worker {Worker} ready", options.WorkerName);
        var registry = grains.GetGrain<IJobRegistryGrain>(0);
        while (!stopping.IsCancellationRequested)
        {
            ShardLease? lease = null;
            try
            {
                foreach (var jobId in await registry.ActiveAsync())
                    if ((lease = await grains.GetGrain<IScoringJobGrain>(jobId).LeaseAsync(options.WorkerName)) is not null) break;
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                // The registry's or a job's silo may have just died: its grains come back elsewhere once the cluster
                // notices, so wait and ask again.
                log.LogWarning("Could not lease a shard ({Error}); retrying", ClusterLogging.Brief(e));
                await Delay(TimeSpan.FromSeconds(2), stopping);
                continue;
            }
            if (lease is null) await Delay(IdlePoll, stopping);
            else await Run(lease, stopping);
        }
        log.LogInformation("Worker {Worker} stopped", options.WorkerName);
    }

    private async Task Run(ShardLease lease, CancellationToken stopping)
    {
        var job = grains.GetGrain<IScoringJobGrain>(lease.Spec.JobId);
        using var abandon = new CancellationTokenSource();
        using var renewing = new CancellationTokenSource();
        var renewer = Renew(job, lease, renewing.Token);
        var scoring = scorer.ScoreAsync(lease, job, abandon.Token);
        try
        {
            await scoring.WaitAsync(stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested && !scoring.IsCompleted)
        {
            log.LogInformation("Stopping: finishing shard {Shard} of job {Job} (up to {Grace} s)", lease.Shard, lease.Spec.JobId, options.ShutdownGrace.TotalSeconds);
            if (await Task.WhenAny(scoring, Task.Delay(options.ShutdownGrace)) != scoring)
            {
                abandon.Cancel();
                await renewing.CancelAsync();
                await Retry("hand back", () => job.ReleaseAsync(lease.Shard, lease.LeaseId));
                log.LogInformation("Handed shard {Shard} of job {Job} back", lease.Shard, lease.Spec.JobId);
                return;
            }
        }
        catch (Exception)
        {
            // Reported below, from the task itself.
        }
        await renewing.CancelAsync();
        await renewer;
        if (scoring.IsCompletedSuccessfully)
        {
            var result = scoring.Result;
            await Retry("report", () => job.CompleteAsync(lease.Shard, lease.LeaseId, options.WorkerName, result));
            log.LogInformation("Shard {Shard} of job {Job}: {Images} images in {Seconds:F2} s ({Rate:F1} images/s), {Skipped} unreadable",
                lease.Shard, lease.Spec.JobId, result.Scored, result.Seconds, result.Scored / Math.Max(result.Seconds, 1e-9), result.Skipped.Count);
        }
        else
        {
            var error = scoring.Exception?.GetBaseException().Message ?? "cancelled";
            log.LogWarning("Shard {Shard} of job {Job} failed: {Error}", lease.Shard, lease.Spec.JobId, error);
            await Retry("report the failure", () => job.FailAsync(lease.Shard, lease.LeaseId, options.WorkerName, error));
        }
    }

    private async Task Renew(IScoringJobGrain job, ShardLease lease, CancellationToken stop)
    {
        var period = lease.Spec.LeaseTimeout / 3;
        while (await Delay(period, stop))
        {
            try
            {
                if (!await job.RenewAsync(lease.Shard, lease.LeaseId))
                    log.LogWarning("Lease on shard {Shard} of job {Job} lost (expired); finishing it anyway, its result is the same", lease.Shard, lease.Spec.JobId);
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                log.LogWarning("Could not renew the lease on shard {Shard} ({Error})", lease.Shard, ClusterLogging.Brief(e));
            }
        }
    }

    /// <summary>
    /// Calls the job grain until it answers: while the silo that held it is being declared dead, calls fail, and
    /// a result not reported would cost the shard's work (its lease would expire and another worker redo it).
    /// </summary>
    private async Task Retry(string what, Func<Task> call)
    {
        var deadline = DateTime.UtcNow + options.ReportTimeout;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await call();
                return;
            }
            catch (Exception e) when (DateTime.UtcNow < deadline)
            {
                log.LogWarning("Could not {What} (attempt {Attempt}: {Error}); retrying", what, attempt, ClusterLogging.Brief(e));
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
            catch (Exception e)
            {
                log.LogError("Gave up trying to {What}: {Error}; the lease will expire and the shard be leased again", what, ClusterLogging.Brief(e));
                return;
            }
        }
    }

    /// <summary>Waits; false when cancelled.</summary>
    private static async Task<bool> Delay(TimeSpan time, CancellationToken stop)
    {
        try
        {
            await Task.Delay(time, stop);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
