using Orleans.Storage;
using Microsoft.Extensions.Logging;

namespace EfficientCnn.Cluster.Jobs;

/// <summary>
/// The job grain. Every change to a shard is written to grain storage before the caller hears of it, so whatever
/// silo re-activates the grain after a crash sees the same leases and results. Leases expire lazily: a lease whose
/// time ran out is taken back the next time anyone leases or asks for status.
/// </summary>
internal sealed class ScoringJobGrain(
    [PersistentState("job", ClusterStorage.Name)] IPersistentState<JobState> job,
    [PersistentState("model", ClusterStorage.Name)] IPersistentState<ModelState> model,
    ILogger<ScoringJobGrain> log) : Grain, IScoringJobGrain
{
    private JobState State => job.State;

    public async Task<JobStatus> StartAsync(JobSpec spec, byte[] modelZip)
    {
        if (State.Spec is null)
        {
            model.State.Zip = modelZip;
            await Persist(model);
            State.Spec = spec;
            State.Shards = Enumerable.Range(0, spec.ShardCount).Select(_ => new ShardState()).ToList();
            await Persist(job);
            log.LogInformation("Job {Job}: {Images} images in {Shards} shards", spec.JobId, spec.ImageCount, spec.ShardCount);
        }
        else
        {
            if (!SameWork(State.Spec, spec))
                throw new InvalidOperationException($"Job {spec.JobId} already exists with other settings (work folder, images, shard or batch size, or model).");
            var failed = State.Shards.Where(s => s.Status == ShardStatus.Failed).ToList();
            foreach (var shard in failed)
            {
                shard.Status = ShardStatus.Pending;
                shard.Attempts = 0;
            }
            if (failed.Count > 0) await Persist(job);
            if (model.State.Zip.Length == 0)
            {
                model.State.Zip = modelZip;
                await Persist(model);
            }
        }
        if (!Status().Finished) await Registry.AddAsync(spec.JobId);
        return Status();
    }

    public async Task<ShardLease?> LeaseAsync(string worker)
    {
        if (State.Spec is not { } spec) return null;
        var now = DateTime.UtcNow;
        bool changed = ExpireLeases(now);
        int index = State.Shards.FindIndex(s => s.Status == ShardStatus.Pending);
        ShardLease? lease = null;
        if (index >= 0)
        {
            var shard = State.Shards[index];
            shard.Status = ShardStatus.Leased;
            shard.Worker = worker;
            shard.LeaseId = Guid.NewGuid();
            shard.LeaseExpiresUtc = now + spec.LeaseTimeout;
            lease = new ShardLease { Spec = spec, Shard = index, LeaseId = shard.LeaseId };
            changed = true;
        }
        if (changed) await PersistAndUnregisterIfFinished();
        return lease;
    }

    public Task<bool> RenewAsync(int shard, Guid leaseId)
    {
        // Not persisted: after a re-activation the stored (earlier) expiry applies, at worst a shard is scored twice,
        // and both copies of its result file are the same.
        if (Shard(shard) is not { Status: ShardStatus.Leased } s || s.LeaseId != leaseId) return Task.FromResult(false);
        s.LeaseExpiresUtc = DateTime.UtcNow + State.Spec!.LeaseTimeout;
        return Task.FromResult(true);
    }

    public async Task<bool> CompleteAsync(int shard, Guid leaseId, string worker, ShardResult result)
    {
        if (Shard(shard) is not { } s || s.Status == ShardStatus.Done) return false;
        // Accepted from any lease, even an expired one: the result file is in place and the same whoever wrote it.
        s.Status = ShardStatus.Done;
        s.Worker = worker;
        s.Scored = result.Scored;
        s.Skipped = result.Skipped;
        s.LastError = null;
        if (!State.Workers.TryGetValue(worker, out var totals)) State.Workers[worker] = totals = new WorkerTotals();
        totals.Shards++;
        totals.Images += result.Scored + result.Skipped.Count;
        totals.Seconds += result.Seconds;
        await PersistAndUnregisterIfFinished();
        return true;
    }

    public async Task FailAsync(int shard, Guid leaseId, string worker, string error)
    {
        if (Shard(shard) is not { Status: ShardStatus.Leased } s || s.LeaseId != leaseId) return;
        CountFailedAttempt(s, $"{worker}: {error}");
        log.LogWarning("Job {Job} shard {Shard} failed on {Worker} (attempt {Attempt} of {Max}): {Error}",
            State.Spec!.JobId, shard, worker, s.Attempts, State.Spec.MaxAttempts, error);
        await PersistAndUnregisterIfFinished();
    }

    public async Task ReleaseAsync(int shard, Guid leaseId)
    {
        if (Shard(shard) is not { Status: ShardStatus.Leased } s || s.LeaseId != leaseId) return;
        s.Status = ShardStatus.Pending;
        await Persist(job);
    }

    public Task<byte[]> GetModelAsync() =>
        State.Spec is null ? throw new InvalidOperationException($"Job {this.GetPrimaryKeyString()} does not exist.") : Task.FromResult(model.State.Zip);

    public async Task<JobStatus?> GetStatusAsync()
    {
        if (State.Spec is null) return null;
        if (ExpireLeases(DateTime.UtcNow)) await PersistAndUnregisterIfFinished();
        return Status();
    }

    public Task<List<ShardResult>> GetResultsAsync() =>
        Task.FromResult(State.Shards.Select(s => new ShardResult { Scored = s.Scored, Skipped = s.Skipped }).ToList());

    public async Task ForgetAsync()
    {
        await Registry.RemoveAsync(this.GetPrimaryKeyString());
        await job.ClearStateAsync();
        await model.ClearStateAsync();
        job.State = new JobState();
        model.State = new ModelState();
        DeactivateOnIdle();
    }

    private IJobRegistryGrain Registry => GrainFactory.GetGrain<IJobRegistryGrain>(0);

    private ShardState? Shard(int index) => State.Spec is not null && index >= 0 && index < State.Shards.Count ? State.Shards[index] : null;

    private bool ExpireLeases(DateTime now)
    {
        bool changed = false;
        foreach (var s in State.Shards.Where(s => s.Status == ShardStatus.Leased && s.LeaseExpiresUtc < now))
        {
            State.ExpiredLeases++;
            CountFailedAttempt(s, $"{s.Worker}: lease expired (no word for {State.Spec!.LeaseTimeout.TotalSeconds:0.#} s: the worker died, hung or lost the cluster)");
            log.LogWarning("Job {Job}: lease of {Worker} expired; shard given back (attempt {Attempt})", State.Spec.JobId, s.Worker, s.Attempts);
            changed = true;
        }
        return changed;
    }

    private void CountFailedAttempt(ShardState s, string error)
    {
        s.Attempts++;
        s.LastError = error;
        s.Status = s.Attempts >= State.Spec!.MaxAttempts ? ShardStatus.Failed : ShardStatus.Pending;
    }

    private JobStatus Status() => new()
    {
        Spec = State.Spec!,
        ShardsDone = State.Shards.Count(s => s.Status == ShardStatus.Done),
        ShardsLeased = State.Shards.Count(s => s.Status == ShardStatus.Leased),
        ImagesDone = State.Shards.Select((s, i) => s.Status == ShardStatus.Done ? State.Spec!.ShardLength(i) : 0).Sum(),
        Failed = State.Shards.Select((s, i) => (s, i)).Where(x => x.s.Status == ShardStatus.Failed)
            .Select(x => new FailedShard { Shard = x.i, Attempts = x.s.Attempts, Error = x.s.LastError ?? "" }).ToList(),
        Workers = State.Workers.ToDictionary(w => w.Key, w => new WorkerTotals { Shards = w.Value.Shards, Images = w.Value.Images, Seconds = w.Value.Seconds }),
        ExpiredLeases = State.ExpiredLeases,
    };

    private async Task PersistAndUnregisterIfFinished()
    {
        await Persist(job);
        if (Status().Finished) await Registry.RemoveAsync(State.Spec!.JobId);
    }

    /// <summary>
    /// Writes a state; when storage says another activation wrote first (two activations during a membership change),
    /// this one steps aside so the caller's retry reaches a fresh activation that reads the newer state.
    /// </summary>
    private async Task Persist<T>(IPersistentState<T> state)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            DeactivateOnIdle();
            throw;
        }
    }

    private static bool SameWork(JobSpec a, JobSpec b) =>
        a.WorkFolder == b.WorkFolder && a.ImageCount == b.ImageCount && a.ShardSize == b.ShardSize && a.BatchSize == b.BatchSize &&
        a.ModelSha256 == b.ModelSha256 && a.BaseFolder == b.BaseFolder;
}
