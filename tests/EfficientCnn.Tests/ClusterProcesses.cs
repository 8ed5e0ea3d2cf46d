using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>A child process whose output lines are collected (and echoed to the test log), to wait on and to kill.</summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process process;
    private readonly ConcurrentQueue<string> lines = new();
    private readonly string name;

    private ChildProcess(string name, string file, IEnumerable<string> args, string workingDirectory)
    {
        this.name = name;
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Starts the efficientcnn tool built next to the tests.</summary>
    public static ChildProcess Efficientcnn(string name, string workingDirectory, params string[] args) =>
        new(name, Path.Combine(AppContext.BaseDirectory, "efficientcnn"), args, workingDirectory);

    /// <summary>Starts any program.</summary>
    public static ChildProcess Start(string name, string file, string workingDirectory, params string[] args) => new(name, file, args, workingDirectory);

    /// <summary>The process id.</summary>
    public int Id => process.Id;

    /// <summary>Everything printed so far.</summary>
    public string Output => string.Join("\n", lines);

    /// <summary>True once it exited.</summary>
    public bool HasExited => process.HasExited;

    /// <summary>Exit code (after exit).</summary>
    public int ExitCode => process.ExitCode;

    private void Add(string? line)
    {
        if (line is null) return;
        lines.Enqueue(line);
        TestContext.Progress.WriteLine($"[{name}] {line}");
    }

    /// <summary>Waits until a printed line contains <paramref name="text"/>; fails with the output on timeout or exit.</summary>
    public void WaitFor(string text, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
        {
            if (process.HasExited && !lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
            {
                process.WaitForExit();
                Assert.Fail($"{name} exited ({process.ExitCode}) before printing '{text}':\n{Output}");
            }
            if (watch.Elapsed > timeout) Assert.Fail($"{name} did not print '{text}' within {timeout.TotalSeconds} s:\n{Output}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Waits for exit; fails on timeout.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout)) Assert.Fail($"{name} did not exit within {timeout.TotalSeconds} s:\n{Output}");
        process.WaitForExit();
        return process.ExitCode;
    }

    /// <summary>Sends a POSIX signal (TERM, KILL, INT).</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); process.WaitForExit(5000); }
        catch (InvalidOperationException) { }
        process.Dispose();
    }
}

/// <summary>A throwaway redis-server on a free loopback port (no persistence to disk).</summary>
public sealed class RedisServer : IDisposable
{
    private readonly ChildProcess process;

    /// <summary>The port.</summary>
    public int Port { get; }

    /// <summary>The cluster address of this server.</summary>
    public string Address => $"redis://127.0.0.1:{Port}";

    /// <summary>Starts redis-server, or fails saying how to install it.</summary>
    public RedisServer(string workingDirectory)
    {
        string? server = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists);
        if (server is null)
            Assert.Fail("redis-server is not installed: the cluster tests run a real Redis (apt-get install -y redis-server; .ci/run installs it).");
        Port = FreePort();
        process = ChildProcess.Start("redis", server!, workingDirectory,
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no");
        process.WaitFor("Ready to accept connections", TimeSpan.FromSeconds(20));
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <inheritdoc />
    public void Dispose() => process.Dispose();
}
