using EfficientCnn.Cli.Commands;
using EfficientCnn.Cluster;
using EfficientCnn.Cluster.Client;
using EfficientCnn.Cluster.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace EfficientCnn.Cli.Plumbing;

/// <summary><c>efficientcnn predict --cluster</c>: the same job as local predict, handed to the cluster's silos.</summary>
internal static class ClusterPredict
{
    /// <summary>Runs the job to the end (or re-attaches to it) and writes the CSV; returns the exit code.</summary>
    public static int Run(PredictCommand.Settings settings, IReadOnlyList<string> images, string output, CancellationToken cancel)
    {
        var cluster = ClusterAddress.Parse(settings.Cluster!);
        var request = new ClusterScoringRequest(settings.Model!, images, output)
        {
            ShardSize = settings.ShardSize, BatchSize = settings.BatchSize, MaxAttempts = settings.MaxAttempts,
            LeaseTimeout = TimeSpan.FromSeconds(settings.LeaseTimeoutSeconds),
        };
        Console.Out.WriteLine($"Connecting to {cluster} ...");
        using var host = ClusterScoring.ConnectAsync(cluster, TimeSpan.FromSeconds(settings.ConnectTimeoutSeconds), cancel).GetAwaiter().GetResult();
        var client = host.Services.GetRequiredService<IClusterClient>();
        var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("EfficientCnn.Cluster.Client");
        var progress = new ProgressLines();
        // Ctrl-C ends this client only; the silos go on with the job, and the same command re-attaches to it.
        ConsoleCancelEventHandler stopFollowing = (_, _) =>
            Console.Out.WriteLine("Stopped following the job; it goes on in the cluster. Run the same command again to re-attach.");
        Console.CancelKeyPress += stopFollowing;
        ClusterScoringResult result;
        try
        {
            result = ClusterScoring.RunAsync(client, request, progress, log, cancel).GetAwaiter().GetResult();
        }
        finally
        {
            Console.CancelKeyPress -= stopFollowing;
        }
        foreach (var bad in result.Skipped) AnsiConsole.MarkupLineInterpolated($"[yellow]skipped[/] {bad.Image}: {bad.Reason}");
        Console.Out.WriteLine($"Classified {result.Scored} images on {result.Final.Workers.Count} silos in {result.Seconds:F2} s " +
                              $"({result.Scored / Math.Max(result.Seconds, 1e-9):F1} images/s{(result.Reattached ? ", re-attached to a running job" : "")}), " +
                              $"{result.Skipped.Count} unreadable, {result.Final.ExpiredLeases} expired leases; wrote {output}");
        using (var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5))) host.StopAsync(stopping.Token).GetAwaiter().GetResult();
        return 0;
    }

    /// <summary>
    /// Progress as plain lines (readable when piped): percent, images, shards, overall rate, ETA and each silo's rate;
    /// at most one line every few seconds, and one when the job is first seen.
    /// </summary>
    private sealed class ProgressLines : IProgress<JobStatus>
    {
        private static readonly TimeSpan Every = TimeSpan.FromSeconds(3);
        private readonly System.Diagnostics.Stopwatch watch = System.Diagnostics.Stopwatch.StartNew();
        private TimeSpan? last;
        private int firstDone = -1;

        public void Report(JobStatus status)
        {
            var spec = status.Spec;
            if (firstDone < 0)
            {
                firstDone = status.ImagesDone;
                Console.Out.WriteLine(status.ImagesDone > 0 || status.ShardsLeased > 0
                    ? $"Re-attached to job {spec.JobId}: {status.ShardsDone} of {spec.ShardCount} shards already done"
                    : $"Job {spec.JobId}: {spec.ImageCount} images in {spec.ShardCount} shards of {spec.ShardSize}; work folder {spec.WorkFolder}");
            }
            if (last is { } previous && watch.Elapsed - previous < Every && !status.Finished) return;
            last = watch.Elapsed;
            double rate = (status.ImagesDone - firstDone) / Math.Max(watch.Elapsed.TotalSeconds, 1e-9);
            string eta = rate > 0 ? TimeSpan.FromSeconds((spec.ImageCount - status.ImagesDone) / rate).ToString(@"h\:mm\:ss") : "?";
            string silos = string.Join(", ", status.Workers.OrderBy(w => w.Key, StringComparer.Ordinal)
                .Select(w => $"{w.Key} {w.Value.Images / Math.Max(w.Value.Seconds, 1e-9):F0} img/s ({w.Value.Shards} shards)"));
            Console.Out.WriteLine($"[{100.0 * status.ImagesDone / spec.ImageCount,5:F1}%] {status.ImagesDone}/{spec.ImageCount} images, " +
                                  $"{status.ShardsDone}/{spec.ShardCount} shards ({status.ShardsLeased} leased, {status.Failed.Count} failed), " +
                                  $"{rate:F0} img/s, ETA {eta}{(silos.Length > 0 ? " | " + silos : "")}");
        }
    }
}
