namespace EfficientCnn.Cli.Reports;

/// <summary>One training epoch. Accuracies are fractions in [0, 1]; validation figures are null when not measured.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean training loss over the epoch.</param>
/// <param name="TrainAccuracy">Training accuracy (fraction).</param>
/// <param name="ValidationLoss">Validation loss, or null when the epoch was not validated.</param>
/// <param name="ValidationAccuracy">Validation accuracy (fraction), or null when the epoch was not validated.</param>
/// <param name="LearningRate">Learning rate in force during the epoch.</param>
/// <param name="Seconds">Wall-clock seconds the epoch took.</param>
public sealed record EpochRecord(
    int Epoch, double TrainLoss, double TrainAccuracy, double? ValidationLoss, double? ValidationAccuracy,
    double LearningRate, double Seconds);

/// <summary>Precision and recall (fractions in [0, 1]) of one class, with its number of true examples.</summary>
/// <param name="Label">Class name.</param>
/// <param name="Precision">Share of the images predicted as this class that truly are.</param>
/// <param name="Recall">Share of this class's images predicted correctly.</param>
/// <param name="Support">How many evaluated images truly belong to the class.</param>
public sealed record ClassMetrics(string Label, double Precision, double Recall, int Support);

/// <summary>An evaluated image the model got wrong.</summary>
/// <param name="ImagePath">The image file (drawn as a thumbnail; an unreadable one becomes a grey tile).</param>
/// <param name="TrueLabel">Its true class.</param>
/// <param name="PredictedLabel">The class the model chose.</param>
/// <param name="Score">The model's score (probability) for the predicted class.</param>
public sealed record Misclassified(string ImagePath, string TrueLabel, string PredictedLabel, double Score);

/// <summary>One candidate of a model search, e.g. a backbone and training mode.</summary>
/// <param name="Name">Candidate name.</param>
/// <param name="Backbone">Backbone variant.</param>
/// <param name="Mode">Training mode (e.g. linear probe, fine-tune).</param>
/// <param name="ValidationAccuracy">Validation accuracy (fraction in [0, 1]).</param>
/// <param name="LatencyMs">Measured inference latency in milliseconds.</param>
/// <param name="Seconds">Training wall-clock seconds.</param>
/// <param name="MeetsLatency">Whether the latency is within the requested budget.</param>
public sealed record LeaderboardEntry(
    string Name, string Backbone, string Mode, double ValidationAccuracy, double LatencyMs, double Seconds, bool MeetsLatency);

/// <summary>Everything a training or evaluation report shows. Empty sections are left out of the report.</summary>
public sealed record ReportData
{
    /// <summary>Page and chart title, e.g. the run or model name.</summary>
    public string Title { get; init; } = "efficientcnn report";

    /// <summary>Class names in label order; they name the confusion matrix rows and columns.</summary>
    public IReadOnlyList<string> Classes { get; init; } = [];

    /// <summary>Per-epoch training history, in order.</summary>
    public IReadOnlyList<EpochRecord> History { get; init; } = [];

    /// <summary>Counts with rows = true class and columns = predicted class, both in <see cref="Classes"/> order; null when not evaluated.</summary>
    public long[,]? ConfusionMatrix { get; init; }

    /// <summary>Per-class precision and recall.</summary>
    public IReadOnlyList<ClassMetrics> PerClass { get; init; } = [];

    /// <summary>Wrongly classified images; the picture shows the first 24.</summary>
    public IReadOnlyList<Misclassified> Misclassified { get; init; } = [];

    /// <summary>Candidates of a model search.</summary>
    public IReadOnlyList<LeaderboardEntry> Leaderboard { get; init; } = [];

    /// <summary>Key figures shown first, in order (accuracy, log-loss, images/s, ...), already formatted.</summary>
    public IReadOnlyDictionary<string, string> Summary { get; init; } = new Dictionary<string, string>();
}
