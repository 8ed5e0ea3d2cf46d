using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>
/// Signals to a real <c>efficientcnn train</c> process, which runs the training in a child process
/// (ScalarLifetimeWorkaround): SIGTERM to the parent stops the child gracefully with the best model saved; SIGKILL of
/// the parent takes the child with it before it can write.
/// </summary>
[NonParallelizable]
public sealed class TrainingSignalTests
{
    private string folder = "";
    private string data = "";

    [OneTimeSetUp]
    public void Data()
    {
        folder = TrainingFixtures.TempFolder("signals");
        data = TrainingFixtures.WriteStripes(Path.Combine(folder, "data"), 8, 32);
    }

    [OneTimeTearDown]
    public void TearDown() => TrainingFixtures.DeleteQuietly(folder);

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private const int SIGTERM = 15, SIGKILL = 9;

    /// <summary>Starts train for many epochs with its output in <paramref name="output"/>; returns once the child trains.</summary>
    private (Process Parent, int Child, StringWriter Log) StartTraining(string output)
    {
        string tool = Path.Combine(AppContext.BaseDirectory, "efficientcnn");
        Assume.That(File.Exists(tool), "the efficientcnn apphost is copied next to the tests");
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "train", "--data", data, "--output", output, "--epochs", "1000", "--backbone", "mobilenet_v2_0.35",
                     "--resolution", "32", "--batch-size", "4" })
            start.ArgumentList.Add(a);
        // The test host runs with DOTNET_JITMinOpts (test.runsettings); without it the tool re-runs itself in a child.
        start.Environment.Remove("DOTNET_JITMinOpts");
        start.Environment["EFFICIENTCNN_THREADS"] = "1";
        var log = new StringWriter();
        var training = new ManualResetEventSlim();
        var parent = Process.Start(start)!;
        parent.OutputDataReceived += (_, e) =>
        {
            lock (log) log.WriteLine(e.Data);
            if (e.Data?.Contains("epoch 1/", StringComparison.Ordinal) == true) training.Set();
        };
        parent.ErrorDataReceived += (_, e) => { lock (log) log.WriteLine(e.Data); };
        parent.BeginOutputReadLine();
        parent.BeginErrorReadLine();
        if (!training.Wait(TimeSpan.FromSeconds(120)))
        {
            parent.Kill(entireProcessTree: true);
            Assert.Fail($"training did not start:\n{log}");
        }
        int child = ChildrenOf(parent.Id).Single();
        return (parent, child, log);
    }

    private static int[] ChildrenOf(int pid) =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsAsciiDigit))
            .Where(n => ParentOf(n!) == pid).Select(n => int.Parse(n!, CultureInfo.InvariantCulture)).ToArray();

    private static int ParentOf(string pid)
    {
        try
        {
            // /proc/PID/stat: "pid (name) state ppid ...": the name may hold spaces, so read after its closing parenthesis.
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
        }
        catch (IOException) { return -1; }
    }

    private static bool Alive(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ");

    private static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout) return false;
            Thread.Sleep(100);
        }
        return true;
    }

    [Test]
    public void SigtermToTheParentStopsTrainingAndSavesTheBestModel()
    {
        Assume.That(OperatingSystem.IsLinux());
        string output = Path.Combine(folder, "sigterm.zip");
        File.WriteAllText(output, "the previous model");
        var (parent, child, log) = StartTraining(output);
        try
        {
            kill(parent.Id, SIGTERM);
            Assert.That(parent.WaitForExit(TimeSpan.FromSeconds(120)), Is.True, $"the parent exits\n{log}");
            parent.WaitForExit();
            Assert.That(parent.ExitCode, Is.EqualTo(0), log.ToString());
            Assert.That(WaitUntil(() => !Alive(child), TimeSpan.FromSeconds(10)), Is.True, "the child is gone");
            Assert.That(log.ToString(), Does.Contain("SIGTERM").And.Contain("Saved"));
            Assert.That(File.ReadAllBytes(output).Take(2), Is.EqualTo("PK"u8.ToArray()), "the best model so far replaced the old one whole");
        }
        finally
        {
            // A failed run must not leave a 1000-epoch training behind.
            if (Alive(child)) kill(child, SIGKILL);
            if (!parent.HasExited) parent.Kill();
            parent.Dispose();
        }
    }

    [Test]
    public void SigkillOfTheParentTakesTheChildBeforeItWrites()
    {
        Assume.That(OperatingSystem.IsLinux());
        string output = Path.Combine(folder, "sigkill.zip");
        File.WriteAllText(output, "the previous model");
        var (parent, child, log) = StartTraining(output);
        using (parent)
        {
            kill(parent.Id, SIGKILL);
            parent.WaitForExit();
            bool gone = WaitUntil(() => !Alive(child), TimeSpan.FromSeconds(10));
            if (!gone) kill(child, SIGKILL);
            Assert.That(gone, Is.True, $"the child dies with its parent\n{log}");
            Assert.That(File.ReadAllText(output), Is.EqualTo("the previous model"));
        }
    }
}
