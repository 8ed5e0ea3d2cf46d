using System.Globalization;
using EfficientCnn.Backbones.Imaging;

namespace EfficientCnn.Backbones.Training;

/// <summary>One training example: an image and the index of its class in <see cref="ImageDataset.Classes"/>.</summary>
/// <param name="Image">The image (file, encoded bytes or pixels).</param>
/// <param name="Label">Class index, 0-based.</param>
/// <param name="Group">
/// Images sharing a group (frames of one sprite, photos of one object or patient) stay on the same side of a
/// validation split, so validation measures images of things never trained on; null for an image on its own.
/// </param>
public sealed record LabeledImage(ImageInput Image, int Label, string? Group = null);

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
    /// written by shared/datasets/build.py, and <c>group</c>: see <see cref="LabeledImage.Group"/>). Relative paths are resolved against <paramref name="imageRoot"/> (default:
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
        int pathCol = table.Column("path"), labelCol = table.Column("label"), splitCol = table.Column("split"), groupCol = table.Column("group");
        if (pathCol < 0 || labelCol < 0)
            throw new InvalidDataException($"CSV file '{csvPath}' line 1: the header must name the columns 'path' and 'label', got '{string.Join(",", table.Header)}'.");
        if (split is not null && splitCol < 0)
            throw new InvalidDataException($"CSV file '{csvPath}' has no 'split' column to select split '{split}' from.");
        string root = imageRoot ?? Path.GetDirectoryName(Path.GetFullPath(csvPath))!;
        var rows = new List<(string Path, string Label, string? Group)>();
        foreach (var (line, fields) in table.Rows)
        {
            if (fields.Count < table.Header.Count)
                throw new InvalidDataException($"CSV file '{csvPath}' line {line}: {fields.Count} fields, the header has {table.Header.Count}.");
            if (split is not null && fields[splitCol].Trim() != split) continue;
            string path = fields[pathCol].Trim(), label = fields[labelCol].Trim();
            if (path.Length == 0 || label.Length == 0)
                throw new InvalidDataException($"CSV file '{csvPath}' line {line}: empty path or label.");
            string? group = groupCol < 0 || fields[groupCol].Trim().Length == 0 ? null : fields[groupCol].Trim();
            rows.Add((Path.IsPathRooted(path) ? path : Path.Combine(root, path), label, group));
        }
        var classes = rows.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        return new ImageDataset(classes, rows.Select(r => new LabeledImage(ImageInput.FromFile(r.Path), index[r.Label], r.Group)).ToArray(),
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
    /// with two or more), chosen with <paramref name="seed"/>. Images of one <see cref="LabeledImage.Group"/> go to the
    /// same side (a group counts for the class most of its images have), as ML.NET's <c>samplingKeyColumnName</c> does,
    /// so near-copies cannot sit on both sides; without groups every image is its own group. Deterministic.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="fraction"/> outside (0, 1).</exception>
    public (ImageDataset Train, ImageDataset Validation) StratifiedSplit(double fraction, int seed)
    {
        if (!(fraction > 0 && fraction < 1))
            throw new ArgumentException($"The validation fraction must be in (0, 1), got {fraction.ToString(CultureInfo.InvariantCulture)}.", nameof(fraction));
        var rng = new Random(seed);
        var train = new List<int>();
        var validation = new List<int>();
        foreach (var perClass in SplitUnits().GroupBy(unit => unit.Label))
        {
            var units = perClass.ToArray();
            rng.Shuffle(units);
            int images = units.Sum(u => u.Members.Length);
            int target = images < 2 ? 0 : Math.Clamp((int)Math.Round(images * fraction), 1, images - 1);
            int taken = 0, unitsTaken = 0;
            foreach (var unit in units)
            {
                // A unit joins validation when that brings the count closer to the target; the last unit always trains.
                bool closer = Math.Abs(taken + unit.Members.Length - target) < Math.Abs(taken - target);
                if (closer && unitsTaken < units.Length - 1)
                {
                    validation.AddRange(unit.Members);
                    taken += unit.Members.Length;
                    unitsTaken++;
                }
                else train.AddRange(unit.Members);
            }
        }
        train.Sort();
        validation.Sort();
        return (Subset(train, $"{Source} (train part)"), Subset(validation, $"{Source} (validation part)"));
    }

    /// <summary>The units a split moves whole: each group, each image without one; labelled by their commonest class.</summary>
    private IEnumerable<(int Label, int[] Members)> SplitUnits()
    {
        var groups = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var units = new List<List<int>>();
        for (int i = 0; i < Count; i++)
        {
            if (Items[i].Group is not { } key) { units.Add([i]); continue; }
            if (!groups.TryGetValue(key, out var members)) units.Add(groups[key] = members = []);
            members.Add(i);
        }
        return units.Select(members => (members.GroupBy(i => Items[i].Label).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key, members.ToArray()));
    }

    /// <summary>
    /// The same images with <see cref="LabeledImage.Group"/> set from their file names: the first capture group of
    /// <paramref name="pattern"/> (or the whole match when it has none); an image whose name does not match is a group
    /// of its own. E.g. <c>^[^-]+</c> groups <c>arbiter-blade-s-4.png</c> with every other <c>arbiter-*</c> frame.
    /// </summary>
    /// <exception cref="ArgumentException">The pattern matches none of the file names (one is named).</exception>
    public ImageDataset WithGroups(System.Text.RegularExpressions.Regex pattern, string option = "group pattern")
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var items = Items.Select(item =>
        {
            var match = pattern.Match(Path.GetFileName(item.Image.Name));
            string? key = !match.Success ? null : match.Groups.Count > 1 && match.Groups[1].Success ? match.Groups[1].Value : match.Value;
            return item with { Group = key };
        }).ToArray();
        if (Count > 0 && items.All(i => i.Group is null))
            throw new ArgumentException($"The {option} '{pattern}' matches none of the {Count} file names in {Source} (e.g. '{Path.GetFileName(Items[0].Image.Name)}').", nameof(pattern));
        return new ImageDataset(Classes, items, Source);
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
