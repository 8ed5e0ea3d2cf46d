using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using EfficientCnn.Cluster.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace EfficientCnn.Cluster.Client;

/// <summary>
/// Batch scoring on a cluster of silos, from code: <see cref="ConnectAsync"/> joins the cluster as a client,
/// <see cref="RunAsync"/> starts (or re-attaches to) a job, follows it, and writes the same CSV as local predict.
/// </summary>
public static class ClusterScoring
{
    /// <summary>
    /// Connects a client to the cluster on <paramref name="cluster"/>, waiting up to <paramref name="timeout"/> for a
    /// silo to be up. Dispose the host to disconnect.
    /// </summary>
    /// <exception cref="ClusterUnavailableException">No silo answered in time (or Redis is unreachable).</exception>
    public static async Task<IHost> ConnectAsync(ClusterAddress cluster, TimeSpan timeout, CancellationToken cancel = default)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        ClusterLogging.Configure(builder.Logging);
        var deadline = DateTime.UtcNow + timeout;
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(cluster.RedisConfiguration);
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (ClusterAddress.ClusterId, ClusterAddress.ServiceId));
            ClusterTimeouts.ConfigureClient(client.Services);
            client.UseConnectionRetryFilter(async (_, token) =>
            {
                if (DateTime.UtcNow > deadline || token.IsCancellationRequested) return false;
                await Task.Delay(TimeSpan.FromSeconds(1), token);
                return true;
            });
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancel);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            host.Dispose();
            throw new ClusterUnavailableException($"No silo of the cluster {cluster} answered within {timeout.TotalSeconds:0} s ({e.GetBaseException().Message}). " +
                                                  $"Start workers with `efficientcnn silo --cluster {cluster}`.", e);
        }
        return host;
    }

    /// <summary>
    /// Runs <paramref name="request"/> on the cluster: writes the image list next to the output, starts the job (or
    /// re-attaches when the same command ran before and did not finish), reports progress until every shard is done,
    /// then writes the output CSV atomically and deletes the job's state and work folder.
    /// </summary>
    /// <param name="client">A connected client (<see cref="ConnectAsync"/>).</param>
    /// <param name="request">The job.</param>
    /// <param name="progress">Receives the job's status about every <see cref="ClusterScoringRequest.PollInterval"/>.</param>
    /// <param name="cancel">Stops following the job (the job itself goes on; the same command re-attaches).</param>
    /// <param name="log">Where retried cluster calls are noted (a silo died), or null.</param>
    /// <exception cref="ClusterJobFailedException">Shards failed <see cref="ClusterScoringRequest.MaxAttempts"/> times.</exception>
    public static async Task<ClusterScoringResult> RunAsync(IClusterClient client, ClusterScoringRequest request,
        IProgress<JobStatus>? progress = null, ILogger? log = null, CancellationToken cancel = default)
    {
        request.Validate();
        var watch = Stopwatch.StartNew();
        var zip = await File.ReadAllBytesAsync(request.Model, cancel);
        var spec = Spec(request, zip);
        Directory.CreateDirectory(spec.WorkFolder);
        JobFiles.WriteImageList(spec.WorkFolder, request.Images);
        var job = client.GetGrain<IScoringJobGrain>(spec.JobId);
        bool reattached = await Call(log, () => job.GetStatusAsync(), cancel) is not null;
        var status = await Call(log, () => job.StartAsync(spec, zip), cancel);
        while (!status.Finished)
        {
            progress?.Report(status);
            await Task.Delay(request.PollInterval, cancel);
            status = await Call(log, () => job.GetStatusAsync(), cancel) ?? throw new InvalidOperationException($"Job {spec.JobId} vanished from the cluster's storage.");
        }
        progress?.Report(status);
        if (status.Failed.Count > 0) throw new ClusterJobFailedException(status);
        var results = await Call(log, () => job.GetResultsAsync(), cancel);
        JobFiles.Merge(status.Spec, results.Select(r => r.Scored).ToArray(), request.Output);
        await Call(log, () => job.ForgetAsync(), cancel);
        Directory.Delete(spec.WorkFolder, recursive: true);
        return new ClusterScoringResult(spec.JobId, reattached, results.Sum(r => r.Scored), results.SelectMany(r => r.Skipped).ToList(), status, watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The job's spec. Its id hashes what makes the work the same (output, model, images, base folder, shard and
    /// batch size), so running the same command again finds the job, and anything else makes a new one.
    /// </summary>
    private static JobSpec Spec(ClusterScoringRequest request, byte[] zip)
    {
        string modelSha = Convert.ToHexStringLower(SHA256.HashData(zip));
        string output = Path.GetFullPath(request.Output);
        // The base folder matters only for relative paths: with none, the same command from another folder is the same job.
        string baseFolder = request.Images.Any(p => !Path.IsPathRooted(p)) ? Path.GetFullPath(request.BaseFolder) : "";
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{output}\n{modelSha}\n{baseFolder}\n{request.ShardSize}\n{request.BatchSize}\n"));
        foreach (var image in request.Images) hash.AppendData(Encoding.UTF8.GetBytes(image + "\n"));
        string jobId = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
        return new JobSpec
        {
            JobId = jobId, WorkFolder = JobFiles.WorkFolder(output, jobId), ImageCount = request.Images.Count,
            ShardSize = request.ShardSize, BatchSize = request.BatchSize ?? 0, ModelSha256 = modelSha,
            LeaseTimeout = request.LeaseTimeout, MaxAttempts = request.MaxAttempts, Output = output, BaseFolder = baseFolder,
        };
    }

    /// <summary>
    /// Calls the job until it answers: when the silo holding the job grain dies, calls fail until the cluster declares
    /// it dead (seconds) and the grain is re-activated elsewhere from storage. Only cancellation ends the wait.
    /// </summary>
    private const int MaxCallAttempts = 120;

    private static async Task<T> Call<T>(ILogger? log, Func<Task<T>> call, CancellationToken cancel)
    {
        for (int attempt = 1; ; attempt++)
        {
            cancel.ThrowIfCancellationRequested();
            try
            {
                return await call();
            }
            catch (Exception e) when (e is not (OperationCanceledException or InvalidOperationException or ArgumentException))
            {
                if (attempt >= MaxCallAttempts)
                    throw new ClusterUnavailableException($"The cluster did not answer for {MaxCallAttempts} attempts ({e.Message}); the job goes on if silos remain: run the same command to re-attach.", e);
                log?.LogWarning("Cluster call failed ({Error}); retrying", ClusterLogging.Brief(e));
                await Task.Delay(TimeSpan.FromSeconds(1), cancel);
            }
        }
    }

    private static Task<bool> Call(ILogger? log, Func<Task> call, CancellationToken cancel) => Call(log, async () => { await call(); return true; }, cancel);
}
