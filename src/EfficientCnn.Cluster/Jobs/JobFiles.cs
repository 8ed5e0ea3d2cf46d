using System.Text;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.MLNet.Scoring;

namespace EfficientCnn.Cluster.Jobs;

/// <summary>
/// A job's files on storage every machine sees: the work folder next to the output holds <c>images.txt</c> (the image
/// list, one path a line, as the CSV will show them) and one result file per shard. Every file is written to a temporary
/// name and renamed into place, so a reader sees a whole file or none, whoever was killed while writing.
/// </summary>
public static class JobFiles
{
    /// <summary>The work folder of a job writing <paramref name="output"/>.</summary>
    public static string WorkFolder(string output, string jobId) => $"{Path.GetFullPath(output)}.job-{jobId}";

    /// <summary>The image list.</summary>
    public static string ImageList(JobSpec spec) => Path.Combine(spec.WorkFolder, "images.txt");

    /// <summary>The result file of a shard: CSV rows without the header, in image order.</summary>
    public static string ShardFile(JobSpec spec, int shard) => Path.Combine(spec.WorkFolder, $"shard-{shard:D6}.csv");

    /// <summary>Writes the image list unless it is already there (a re-attaching client finds it).</summary>
    public static void WriteImageList(string workFolder, IReadOnlyList<string> images)
    {
        string path = Path.Combine(workFolder, "images.txt");
        if (File.Exists(path)) return;
        var text = new StringBuilder();
        foreach (var image in images)
        {
            if (image.Contains('\n') || image.Contains('\r'))
                throw new ArgumentException($"Image path '{image}' holds a line break; the cluster's image list is one path a line.", nameof(images));
            text.Append(image).Append('\n');
        }
        OnnxExporter.WriteAtomically(path, Encoding.UTF8.GetBytes(text.ToString()));
    }

    /// <summary>Reads the image list.</summary>
    public static string[] ReadImageList(JobSpec spec)
    {
        var images = File.ReadAllLines(ImageList(spec), Encoding.UTF8);
        if (images.Length != spec.ImageCount)
            throw new InvalidDataException($"'{ImageList(spec)}' lists {images.Length} images; job {spec.JobId} has {spec.ImageCount}.");
        return images;
    }

    /// <summary>
    /// Writes a shard's rows, once: when the file is already there (a worker whose lease expired finished it after
    /// all), it is left alone; both would hold the same rows. Returns false then.
    /// </summary>
    public static bool WriteShard(JobSpec spec, int shard, IEnumerable<ScoredImage> images)
    {
        string path = ShardFile(spec, shard);
        if (File.Exists(path)) return false;
        var text = new StringBuilder();
        foreach (var image in images) text.Append(PredictionCsv.Row(image)).Append('\n');
        OnnxExporter.WriteAtomically(path, Encoding.UTF8.GetBytes(text.ToString()));
        return true;
    }

    /// <summary>
    /// Writes the output CSV (header, then every shard's rows in shard order: the image list's order, as local
    /// predict) through a temporary file renamed into place; checks each shard holds the rows the job recorded.
    /// </summary>
    public static void Merge(JobSpec spec, IReadOnlyList<int> scoredPerShard, string output)
    {
        string full = Path.GetFullPath(output);
        string tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var writer = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                writer.Write(Encoding.UTF8.GetBytes(PredictionCsv.Header + "\n"));
                for (int shard = 0; shard < spec.ShardCount; shard++)
                {
                    var bytes = File.ReadAllBytes(ShardFile(spec, shard));
                    int rows = bytes.Count(b => b == (byte)'\n');
                    if (rows != scoredPerShard[shard])
                        throw new InvalidDataException($"'{ShardFile(spec, shard)}' holds {rows} rows; the job recorded {scoredPerShard[shard]}.");
                    writer.Write(bytes);
                }
                writer.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
