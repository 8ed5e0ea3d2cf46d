using System.Diagnostics;
using System.Globalization;
using EfficientCnn.Backbones.Training;

namespace EfficientCnn.Cli.Terminal;

/// <summary>
/// Throughput and remaining time of a training run from its "train" progress reports. The rate is measured on this
/// process's wall clock from the first report on (validation and checkpoints included, start-up and the epochs of an
/// earlier run before a resume excluded), so the remaining time covers everything the run still has to do.
/// </summary>
internal sealed class TrainingEta(int epochs)
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private TimeSpan firstReportAt, lastReportAt;
    private long imagesAtFirstReport, imagesOfEarlierEpochs;

    /// <summary>Epochs of the whole run (a time budget sets them after the first epoch).</summary>
    public int Epochs { get => epochs; set => epochs = value; }

    /// <summary>The 1-based epoch in progress (0 before the first report).</summary>
    public int Epoch { get; private set; }

    /// <summary>Images trained on in the current epoch.</summary>
    public int Done { get; private set; }

    /// <summary>Training images per epoch.</summary>
    public int PerEpoch { get; private set; }

    /// <summary>Images of the whole run (every epoch).</summary>
    public long TotalImages => (long)epochs * PerEpoch;

    /// <summary>Images of the whole run done, counting the epochs before the current one as complete.</summary>
    public long ImagesDone => (long)(Epoch - 1) * PerEpoch + Done;

    /// <summary>Training images per second of wall time from the first report to the last, or null before two reports.</summary>
    /// <remarks>Measured up to the last report, not to now, so it holds steady between batches.</remarks>
    public double? ImagesPerSecond
    {
        get
        {
            double seconds = (lastReportAt - firstReportAt).TotalSeconds;
            long images = imagesOfEarlierEpochs + Done - imagesAtFirstReport;
            return Epoch == 0 || images <= 0 || seconds <= 0 ? null : images / seconds;
        }
    }

    /// <summary>Time left at the current rate (counting down between reports), or null while unknown.</summary>
    public TimeSpan? Remaining => ImagesPerSecond is { } rate
        ? TimeSpan.FromSeconds(Math.Max(0, Math.Max(0, TotalImages - ImagesDone) / rate - (clock.Elapsed - lastReportAt).TotalSeconds))
        : null;

    /// <summary>Takes a "train" report of <see cref="TrainingProgress"/>.</summary>
    public void Update(TrainingProgress progress)
    {
        if (progress.Epoch != Epoch && Epoch != 0) imagesOfEarlierEpochs += Done;
        if (Epoch == 0)
        {
            firstReportAt = clock.Elapsed;
            imagesAtFirstReport = progress.Done;
        }
        (Epoch, Done, PerEpoch) = (progress.Epoch, progress.Done, progress.Total);
        lastReportAt = clock.Elapsed;
    }

    /// <summary>"85 img/s, eta 0:12:34" (or "eta ?" before the rate is known).</summary>
    public string RateAndRemaining() =>
        (ImagesPerSecond is { } rate ? string.Create(CultureInfo.InvariantCulture, $"{rate:F0} img/s, ") : "") + $"eta {Clock(Remaining)}";

    /// <summary>A duration as h:mm:ss (hours beyond a day included), or "?" when unknown.</summary>
    public static string Clock(TimeSpan? time) =>
        time is { } t ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}") : "?";
}
