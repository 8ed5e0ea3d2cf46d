using System.Security.Cryptography;
using EfficientCnn.Cluster.Jobs;
using EfficientCnn.MLNet.Scoring;
using Microsoft.Extensions.Logging;
using Microsoft.ML;

namespace EfficientCnn.Cluster.Silo;

/// <summary>
/// Scores shards in a silo. The model is loaded once per process (and again only when a job with another model comes),
/// its ONNX Runtime session kept between shards; the image list is read once per job.
/// </summary>
internal sealed class ShardScorer(ScoringSiloOptions options, ILogger<ShardScorer> log)
{
    private readonly MLContext ml = new(0);
    private string? modelSha;
    private IReadOnlyList<string> classes = [];
    private (ITransformer Pipeline, MLNet.OnnxImageTransformer Scorer) scoring;
    private string? imagesJob;
    private string[] images = [];

    /// <summary>Scores a leased shard and writes its result file; <paramref name="abandoned"/> stops it before the write.</summary>
    public async Task<ShardResult> ScoreAsync(ShardLease lease, IScoringJobGrain job, CancellationToken abandoned)
    {
        var spec = lease.Spec;
        await EnsureModel(spec, job);
        if (imagesJob != spec.JobId)
        {
            images = JobFiles.ReadImageList(spec);
            imagesJob = spec.JobId;
        }
        var slice = new ArraySegment<string>(images, lease.Start, lease.Count);
        var run = await Task.Run(() => ImageScoring.Score(ml, scoring, classes, slice), abandoned);
        abandoned.ThrowIfCancellationRequested();
        JobFiles.WriteShard(spec, lease.Shard, run.Images);
        return new ShardResult
        {
            Scored = run.Images.Count, Seconds = run.Seconds,
            Skipped = run.BadImages.Select(b => new SkippedImage { Image = b.Image, Reason = b.Reason }).ToList(),
        };
    }

    private async Task EnsureModel(JobSpec spec, IScoringJobGrain job)
    {
        // Batch size and base folder are per job too: rebuild the scoring pipeline when they change.
        string key = $"{spec.ModelSha256}|{spec.BatchSize}|{spec.BaseFolder}";
        if (modelSha == key) return;
        var zip = await job.GetModelAsync();
        string sha = Convert.ToHexStringLower(SHA256.HashData(zip));
        if (sha != spec.ModelSha256)
            throw new InvalidDataException($"The model received for job {spec.JobId} has SHA-256 {sha}, not {spec.ModelSha256}.");
        using var stream = new MemoryStream(zip);
        var model = ModelZip.Load(ml, stream, $"job {spec.JobId} model", $"The model of job {spec.JobId}");
        scoring = model.WithScoring(spec.BatchSize > 0 ? spec.BatchSize : null, options.Threads, spec.BaseFolder.Length > 0 ? spec.BaseFolder : null);
        classes = model.Classes;
        modelSha = key;
        log.LogInformation("Loaded the model of job {Job} ({Bytes} bytes, {Classes} classes)", spec.JobId, zip.Length, classes.Count);
    }
}
