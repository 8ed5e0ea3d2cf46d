using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EfficientCnn.Backbones.Runtime;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientCnn.Bench;

/// <summary>What one variant measured; a child process prints it as one JSON line after <see cref="Marker"/>.</summary>
internal sealed record Result(string Variant, int Images, double Seconds, double SetupSeconds, double PeakWorkingSetMb, string Note = "")
{
    public const string Marker = "RESULT ";

    public double ImagesPerSecond => Images / Seconds;

    /// <summary>Prints the result with the process's peak working set (the child's whole life, so setup included).</summary>
    public void Emit()
    {
        var withPeak = this with { PeakWorkingSetMb = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0 };
        Console.WriteLine(Marker + JsonSerializer.Serialize(withPeak));
    }
}

/// <summary>Child processes (one per variant, so peak memory and warm state are not shared), timing and reading outputs.</summary>
internal static class Measure
{
    /// <summary>Runs this program again with <paramref name="args"/> and returns the <see cref="Result"/> it printed.</summary>
    public static Result InChild(params string[] args)
    {
        var (output, _) = RunSelf(args);
        string? line = output.Split('\n').LastOrDefault(l => l.StartsWith(Result.Marker, StringComparison.Ordinal));
        if (line is null) throw new InvalidOperationException($"child '{string.Join(' ', args)}' printed no result:\n{output}");
        return JsonSerializer.Deserialize<Result>(line[Result.Marker.Length..])!;
    }

    /// <summary>Runs this program again and returns its output and the wall time from start to exit.</summary>
    public static (string Output, double Seconds) RunSelf(params string[] args)
    {
        var psi = SelfProcess.StartInfo(typeof(Measure).Assembly, args);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        var sw = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        double seconds = sw.Elapsed.TotalSeconds;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"child '{string.Join(' ', args)}' exited with {process.ExitCode}:\n{stdout}\n{stderr.Result}");
        return (stdout, seconds);
    }

    /// <summary>Reads every row's float vector column to the end (as a user's loop would), returning rows seen.</summary>
    public static int Drain(IDataView view, string column)
    {
        var col = view.Schema[column];
        using var cursor = view.GetRowCursor([col]);
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> value = default;
        int rows = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            rows++;
        }
        return rows;
    }

    public static double Seconds(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalSeconds;
    }

    public static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    public static string F(double value, int digits = 1) => value.ToString("F" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
