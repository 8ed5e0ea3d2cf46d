using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientCnn.MLNet.Search;

/// <summary>Settings of <see cref="ImageFolderProxyAccuracy"/>.</summary>
/// <param name="Resolution">Training and validation image size (small: the proxy ranks architectures, it does not finish them).</param>
/// <param name="Epochs">Passes over the proxy-training images (MNASNet trains each sample 5 epochs, Section 5).</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="LearningRate">AdamW learning rate.</param>
/// <param name="ValidationFraction">Share of each class's training images held out to score the architecture.</param>
/// <param name="Seed">Seed of the split, the initialisation and the batch order (the same for every architecture).</param>
public sealed record ProxyTrainingSettings(int Resolution = 64, int Epochs = 5, int BatchSize = 32, double LearningRate = 3e-3,
    double ValidationFraction = 0.2, int Seed = 0)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting at fault.</summary>
    public ProxyTrainingSettings Validate()
    {
        if (Resolution < 32) throw new ArgumentException($"proxy resolution must be >= 32, got {Resolution}.", "proxyResolution");
        if (Epochs < 1) throw new ArgumentException($"proxy epochs must be >= 1, got {Epochs}.", "proxyEpochs");
        if (BatchSize < 2) throw new ArgumentException($"proxy batch size must be >= 2, got {BatchSize}.", "proxyBatch");
        if (!(LearningRate > 0)) throw new ArgumentException($"proxy learning rate must be > 0, got {LearningRate}.", "proxyLr");
        if (!(ValidationFraction > 0 && ValidationFraction < 1))
            throw new ArgumentException($"validation fraction must be in (0, 1), got {ValidationFraction}.", "validationFraction");
        return this;
    }
}

/// <summary>
/// The search's proxy task on the user's images: a folder of class folders (with an optional <c>split.csv</c> of
/// <c>path,label,split</c>, whose <c>test</c> rows are never touched), decoded once at a small resolution; each
/// architecture is trained from scratch for a few epochs with AdamW on part of the training images and scored on the
/// held-out rest. A deliberately small, self-contained proxy: the training engine's classifier trainer can replace it
/// behind <see cref="IProxyAccuracy"/>.
/// </summary>
public sealed class ImageFolderProxyAccuracy : IProxyAccuracy, IDisposable
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];
    private readonly Tensor trainImages, trainLabels, validationImages, validationLabels;

    /// <summary>Loads and decodes the training images of <paramref name="dataDir"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ArgumentException">Fewer than 2 classes, or a class with fewer than 2 training images (ParamName "data").</exception>
    public ImageFolderProxyAccuracy(string dataDir, ProxyTrainingSettings? settings = null)
    {
        Settings = (settings ?? new ProxyTrainingSettings()).Validate();
        string root = Path.GetFullPath(dataDir);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Data folder not found: {root}");
        var byClass = ListTrainingImages(root);
        if (byClass.Count < 2) throw new ArgumentException($"{root} needs at least 2 class folders with images, found {byClass.Count}.", "data");
        ClassNames = byClass.Keys.ToList();

        var rng = new Random(Settings.Seed);
        var train = new List<(string Path, int Label)>();
        var validation = new List<(string Path, int Label)>();
        int label = 0;
        foreach (var (name, files) in byClass)
        {
            if (files.Count < 2) throw new ArgumentException($"Class '{name}' of {root} has {files.Count} training image(s); the proxy needs at least 2.", "data");
            var shuffled = files.OrderBy(_ => rng.Next()).ToList();
            int held = Math.Clamp((int)Math.Round(files.Count * Settings.ValidationFraction), 1, files.Count - 1);
            int current = label++;
            validation.AddRange(shuffled.Take(held).Select(f => (f, current)));
            train.AddRange(shuffled.Skip(held).Select(f => (f, current)));
        }
        var preprocessor = new ImagePreprocessor(PreprocessingSpec.ImageNet(Settings.Resolution));
        (trainImages, trainLabels) = Decode(preprocessor, train);
        (validationImages, validationLabels) = Decode(preprocessor, validation);
    }

    /// <summary>The settings.</summary>
    public ProxyTrainingSettings Settings { get; }

    /// <summary>Class names (folder names), in label order.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Images used for proxy training.</summary>
    public long TrainCount => trainLabels.shape[0];

    /// <summary>Images held out to score architectures.</summary>
    public long ValidationCount => validationLabels.shape[0];

    /// <inheritdoc />
    public double Accuracy(ArchitectureSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return Accuracy(() => new SearchedNetwork(spec with { Resolution = Math.Max(Settings.Resolution, spec.MinInputSize) }, ClassNames.Count), cancellationToken);
    }

    /// <summary>Proxy accuracy of any backbone (e.g. a zoo variant for comparison); <paramref name="build"/> must give a <see cref="ClassNames"/>-class head.</summary>
    public double Accuracy(Func<Backbone> build, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(build);
        using var scope = NewDisposeScope();
        random.manual_seed(Settings.Seed);
        using var model = build();
        if (model.NumClasses != ClassNames.Count)
            throw new ArgumentException($"The model has {model.NumClasses} classes, the data {ClassNames.Count}.", nameof(build));
        var optimizer = optim.AdamW(model.parameters(), lr: Settings.LearningRate, weight_decay: 1e-4);
        var generator = new Generator((ulong)Settings.Seed);
        long n = TrainCount;
        model.train();
        for (int epoch = 0; epoch < Settings.Epochs; epoch++)
        {
            var order = randperm(n, generator: generator);
            for (long start = 0; start + 1 < n; start += Settings.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var step = NewDisposeScope();
                var index = order.narrow(0, start, Math.Min(Settings.BatchSize, n - start));
                var x = trainImages.index_select(0, index);
                // Horizontal flips, the one augmentation that suits any photo or drawing.
                var flip = rand(new long[] { x.shape[0], 1, 1, 1 }, generator: generator) < 0.5;
                x = where(flip, x.flip(3), x);
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(model.call(x), trainLabels.index_select(0, index));
                loss.backward();
                optimizer.step();
            }
        }
        model.eval();
        long correct = 0;
        using (no_grad())
        {
            for (long start = 0; start < ValidationCount; start += Settings.BatchSize)
            {
                using var step = NewDisposeScope();
                long count = Math.Min(Settings.BatchSize, ValidationCount - start);
                var predicted = model.call(validationImages.narrow(0, start, count)).argmax(1);
                correct += (predicted == validationLabels.narrow(0, start, count)).sum().item<long>();
            }
        }
        return (double)correct / ValidationCount;
    }

    /// <summary>Training images per class folder: <c>split.csv</c>'s <c>train</c> rows when present, else every image.</summary>
    private static SortedDictionary<string, List<string>> ListTrainingImages(string root)
    {
        var byClass = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        string splitFile = Path.Combine(root, "split.csv");
        if (File.Exists(splitFile))
        {
            foreach (var line in File.ReadLines(splitFile).Skip(1).Where(l => l.Length > 0))
            {
                var cells = line.Split(',');
                if (cells.Length < 3) throw new InvalidDataException($"{splitFile}: expected path,label,split, got '{line}'.");
                if (cells[2].Trim() != "train") continue;
                string label = cells[1].Trim();
                (byClass.TryGetValue(label, out var list) ? list : byClass[label] = []).Add(Path.Combine(root, cells[0].Trim()));
            }
            return byClass;
        }
        foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            var files = Directory.GetFiles(dir).Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .Order(StringComparer.Ordinal).ToList();
            if (files.Count > 0) byClass[Path.GetFileName(dir)] = files;
        }
        return byClass;
    }

    private static (Tensor Images, Tensor Labels) Decode(ImagePreprocessor preprocessor, List<(string Path, int Label)> items)
    {
        int length = preprocessor.TensorLength, size = preprocessor.Spec.Resolution;
        var data = new float[items.Count * length];
        Parallel.For(0, items.Count, i => preprocessor.Preprocess(ImageInput.FromFile(items[i].Path), data.AsSpan(i * length, length)));
        var images = tensor(data, new long[] { items.Count, 3, size, size });
        var labels = tensor(items.Select(it => (long)it.Label).ToArray());
        return (images.DetachFromDisposeScope(), labels.DetachFromDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        trainImages.Dispose();
        trainLabels.Dispose();
        validationImages.Dispose();
        validationLabels.Dispose();
    }
}
