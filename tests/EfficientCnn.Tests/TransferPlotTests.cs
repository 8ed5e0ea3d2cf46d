using EfficientCnn.Bench;
using NUnit.Framework;
using SkiaSharp;

namespace EfficientCnn.Tests;

/// <summary>The transfer study's results CSV (bench accuracy --results) and its accuracy-vs-latency plot (bench plot-transfer).</summary>
public sealed class TransferPlotTests
{
    private string root = "";

    [SetUp]
    public void CreateRoot()
    {
        root = Path.Combine(Path.GetTempPath(), "efficientcnn-tests", "transfer-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
    }

    [TearDown]
    public void DeleteRoot()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    [Test]
    public void AppendWritesTheHeaderOnceAndReadReturnsEveryRowAsWritten()
    {
        string csv = Path.Combine(root, "nested", "results.csv"); // folder created on demand
        var first = new[] { Row("a", TransferResult.ResNet18Backbone, "mlnet", 60.25), Row("a", "mobilenet_v2_0.5", "scratch", 1.5) };
        var second = new[]
        {
            Row("b", "ecnn_mobilenet_v2_0.5_kd", "featurize", 1.55) with { Epochs = null, Macs = null, Params = null, LogLoss = null, TrainSeconds = null, Note = "from a table, \"quoted\"" },
        };

        TransferResultsCsv.Append(csv, first);
        TransferResultsCsv.Append(csv, second);

        Assert.That(TransferResultsCsv.Read(csv), Is.EqualTo(first.Concat(second)));
        Assert.That(File.ReadLines(csv).Count(l => l == TransferResultsCsv.Header), Is.EqualTo(1));
    }

    [Test]
    public void AFileWithAnotherHeaderOrAMalformedRowIsRefusedNamingTheOption()
    {
        string other = Path.Combine(root, "other.csv");
        File.WriteAllText(other, "name,accuracy\nx,0.5\n");
        var append = Assert.Throws<ArgumentException>(() => TransferResultsCsv.Append(other, [Row("a", "x", "featurize", 1)]));
        Assert.That(append!.ParamName, Is.EqualTo("results"));
        Assert.That(File.ReadAllText(other), Is.EqualTo("name,accuracy\nx,0.5\n"), "left as it was");

        string broken = Path.Combine(root, "broken.csv");
        File.WriteAllLines(broken, [TransferResultsCsv.Header, TransferResultsCsv.Format(Row("a", "x", "featurize", 1)), "2026-01-01,a,x,featurize"]);
        var read = Assert.Throws<ArgumentException>(() => TransferResultsCsv.Read(broken));
        Assert.That(read!.ParamName, Is.EqualTo("results"));
        Assert.That(read.Message, Does.Contain("line 3"));
    }

    [Test]
    public void RenderDrawsOnePanelPerDatasetOrOnlyTheOneAsked()
    {
        var rows = new[]
        {
            Row("stellarium", TransferResult.ResNet18Backbone, "mlnet", 60), Row("stellarium", "ecnn_mobilenet_v2_0.5_kd", "featurize", 1.5),
            Row("stellarium", "mobilenet_v2_0.5", "scratch", 1.8), Row("wesnoth", TransferResult.ResNet18Backbone, "featurize", 61),
            Row("wesnoth", "ecnn_mobilenet_v2_0.5_kd", "finetune", 1.5), Row("wesnoth", "no_latency", "featurize", 1) with { LatencyMs = null },
        };

        var (width, height, inked) = Decode(TransferPlot.Render(rows));
        Assert.That((width, height), Is.EqualTo((2 * TransferPlot.PanelWidth, TransferPlot.Height)));
        Assert.That(inked, Is.GreaterThan(0.01), "axes, markers and labels drawn");

        Assert.That(Decode(TransferPlot.Render(rows, "wesnoth")).Width, Is.EqualTo(TransferPlot.PanelWidth));
        var unknown = Assert.Throws<ArgumentException>(() => TransferPlot.Render(rows, "mnist"));
        Assert.That(unknown!.ParamName, Is.EqualTo("dataset"));
        Assert.That(unknown.Message, Does.Contain("stellarium").And.Contain("wesnoth"));
    }

    [Test]
    public void TheCostLineIsAFifthOfTheMedianResNet18Latency()
    {
        double[] resnet = [50, 70, 64];
        var rows = resnet.Select(ms => Row("a", TransferResult.ResNet18Backbone, "mlnet", ms)).Append(Row("a", "mobilenet_v2_0.5", "scratch", 2)).ToArray();

        Assert.That(TransferPlot.FifthOfResNet18Ms(rows), Is.EqualTo(resnet.Order().ElementAt(1) / 5).Within(1e-9));
        Assert.That(TransferPlot.FifthOfResNet18Ms(rows.Where(r => !r.IsResNet18)), Is.Null);
    }

    [Test]
    public void SpreadMovesLabelsOffEachOtherAndOffMarkersByLittleAndInsideThePlot()
    {
        const double height = 15, bottom = 305;
        var labels = new[]
        {
            new LabelBox(10, 100, 200, height), new LabelBox(30, 105, 200, height), new LabelBox(10, 100, 200, height),
            new LabelBox(400, 100, 200, height), new LabelBox(10, 290, 200, height),
        };
        var markers = new[] { new LabelBox(500, 100, 12, 12), new LabelBox(100, 300, 12, 12) };

        var placed = TransferPlot.Spread(labels, markers, top: 0, bottom);

        for (int i = 0; i < placed.Count; i++)
        {
            Assert.That(markers.Concat(placed.Where((_, j) => j != i)).Any(placed[i].Overlaps), Is.False, $"label {i} covers nothing");
            Assert.That(placed[i].Y, Is.InRange(0, bottom - height), $"label {i} inside the plot");
            Assert.That(Math.Abs(placed[i].Y - labels[i].Y), Is.LessThanOrEqualTo(height), $"label {i} stays next to its point");
        }
        Assert.That(placed.Select(b => b.X), Is.EqualTo(labels.Select(b => b.X)), "only moved vertically");
        Assert.That(placed[0], Is.EqualTo(labels[0]), "a free label is not moved");
        Assert.That(placed[4].Y, Is.LessThan(labels[4].Y), "moved up where below is outside the plot");
    }

    private static TransferResult Row(string dataset, string backbone, string method, double latencyMs) =>
        new("2026-11-25", dataset, backbone, method, method is "finetune" or "scratch" ? "all" : "frozen", 112, method is "finetune" or "scratch" ? 6 : null,
            25_900_000, 700_000, latencyMs, Math.Round(0.4 + latencyMs / 200, 3), Math.Round(0.3 + latencyMs / 300, 3), 1.25, 12.5);

    private static (int Width, int Height, double Inked) Decode(byte[] png)
    {
        using var bitmap = SKBitmap.Decode(png);
        Assert.That(bitmap, Is.Not.Null, "a PNG");
        int inked = bitmap.Pixels.Count(p => p != SKColors.White);
        return (bitmap.Width, bitmap.Height, (double)inked / (bitmap.Width * bitmap.Height));
    }
}
