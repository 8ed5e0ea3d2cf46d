using System.Text.RegularExpressions;
using EfficientCnn.Cli.Reports;
using NUnit.Framework;
using SkiaSharp;

namespace EfficientCnn.Tests;

public sealed class ReportTests
{
    private static readonly string[] AllPictures =
    [
        ReportWriter.LearningCurvesFile, ReportWriter.ConfusionMatrixFile, ReportWriter.PerClassFile,
        ReportWriter.MisclassifiedFile, ReportWriter.LeaderboardFile,
    ];

    private string root = "";

    [SetUp]
    public void CreateRoot()
    {
        root = Path.Combine(Path.GetTempPath(), "efficientcnn-tests", "report-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
    }

    [TearDown]
    public void DeleteRoot()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    [Test]
    public void FullReportWritesEveryPictureAsAPngAndAnIndexLinkingExactlyThem()
    {
        string dir = Path.Combine(root, "nested", "report"); // created on demand
        var written = ReportWriter.Write(FullData(classCount: 5), dir);

        Assert.That(written.Select(Path.GetFileName), Is.EqualTo(AllPictures.Append(ReportWriter.IndexFile)));
        Assert.That(written.All(File.Exists));
        foreach (string png in written.Where(p => p.EndsWith(".png", StringComparison.Ordinal)))
        {
            var (width, height) = DecodeSize(png);
            Assert.That(width, Is.InRange(400, 2000), Path.GetFileName(png));
            Assert.That(height, Is.InRange(250, 2000), Path.GetFileName(png));
        }
        Assert.That(DecodeSize(Path.Combine(dir, ReportWriter.LearningCurvesFile)).Width,
            Is.GreaterThan(DecodeSize(Path.Combine(dir, ReportWriter.LearningCurvesFile)).Height), "two panels side by side");
        Assert.That(ImageSources(dir), Is.EquivalentTo(AllPictures));
        Assert.That(Directory.GetFiles(dir, "*.tmp"), Is.Empty, "temporary files are moved into place");
    }

    [Test]
    public void HtmlEscapesClassNamesTitleAndSummary()
    {
        var data = FullData(classCount: 3) with
        {
            Title = "run <1> & co",
            Summary = new Dictionary<string, string> { ["accuracy"] = "91.5%", ["note"] = "<script>x</script>" },
        };
        ReportWriter.Write(data, root);
        string html = File.ReadAllText(Path.Combine(root, ReportWriter.IndexFile));

        Assert.That(html, Does.Contain("<title>run &lt;1&gt; &amp; co</title>"));
        Assert.That(html, Does.Contain("<td>&lt;b&gt;&amp;x</td>"), "per-class table row of the class named <b>&x");
        Assert.That(html, Does.Contain("&lt;script&gt;x&lt;/script&gt;"));
        Assert.That(html, Does.Not.Contain("<b>&x"));
        Assert.That(html, Does.Not.Contain("<script>"));
        Assert.That(html, Does.Contain("91.5%"));
    }

    [Test]
    public void EmptySectionsAreLeftOutOfFilesAndPage()
    {
        var onlyHistory = new ReportData { Title = "history only", History = History(3) };
        var written = ReportWriter.Write(onlyHistory, root);

        Assert.That(written.Select(Path.GetFileName), Is.EqualTo(new[] { ReportWriter.LearningCurvesFile, ReportWriter.IndexFile }));
        Assert.That(ImageSources(root), Is.EqualTo(new[] { ReportWriter.LearningCurvesFile }));
        string html = File.ReadAllText(Path.Combine(root, ReportWriter.IndexFile));
        Assert.That(html, Does.Not.Contain("<h2>Leaderboard</h2>").And.Not.Contain("<h2>Per class</h2>").And.Not.Contain("<h2>Summary</h2>"));

        string empty = Path.Combine(root, "empty");
        Assert.That(ReportWriter.Write(new ReportData(), empty).Select(Path.GetFileName), Is.EqualTo(new[] { ReportWriter.IndexFile }));
        Assert.That(ImageSources(empty), Is.Empty);
    }

    [TestCase(2)]
    [TestCase(20)]
    public void ConfusionMatrixRendersForFewAndManyClasses(int classCount)
    {
        var data = new ReportData { Classes = ClassNames(classCount), ConfusionMatrix = Confusion(classCount) };
        var written = ReportWriter.Write(data, root);

        Assert.That(written.Select(Path.GetFileName), Is.EqualTo(new[] { ReportWriter.ConfusionMatrixFile, ReportWriter.IndexFile }));
        var (width, height) = DecodeSize(written[0]);
        // Cells keep a readable size: the picture grows with the class count.
        Assert.That(width, Is.GreaterThanOrEqualTo(classCount * 40));
        Assert.That(height, Is.GreaterThanOrEqualTo(classCount * 40));
    }

    [Test]
    public void ConfusionMatrixThatDoesNotMatchTheClassesIsRejected()
    {
        var data = new ReportData { Classes = ClassNames(3), ConfusionMatrix = Confusion(4) };
        var e = Assert.Throws<ArgumentException>(() => ReportWriter.Write(data, root));
        Assert.That(e!.ParamName, Is.EqualTo("data"));
        Assert.That(e.Message, Does.Contain("4x4").And.Contain("3 classes"));
    }

    [Test]
    public void UnreadableMisclassifiedImagesBecomeGreyTiles()
    {
        string corrupt = Path.Combine(root, "corrupt.png");
        File.WriteAllText(corrupt, "not an image");
        string readable = Path.Combine(root, "ok.png");
        File.WriteAllBytes(readable, TestImages.Png(40, 30));
        var data = new ReportData
        {
            Misclassified =
            [
                new Misclassified(Path.Combine(root, "missing.png"), "cat", "dog", 0.9),
                new Misclassified(corrupt, "dog", "cat", 0.6),
                new Misclassified(readable, "cat", "dog", 0.7),
            ],
        };
        string dir = Path.Combine(root, "report");
        string png = ReportWriter.Write(data, dir)[0];

        using var bitmap = SKBitmap.Decode(png);
        Assert.That(bitmap, Is.Not.Null);
        // Tiles sit left to right under the heading; sample each one's upper-left area, away from the caption text.
        var missingTile = bitmap.GetPixel(30, 70);
        var corruptTile = bitmap.GetPixel(30 + 174, 70);
        var readableTile = bitmap.GetPixel(30 + 2 * 174, 90);
        Assert.That(IsGrey(missingTile) && missingTile.Red < 230, Is.True, $"missing file tile: {missingTile}");
        Assert.That(IsGrey(corruptTile) && corruptTile.Red < 230, Is.True, $"corrupt file tile: {corruptTile}");
        Assert.That(IsGrey(readableTile), Is.False, $"the readable image is drawn: {readableTile}");
    }

    [Test]
    public void UnwritableDirectoryThrowsNamingThePath()
    {
        string file = Path.Combine(root, "a-file");
        File.WriteAllText(file, "x");
        string dir = Path.Combine(file, "report");

        var e = Assert.Throws<IOException>(() => ReportWriter.Write(FullData(classCount: 2), dir));
        Assert.That(e!.Message, Does.Contain(dir));
    }

    [Test]
    public void WritingOverAnExistingReportReplacesIt()
    {
        ReportWriter.Write(FullData(classCount: 4) with { Title = "first" }, root);
        byte[] firstCurves = File.ReadAllBytes(Path.Combine(root, ReportWriter.LearningCurvesFile));

        var second = new ReportData { Title = "second", History = History(7) };
        var written = ReportWriter.Write(second, root);

        Assert.That(written.Select(Path.GetFileName), Is.EqualTo(new[] { ReportWriter.LearningCurvesFile, ReportWriter.IndexFile }));
        Assert.That(File.ReadAllBytes(Path.Combine(root, ReportWriter.LearningCurvesFile)), Is.Not.EqualTo(firstCurves));
        foreach (string stale in AllPictures.Skip(1))
            Assert.That(File.Exists(Path.Combine(root, stale)), Is.False, $"{stale} of the first report is removed");
        string html = File.ReadAllText(Path.Combine(root, ReportWriter.IndexFile));
        Assert.That(html, Does.Contain("<h1>second</h1>").And.Not.Contain("first"));
        Assert.That(Directory.GetFiles(root, "*.tmp"), Is.Empty);
    }

    private ReportData FullData(int classCount)
    {
        var classes = ClassNames(classCount);
        var images = new[]
        {
            Save("rgb.png", TestImages.Png(64, 48)),
            Save("grey.png", Grey(32, 32)),
            Save("rgba.png", RgbaPng(40, 60)),
            Save("photo.jpg", JpegOf(50, 50)),
        };
        return new ReportData
        {
            Title = "sample",
            Classes = classes,
            History = History(5),
            ConfusionMatrix = Confusion(classCount),
            PerClass = classes.Select((c, i) => new ClassMetrics(c, 0.5 + 0.1 * (i % 5), 0.9 - 0.1 * (i % 5), 10 + i)).ToArray(),
            Misclassified = Enumerable.Range(0, 30)
                .Select(i => new Misclassified(images[i % images.Length], classes[i % classCount], classes[(i + 1) % classCount], 0.5 + i / 100.0))
                .ToArray(),
            Leaderboard =
            [
                new LeaderboardEntry("a", "resnet18", "fine-tune", 0.91, 12.5, 300, MeetsLatency: true),
                new LeaderboardEntry("b", "mobilenet_v3_small", "linear-probe", 0.85, 3.1, 60, MeetsLatency: true),
                new LeaderboardEntry("c", "efficientnet_b0", "fine-tune", 0.93, 40.2, 500, MeetsLatency: false),
            ],
            Summary = new Dictionary<string, string> { ["accuracy"] = "90.0%", ["images/s"] = "123" },
        };
    }

    private string Save(string name, byte[] bytes)
    {
        string path = Path.Combine(root, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Class names, the second one needing HTML escaping.</summary>
    private static string[] ClassNames(int count) =>
        Enumerable.Range(0, count).Select(i => i == 1 ? "<b>&x" : $"class {i}").ToArray();

    private static EpochRecord[] History(int epochs) => Enumerable.Range(1, epochs)
        .Select(e => new EpochRecord(e, 2.0 / e, 1 - 0.5 / e, e % 2 == 0 ? 2.2 / e : null, e % 2 == 0 ? 1 - 0.6 / e : null, 0.01, 1.5))
        .ToArray();

    private static long[,] Confusion(int n)
    {
        var m = new long[n, n];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) m[i, j] = i == j ? 50 + i : (i + 2 * j) % 7;
        return m;
    }

    private static byte[] Grey(int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) bitmap.SetPixel(x, y, new SKColor((byte)(x * 8), (byte)(x * 8), (byte)(x * 8)));
        return TestImages.Encode(bitmap);
    }

    private static byte[] RgbaPng(int width, int height)
    {
        using var bitmap = TestImages.Pattern(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        return TestImages.Encode(bitmap);
    }

    private static byte[] JpegOf(int width, int height)
    {
        using var bitmap = TestImages.Pattern(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        return TestImages.Encode(bitmap, SKEncodedImageFormat.Jpeg);
    }

    private static (int Width, int Height) DecodeSize(string png)
    {
        using var codec = SKCodec.Create(png);
        Assert.That(codec, Is.Not.Null, $"{png} decodes");
        Assert.That(codec.EncodedFormat, Is.EqualTo(SKEncodedImageFormat.Png), png);
        using var bitmap = SKBitmap.Decode(codec);
        Assert.That(bitmap, Is.Not.Null, $"{png} decodes");
        return (bitmap.Width, bitmap.Height);
    }

    private static string[] ImageSources(string dir) =>
        Regex.Matches(File.ReadAllText(Path.Combine(dir, ReportWriter.IndexFile)), "<img src=\"([^\"]+)\"")
            .Select(m => m.Groups[1].Value)
            .ToArray();

    private static bool IsGrey(SKColor c) => c.Red == c.Green && c.Green == c.Blue && c.Red < 250;
}
