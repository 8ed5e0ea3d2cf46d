using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Training;

namespace EfficientCnn.Backbones.Search;

/// <summary>
/// The search's proxy task (MNASNet trains every sampled model for 5 epochs on a proxy task, Tan et al. 2019, Section 5):
/// each architecture is trained from scratch with the training engine (<see cref="ClassifierTrainer"/>) on part of the
/// user's training images, at a reduced resolution, and scored on the held-out rest. The data's test split is never used.
/// Defaults: 10 epochs at 112 px. MNASNet's 5 epochs are many steps on ImageNet but ~45 on a few hundred images: on
/// stellarium (292 training images) 5 epochs at 64 or 112 px ranked ten architectures at Spearman ρ = 0.30 / −0.06
/// against their full-training accuracy, 10 epochs at 112 px at ρ = 0.96 (docs/search-study.md).
/// </summary>
public sealed class ProxyTrainingAccuracy : IProxyAccuracy
{
    /// <summary>Reads the training images and splits off the held-out part.</summary>
    /// <param name="data">A folder of class folders, optionally with a <c>split.csv</c> (path,label,split; only <c>train</c>
    /// rows are used), or such a CSV file.</param>
    /// <param name="resolution">Proxy training resolution (≥ 32).</param>
    /// <param name="options">Training settings; default 10 epochs of AdamW, all parameters trained.</param>
    /// <param name="validationFraction">Share of each class held out to score architectures.</param>
    /// <exception cref="ArgumentException">Bad resolution or fraction (ParamName names it).</exception>
    public ProxyTrainingAccuracy(string data, int resolution = 112, ClassifierTrainingOptions? options = null, double validationFraction = 0.2)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(data);
        if (resolution < 32) throw new ArgumentException($"proxy resolution must be >= 32, got {resolution}.", "proxyResolution");
        Options = (options ?? new ClassifierTrainingOptions { Epochs = 10, EarlyStoppingPatience = null }) with
        {
            Scope = TrainScope.All,
            CheckpointDirectory = null,
            // A few epochs from scratch leave eval-mode statistics far behind the weights: without re-estimating them
            // every architecture scored the majority class (45.2 % on stellarium) and the search had no signal.
            BatchNormRecalibrationBatches = 16,
        };
        var all = LoadTrainingImages(data);
        (Train, Validation) = all.EnsureTrainable().StratifiedSplit(validationFraction, Options.Seed);
        Preprocessing = PreprocessingSpec.ImageNet(resolution);
    }

    /// <summary>The <c>train</c> rows of a split CSV (a folder's <c>split.csv</c> or the file given), else every image.</summary>
    private static ImageDataset LoadTrainingImages(string data)
    {
        string csv = Directory.Exists(data) ? Path.Combine(data, "split.csv") : data;
        if (!File.Exists(csv) || !csv.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)) return ImageDataset.FromFolder(data);
        bool hasSplit = CsvTable.Read(csv).Column("split") >= 0;
        return ImageDataset.FromCsv(csv, split: hasSplit ? "train" : null);
    }

    /// <summary>Training settings of every proxy run.</summary>
    public ClassifierTrainingOptions Options { get; }

    /// <summary>Images the architectures train on.</summary>
    public ImageDataset Train { get; }

    /// <summary>Held-out images that score them.</summary>
    public ImageDataset Validation { get; }

    /// <summary>Proxy resolution and normalisation.</summary>
    public PreprocessingSpec Preprocessing { get; }

    /// <summary>Class names, in label order.</summary>
    public IReadOnlyList<string> Classes => Train.Classes;

    /// <inheritdoc />
    public double Accuracy(ArchitectureSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return Accuracy(() => new SearchedNetwork(spec with { Resolution = Math.Max(Preprocessing.Resolution, spec.MinInputSize) }, numClasses: 0),
            cancellationToken);
    }

    /// <summary>Proxy accuracy of any feature extractor (e.g. a zoo variant built with 0 classes, for comparison).</summary>
    /// <returns>Held-out accuracy after the last epoch.</returns>
    /// <exception cref="OperationCanceledException">The token fired during training.</exception>
    public double Accuracy(Func<Backbone> buildFeatureExtractor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(buildFeatureExtractor);
        // The trainer seeds libtorch only after the network exists: without this, an architecture's initial weights
        // depended on what the previous proxy runs drew, so a resumed search (fresh process) or the same architecture
        // sampled twice started from different weights.
        TorchSharp.torch.random.manual_seed(Options.Seed);
        var backbone = buildFeatureExtractor();
        TrainingResult result;
        try
        {
            result = new ClassifierTrainer(Options).Train(backbone, Preprocessing, Train, Validation, cancellationToken);
        }
        catch
        {
            backbone.Dispose();
            throw;
        }
        using var model = result.Model;   // wraps (and disposes) the backbone
        if (result.Cancelled) throw new OperationCanceledException("Proxy training was cancelled.", cancellationToken);
        return result.History[^1].ValidationAccuracy
               ?? throw new InvalidOperationException("The proxy training reported no validation accuracy.");
    }
}
