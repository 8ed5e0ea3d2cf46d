using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>
/// samples/WebApi as a business app runs it: started on loopback with a zip saved by <c>efficientcnn train</c>, then
/// 200 concurrent uploads of real images, which must get the labels <c>efficientcnn predict</c> gives.
/// </summary>
public sealed class WebSampleTests
{
    [Test]
    [CancelAfter(300_000)]
    public async Task TwoHundredConcurrentUploadsGetTheLabelsOfEfficientcnnPredict()
    {
        string root = TrainingFixtures.TempFolder("web");
        Process? server = null;
        var log = new StringBuilder();
        try
        {
            string data = TrainingFixtures.WriteStripes(Path.Combine(root, "data"), 12, 48);
            string zip = Path.Combine(root, "model.zip");
            Assert.That(CliRunner.Run(out var trainLog, "train", "--data", data, "--output", zip, "--epochs", "3", "--resolution", "64", "--batch-size", "8"),
                Is.EqualTo(0), trainLog);
            string predictions = Path.Combine(root, "predictions.csv");
            Assert.That(CliRunner.Run(out var predictLog, "predict", "--model", zip, "--input", data, "--output", predictions), Is.EqualTo(0), predictLog);
            var expected = File.ReadAllLines(predictions).Skip(1).Select(l => l.Split(',')).ToDictionary(f => f[0], f => f[1]);
            Assert.That(expected.Values.Distinct().Count(), Is.EqualTo(2), "the model tells the classes apart (else equal labels prove little)");
            var images = expected.Keys.Order(StringComparer.Ordinal).Select(p => (Path: p, Bytes: File.ReadAllBytes(p))).ToArray();

            // Start the sample (built with the solution: the test project references it) on a free loopback port.
            string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Configuration>/net10.0
            string app = Path.Combine(TrainingFixtures.RepoRoot, "samples", "WebApi", "bin", configuration, "net10.0", "WebApi.dll");
            Assert.That(File.Exists(app), Is.True, app);
            int port = FreePort();
            string baseUrl = $"http://127.0.0.1:{port}";
            string host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
            var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { app, "--model", zip, "--urls", baseUrl }) start.ArgumentList.Add(a);
            start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
            server = Process.Start(start)!;
            server.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            server.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            server.BeginOutputReadLine();
            server.BeginErrorReadLine();

            using var client = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(120) };
            var ready = Stopwatch.StartNew();
            while (true)
            {
                Assert.That(server.HasExited, Is.False, () => "the sample exited:\n" + log);
                try
                {
                    if ((await client.GetAsync("/health")).IsSuccessStatusCode) break;
                }
                catch (HttpRequestException) { }
                Assert.That(ready.Elapsed, Is.LessThan(TimeSpan.FromSeconds(90)), () => "the sample did not answer /health in 90 s:\n" + log);
                await Task.Delay(200);
            }

            // 200 requests at once, each a real PNG as the raw body.
            var clock = Stopwatch.StartNew();
            var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
            {
                var (path, bytes) = images[i % images.Length];
                using var content = new ByteArrayContent(bytes);
                content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
                using var response = await client.PostAsync("/predict", content);
                string body = await response.Content.ReadAsStringAsync();
                return (Path: path, Status: response.StatusCode, Body: body);
            }));
            double seconds = clock.Elapsed.TotalSeconds;
            Assert.That(answers.Where(a => a.Status != HttpStatusCode.OK).Select(a => $"{a.Status} {a.Body}"), Is.Empty);
            var wrong = answers.Where(a => JsonDocument.Parse(a.Body).RootElement.GetProperty("label").GetString() != expected[a.Path]).ToArray();
            Assert.That(wrong.Select(a => $"{a.Path}: {a.Body}, predict said {expected[a.Path]}"), Is.Empty, "same labels as `efficientcnn predict`");

            // A multipart upload (a browser form) and a non-image.
            using (var form = new MultipartFormDataContent { { new ByteArrayContent(images[0].Bytes), "image", "picture.png" } })
            {
                using var response = await client.PostAsync("/predict", form);
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
                Assert.That(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("label").GetString(), Is.EqualTo(expected[images[0].Path]));
            }
            using (var junk = new ByteArrayContent(Encoding.ASCII.GetBytes("not an image")))
            {
                using var response = await client.PostAsync("/predict", junk);
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            }
            string output;
            lock (log) output = log.ToString();
            Assert.That(output.Split('\n').Count(l => l.StartsWith("loaded model", StringComparison.Ordinal)), Is.EqualTo(1), "the zip is loaded once:\n" + output);
            TestContext.Out.WriteLine($"200 concurrent requests answered in {seconds:F2} s ({200 / seconds:F0} requests/s), all with the labels of `efficientcnn predict`");
        }
        finally
        {
            if (server is { HasExited: false })
            {
                server.Kill(entireProcessTree: true);
                server.WaitForExit(10_000);
            }
            server?.Dispose();
            TrainingFixtures.DeleteQuietly(root);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
