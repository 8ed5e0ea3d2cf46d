using System.Globalization;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>
/// <c>predict --cluster</c> for real: a redis-server on loopback, three <c>efficientcnn silo</c> processes, one of them
/// SIGKILLed mid-job, the client SIGKILLed too and run again; the CSV must equal local predict's, image for image.
/// </summary>
[NonParallelizable]
public sealed class ClusterPredictTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private string folder = "";
    private string model = "";
    private string list = "";

    /// <summary>A small model (1 epoch, 32 px) and 400 stripes images, one corrupt, plus a missing file in the list.</summary>
    [OneTimeSetUp]
    public void ModelAndImages()
    {
        folder = TrainingFixtures.TempFolder("cluster");
        string data = TrainingFixtures.WriteStripes(Path.Combine(folder, "train"), 8, 32);
        model = Path.Combine(folder, "model.zip");
        int code = CliRunner.Run(out var output, "train", "--data", data, "--output", model, "--epochs", "1",
            "--backbone", "mobilenet_v2_0.35", "--resolution", "32", "--batch-size", "8");
        Assert.That(code, Is.EqualTo(0), output);
        string images = TrainingFixtures.WriteStripes(Path.Combine(folder, "images"), 200, 64, seed: 1);
        File.WriteAllText(Path.Combine(images, "vertical", "corrupt.png"), "not a png");
        var paths = Directory.GetFiles(images, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => Path.GetRelativePath(folder, p)).ToList();
        paths.Insert(150, Path.Combine("images", "missing.png"));
        list = Path.Combine(folder, "list.txt");
        File.WriteAllLines(list, paths);
    }

    [OneTimeTearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    [Test]
    public void EveryImageOnceWithLocalLabelsAfterASiloAndTheClientAreKilled()
    {
        string local = Path.Combine(folder, "local.csv");
        Assert.That(CliRunner.Run(out var localOutput, "predict", "--model", model, "--input", list, "--output", local), Is.EqualTo(0), localOutput);

        using var redis = new RedisServer(folder);
        var silos = Enumerable.Range(0, 3)
            .Select(i => ChildProcess.Efficientcnn($"silo{i}", folder, "silo", "--cluster", redis.Address, "--threads", "1")).ToList();
        try
        {
            foreach (var silo in silos) silo.WaitFor("ready", Patience);
            string output = Path.Combine(folder, "cluster.csv");
            string[] predict = ["predict", "--model", model, "--input", list, "--output", output, "--cluster", redis.Address,
                "--shard-size", "8", "--lease-timeout", "3"];
            using (var client = ChildProcess.Efficientcnn("client", folder, predict))
            {
                // Kill a silo as soon as it has scored a shard (it leases its next one at once), then the client.
                silos[0].WaitFor("Shard ", Patience);
                silos[0].Signal("KILL");
                client.WaitFor("Job ", Patience);
                client.Signal("KILL");
                client.WaitForExit(Patience);
            }
            Assert.That(File.Exists(output), Is.False, "the killed client wrote no output");

            // The same command again re-attaches to the job (its state is in Redis) and completes it. A process, so
            // that a job that never finishes (a lease never given back) fails the test rather than hanging it.
            string again;
            using (var client = ChildProcess.Efficientcnn("client2", folder, predict))
            {
                int code = client.WaitForExit(Patience);
                again = client.Output;
                Assert.That(code, Is.EqualTo(0), again);
            }
            Assert.That(again, Does.Contain("Re-attached to job"));
            string squashed = string.Concat(again.Where(c => !char.IsWhiteSpace(c)));
            Assert.That(squashed, Does.Contain("skipped").And.Contain("missing.png").And.Contain("corrupt.png"), "bad input is reported per row");

            var expected = Rows(local);
            var actual = Rows(output);
            Assert.That(expected, Has.Count.EqualTo(400), "402 listed: 400 images, a missing and a corrupt file (skipped)");
            Assert.That(actual.Select(r => r.Path), Is.EqualTo(expected.Select(r => r.Path)), "every image exactly once, in input order");
            Assert.That(actual.Select(r => r.Label), Is.EqualTo(expected.Select(r => r.Label)), "the same labels as local predict");
            for (int i = 0; i < expected.Count; i++) Assert.That(actual[i].Score, Is.EqualTo(expected[i].Score).Within(1e-5));
            Assert.That(File.ReadLines(output).First(), Is.EqualTo(File.ReadLines(local).First()), "same header");
            Assert.That(Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Where(n => n!.StartsWith("cluster.csv.", StringComparison.Ordinal) || n.StartsWith(".cluster.csv", StringComparison.Ordinal)),
                Is.Empty, "the job's work folder and temporary files are gone");

            // A graceful stop: SIGTERM ends a silo with exit code 0 after it leaves the cluster.
            silos[1].Signal("TERM");
            Assert.That(silos[1].WaitForExit(Patience), Is.EqualTo(0), silos[1].Output);
            Assert.That(silos[1].Output, Does.Contain("left redis://"));
        }
        finally
        {
            foreach (var silo in silos) silo.Dispose();
        }
    }

    private sealed record Row(string Path, string Label, double Score);

    private static List<Row> Rows(string csv) => File.ReadLines(csv).Skip(1).Select(line =>
    {
        var fields = line.Split(',');
        return new Row(fields[0], fields[1], double.Parse(fields[2], CultureInfo.InvariantCulture));
    }).ToList();
}
