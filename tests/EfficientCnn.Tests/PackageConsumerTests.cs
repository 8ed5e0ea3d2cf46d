using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>
/// The packages as an ML.NET user gets them: EfficientCnn.Backbones and EfficientCnn.MLNet packed into a folder feed, a new
/// console project outside the repository that references only EfficientCnn.MLNet from it, restored, built and run.
/// </summary>
public sealed class PackageConsumerTests
{
    private const string ConsumerProgram = """
        using System.Reflection;
        using Microsoft.ML;
        using Microsoft.ML.Data;

        // 1. Plain ML.NET: load a zip saved by `efficientcnn train` before any EfficientCnn code runs.
        bool early = AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "EfficientCnn.MLNet");
        Console.WriteLine(early ? "EARLY EfficientCnn.MLNet was loaded before Model.Load" : "CLEAN nothing of EfficientCnn loaded before Model.Load");
        var ml = new MLContext(seed: 0);
        var model = ml.Model.Load(args[0], out _);
        var rows = File.ReadAllLines(args[1]).Select(p => new Row { ImagePath = p }).ToArray();
        var scored = model.Transform(ml.Data.LoadFromEnumerable(rows));
        var labels = scored.GetColumn<string>("PredictedLabel").ToArray();
        for (int i = 0; i < rows.Length; i++) Console.WriteLine($"PRED\t{rows[i].ImagePath}\t{labels[i]}");
        Console.WriteLine("MLNET " + typeof(MLContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion);

        // 2. The library's default featurizer: the bundled backbone must have reached this application's output folder.
        try
        {
            var features = EfficientCnn.MLNet.EfficientCnnCatalogProbe.FeatureLength(ml, rows.Take(2).Select(r => r.ImagePath).ToArray());
            Console.WriteLine($"FEATURES {features}");
        }
        catch (FileNotFoundException e)
        {
            Console.WriteLine("MISSING " + e.Message);
            return 3;
        }
        return 0;

        sealed class Row { public string ImagePath { get; set; } = ""; }

        namespace EfficientCnn.MLNet
        {
            static class EfficientCnnCatalogProbe
            {
                public static int FeatureLength(MLContext ml, string[] paths)
                {
                    var data = ml.Data.LoadFromEnumerable(paths.Select(p => new Row { ImagePath = p }));
                    var featurized = ml.Transforms.FeaturizeImages("Features", "ImagePath").Fit(data).Transform(data);
                    return featurized.GetColumn<float[]>("Features").First().Length;
                }
            }
        }
        """;

    [Test]
    [CancelAfter(600_000)]
    public void PackedLibraryWorksInANewConsoleAppThatReferencesOnlyEfficientCnnMLNet()
    {
        var clock = Stopwatch.StartNew();
        string root = TrainingFixtures.TempFolder("package");
        string version = "0.0.0-test" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        try
        {
            // A model saved by `efficientcnn train`, and what `efficientcnn evaluate`/`predict` say about it.
            // (the default bundled backbone, so the predictions are not all one class).
            string data = TrainingFixtures.WriteStripes(Path.Combine(root, "data"), 12, 48);
            string zip = Path.Combine(root, "model.zip");
            Assert.That(CliRunner.Run(out var trainLog, "train", "--data", data, "--output", zip, "--epochs", "3",
                "--resolution", "64", "--batch-size", "8"), Is.EqualTo(0), trainLog);
            Assert.That(CliRunner.Run(out var evaluateJson, "evaluate", "--model", zip, "--data", data, "--json"), Is.EqualTo(0), evaluateJson);
            string predictions = Path.Combine(root, "predictions.csv");
            Assert.That(CliRunner.Run(out var predictLog, "predict", "--model", zip, "--input", data, "--output", predictions), Is.EqualTo(0), predictLog);
            var expected = File.ReadAllLines(predictions).Skip(1).Select(l => l.Split(',')).ToDictionary(f => f[0], f => f[1]);
            double evaluateAccuracy = JsonDocument.Parse(evaluateJson[evaluateJson.IndexOf('{')..]).RootElement.GetProperty("microAccuracy").GetDouble();
            var images = expected.Keys.Order(StringComparer.Ordinal).ToArray();
            Assert.That(expected.Values.Distinct().Count(), Is.EqualTo(2), "the model tells the classes apart (else equal labels prove little)");
            string list = Path.Combine(root, "images.txt");
            File.WriteAllLines(list, images);

            // Pack both libraries (from this build's outputs) into a folder feed.
            string feed = Path.Combine(root, "feed");
            string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Configuration>/net10.0
            foreach (var project in new[] { "EfficientCnn.Backbones", "EfficientCnn.MLNet" })
                Dotnet(TrainingFixtures.RepoRoot, "pack", Path.Combine("src", project, project + ".csproj"), "-c", configuration, "--no-build",
                    "-o", feed, $"-p:Version={version}");
            Assert.That(Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileName),
                Is.EquivalentTo(new[] { $"EfficientCnn.Backbones.{version}.nupkg", $"EfficientCnn.MLNet.{version}.nupkg" }));
            TestContext.Out.WriteLine($"packed in {clock.Elapsed.TotalSeconds:F0} s");

            // A new console app outside the repository (no Directory.Build/Packages.props) referencing only EfficientCnn.MLNet.
            string app = Path.Combine(root, "consumer");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="efficientcnn-test-feed" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="EfficientCnn.MLNet" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), ConsumerProgram);
            Dotnet(app, "build", "-c", "Release", "-o", Path.Combine(app, "out"));
            TestContext.Out.WriteLine($"consumer built in {clock.Elapsed.TotalSeconds:F0} s");

            string output = Path.Combine(app, "out");
            Assert.That(File.Exists(Path.Combine(output, "models", "ecnn_resnet18_tucker2_fm.onnx")), Is.True,
                "the bundled backbones are copied to the consumer's output: " + string.Join(", ", Directory.GetFileSystemEntries(output).Select(Path.GetFileName)));
            Assert.That(File.ReadAllText(Path.Combine(output, "Consumer.deps.json")), Does.Contain("EfficientCnn.MLNet.ModelLoaders"));

            var run = Dotnet(output, "Consumer.dll", zip, list);
            Assert.That(run, Does.Contain("CLEAN nothing of EfficientCnn loaded before Model.Load"));
            Assert.That(run, Does.Contain("MLNET 6.0."));
            var predicted = run.Split('\n').Where(l => l.StartsWith("PRED\t", StringComparison.Ordinal))
                .Select(l => l.TrimEnd('\r').Split('\t')).ToDictionary(f => f[1], f => f[2]);
            Assert.That(predicted, Is.EquivalentTo(expected), "same labels as `efficientcnn predict`");
            double accuracy = images.Count(i => Path.GetFileName(Path.GetDirectoryName(i)) == predicted[i]) / (double)images.Length;
            Assert.That(accuracy, Is.EqualTo(evaluateAccuracy).Within(1e-9), "same accuracy as `efficientcnn evaluate`");
            Assert.That(run, Does.Match(@"FEATURES [1-9]\d*"), "the default featurizer runs on the bundled backbone");

            // Without the bundled models the default backbone fails loudly, naming what is missing (never random weights).
            Directory.Move(Path.Combine(output, "models"), Path.Combine(output, "models-away"));
            var missing = Dotnet(output, expectedExitCode: 3, "Consumer.dll", zip, list);
            Assert.That(missing, Does.Contain("MISSING The default backbone 'ecnn_resnet18_tucker2_fm'"));
            TestContext.Out.WriteLine($"{images.Length} images, accuracy {accuracy:P1}; whole test {clock.Elapsed.TotalSeconds:F0} s\n{run}");
        }
        finally
        {
            TrainingFixtures.DeleteQuietly(root);
            foreach (var id in new[] { "efficientcnn.backbones", "efficientcnn.mlnet" })
                TrainingFixtures.DeleteQuietly(Path.Combine(packages, id, version));
        }
    }

    private static string Dotnet(string workingDirectory, params string[] args) => Dotnet(workingDirectory, 0, args);

    private static string Dotnet(string workingDirectory, int expectedExitCode, params string[] args)
    {
        string host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("EFFICIENTCNN_MODELS");
        start.Environment.Remove("MSBuildSDKsPath");
        start.Environment.Remove("MSBuildExtensionsPath");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(480_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(" ", args)} did not finish in 480 s");
        }
        string output = stdout.Result + stderr.Result;
        Assert.That(process.ExitCode, Is.EqualTo(expectedExitCode), $"dotnet {string.Join(" ", args)}\n{output}");
        return output;
    }
}
