namespace EfficientCnn.Cluster.Jobs;

/// <summary>The list of jobs with work left, persisted so it survives the silo that holds it.</summary>
internal sealed class JobRegistryGrain(
    [PersistentState("registry", ClusterStorage.Name)] IPersistentState<List<string>> jobs) : Grain, IJobRegistryGrain
{
    public async Task AddAsync(string jobId)
    {
        if (jobs.State.Contains(jobId)) return;
        jobs.State.Add(jobId);
        await jobs.WriteStateAsync();
    }

    public async Task RemoveAsync(string jobId)
    {
        if (!jobs.State.Remove(jobId)) return;
        await jobs.WriteStateAsync();
    }

    public Task<List<string>> ActiveAsync() => Task.FromResult(jobs.State.ToList());
}
