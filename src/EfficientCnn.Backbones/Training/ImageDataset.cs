using System.Globalization;
using EfficientCnn.Backbones.Imaging;

namespace EfficientCnn.Backbones.Training;

/// <summary>One training example: an image and the index of its class in <see cref="ImageDataset.Classes"/>.</summary>
/// <param name="Image">The image (file, encoded bytes or pixels).</param>
/// <param name="Label">Class index, 0-based.</param>
public sealed record LabeledImage(ImageInput Image, int Label);

/// <summary>
/// A labelled image collection: class names plus (image, class index) items. Images are referenced, not loaded, so a
/// dataset of any size costs a few bytes per item; the <see cref="ImageBatchLoader"/> decodes them batch by batch.
/// </summary>
public sealed class ImageDataset
{
    /// <summary>File extensions read from class folders (case-insensitive).</summary>
    public static IReadOnlyList<string> ImageExtensions => ImageFiles.Extensions;

    /// <summary>Creates a dataset; every label must index <paramref name="classes"/>.</summary>
    /// <param name="classes">Class names; item labels index this list.</param>
    /// <param name="items">The examples.</param>
    /// <param name="source">Where the data came from (a folder, a file), used in error messages.</param>
    public ImageDataset(IReadOnlyList<string> classes, IReadOnlyList<LabeledImage> items, string source)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(items);
        Classes = classes.ToArray();
        Items = items.ToArray();
        Source = source;
        for (int i = 0; i < Items.Count; i++)
            if (Items[i].Label < 0 || Items[i].Label >= Classes.Count)
                throw new ArgumentException($"{source}: item {i} ('{Items[i].Image.Name}') has label {Items[i].Label}, outside the {Classes.Count} classes.", nameof(items));
    }

    /// <summary>Class names in label order.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>The examples.</summary>
    public IReadOnlyList<LabeledImage> Items { get; }

    /// <summary>Where the data came from, for messages.</summary>
    public string Source { get; }

    /// <summary>Number of examples.</summary>
    public int Count => Items.Count;

    /// <summary>Examples per class, in class order.</summary>
    public int[] ClassCounts()
    {
        var counts = new int[Classes.Count];
        foreach (var item in Items) counts[item.Label]++;
        return counts;
    }

    /// <summary>
    /// Reads a folder of class folders (<c>DIR/cat/1.png</c>, <c>DIR/dog/2.jpg</c>): the folder names, sorted ordinally,
    /// are the classes; files with an <see cref="ImageExtensions"/> extension are the images.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">No class folders, or a class folder without images (named).</exception>
    public static ImageDataset FromFolder(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Image folder '{directory}' does not exist.");
        var classDirs = Directory.GetDirectories(directory).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal).ToArray();
        if (classDirs.Length == 0)
            throw new InvalidDataException($"'{directory}' has no class folders: expected one sub-folder per class (e.g. {directory}/cat/1.png).");
        var classes = classDirs.Select(Path.GetFileName).ToArray();
        var items = new List<LabeledImage>();
        for (int c = 0; c < classDirs.Length; c++)
        {
            var files = ImageFiles.Under(classDirs[c]);
            if (files.Length == 0)
                throw new InvalidDataException($"Class folder '{classDirs[c]}' holds no images ({string.Join(", ", ImageExtensions)}).");
            items.AddRange(files.Select(f => new LabeledImage(ImageInput.FromFile(f), c)));
        }
        return new ImageDataset(classes!, items, directory);
    }

    /// <summary>
    /// Reads a CSV with a header holding the columns <c>path</c> and <c>label</c> (and optionally <c>split</c>, as
    /// written by shared/datasets/build.py). Relative paths are resolved against <paramref name="imageRoot"/> (default:
    /// the CSV's folder). Classes are the distinct labels, sorted ordinally.
    /// </summary>
    /// <param name="csvPath">The CSV file.</param>
    /// <param name="imageRoot">Folder relative paths start from.</param>
    /// <param name="split">Keep only rows whose <c>split</c> column equals this (e.g. "train"); null keeps all.</param>
    /// <exception cref="InvalidDataException">A missing column or a malformed row (file and line named).</exception>
    public static ImageDataset FromCsv(string csvPath, string? imageRoot = null, string? split = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(csvPath);
        var table = CsvTable.Read(csvPath);
        if (table.Header.Count == 0) throw new InvalidDataException($"CSV file '{csvPath}' is empty: expected a header 'path,label'.");
        int pathCol = table.Column("path"), labelCol = table.Column("label"), splitCol = table.Column("split");
        if (pathCol < 0 || labelCol < 0)
            throw new InvalidDataException($"CSV file '{csvPath}' line 1: the header must name the columns 'path' and 'label', got '{string.Join(",", table.Header)}'.");
        if (split is not null && splitCol < 0)
            throw new InvalidDataException($"CSV file '{csvPath}' has no 'split' column to select split '{split}' from.");
        string root = imageRoot ?? Path.GetDirectoryName(Path.GetFullPath(csvPath))!;
        var rows = new List<(string Path, string Label)>();
        foreach (var (line, fields) in table.Rows)
        {
            if (fields.Count < table.Header.Count)
                throw new InvalidDataException($"CSV file '{csvPath}' line {line}: {fields.Count} fields, the header has {table.Header.Count}.");
            if (split is not null && fields[splitCol].Trim() != split) continue;
            string path = fields[pathCol].Trim(), label = fields[labelCol].Trim();
            if (path.Length == 0 || label.Length == 0)
                throw new InvalidDataException($"CSV file '{csvPath}' line {line}: empty path or label.");
            rows.Add((Path.IsPathRooted(path) ? path : Path.Combine(root, path), label));
        }
        var classes = rows.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        return new ImageDataset(classes, rows.Select(r => new LabeledImage(ImageInput.FromFile(r.Path), index[r.Label])).ToArray(),
            split is null ? csvPath : $"{csvPath} (split {split})");
    }

    /// <summary>
    /// Reads whatever <paramref name="path"/> is: a CSV file (see <see cref="FromCsv"/>), a folder holding MNIST-style IDX
    /// files (<c>train-images-idx3-ubyte[.gz]</c> + labels, or <c>t10k-*</c> for <paramref name="split"/> "test"), or a
    /// folder of class folders.
    /// </summary>
    public static ImageDataset Load(string path, string? split = null)
    {
        if (File.Exists(path) && path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)) return FromCsv(path, split: split);
        if (Directory.Exists(path) && FindIdx(path, split == "test" ? "t10k" : "train") is var (images, labels))
        {
            bool fashion = path.Contains("fashion", StringComparison.OrdinalIgnoreCase);
            return IdxDataset.Load(images, labels, fashion ? IdxDataset.FashionMnistClasses : null);
        }
        return FromFolder(path);
    }

    private static (string Images, string Labels)? FindIdx(string directory, string prefix)
    {
        foreach (var suffix in new[] { "", ".gz" })
        {
            string images = Path.Combine(directory, $"{prefix}-images-idx3-ubyte{suffix}"), labels = Path.Combine(directory, $"{prefix}-labels-idx1-ubyte{suffix}");
            if (File.Exists(images) && File.Exists(labels)) return (images, labels);
        }
        return null;
    }

    /// <summary>The examples at <paramref name="indices"/>, with the same classes.</summary>
    public ImageDataset Subset(IEnumerable<int> indices, string? source = null) =>
        new(Classes, indices.Select(i => Items[i]).ToArray(), source ?? Source);

    /// <summary>
    /// Splits off a validation set: about <paramref name="fraction"/> of each class (at least one image of every class
    /// with two or more), chosen with <paramref name="seed"/>. Deterministic.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="fraction"/> outside (0, 1).</exception>
    public (ImageDataset Train, ImageDataset Validation) StratifiedSplit(double fraction, int seed)
    {
        if (!(fraction > 0 && fraction < 1))
            throw new ArgumentException($"The validation fraction must be in (0, 1), got {fraction.ToString(CultureInfo.InvariantCulture)}.", nameof(fraction));
        var rng = new Random(seed);
        var train = new List<int>();
        var validation = new List<int>();
        foreach (var group in Enumerable.Range(0, Count).GroupBy(i => Items[i].Label))
        {
            var members = group.ToArray();
            rng.Shuffle(members);
            int take = members.Length < 2 ? 0 : Math.Clamp((int)Math.Round(members.Length * fraction), 1, members.Length - 1);
            validation.AddRange(members.Take(take));
            train.AddRange(members.Skip(take));
        }
        train.Sort();
        validation.Sort();
        return (Subset(train, $"{Source} (train part)"), Subset(validation, $"{Source} (validation part)"));
    }

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> when the data cannot train a classifier: no images, or fewer than two
    /// classes with images.
    /// </summary>
    public ImageDataset EnsureTrainable()
    {
        if (Count == 0)
            throw new InvalidDataException($"{Source}: no images to train on.");
        var present = ClassCounts().Select((n, c) => (n, c)).Where(p => p.n > 0).Select(p => Classes[p.c]).ToArray();
        if (present.Length < 2)
            throw new InvalidDataException($"{Source}: only one class ('{present[0]}') has images; a classifier needs at least two.");
        return this;
    }
}
