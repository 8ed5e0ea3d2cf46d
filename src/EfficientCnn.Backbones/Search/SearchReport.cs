using System.Globalization;
using System.Text;

namespace EfficientCnn.Backbones.Search;

/// <summary>Writes a search's results: every sample as CSV, the best spec and the Pareto-front specs as JSON.</summary>
public static class SearchReport
{
    /// <summary>Header of <see cref="SamplesCsv"/>.</summary>
    public const string CsvHeader = "index,decisions,architecture,accuracy,latency_ms,reward,macs,params,seconds,pareto";

    /// <summary>
    /// One row per sample: decisions (<see cref="SearchSpace.Format"/>), the architecture in short text, accuracy,
    /// latency, reward, MACs, params, evaluation seconds, and whether it is on the accuracy/latency Pareto front.
    /// </summary>
    public static string SamplesCsv(SearchResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var front = result.ParetoFront.Select(s => s.Index).ToHashSet();
        var csv = new StringBuilder(CsvHeader).Append('\n');
        foreach (var s in result.Samples)
            csv.Append(string.Join(",",
                s.Index.ToString(CultureInfo.InvariantCulture),
                SearchSpace.Format(s.Decisions),
                Quote(s.Spec.ToString()),
                s.Accuracy.ToString("R", CultureInfo.InvariantCulture),
                s.LatencyMs.ToString("R", CultureInfo.InvariantCulture),
                s.Reward.ToString("R", CultureInfo.InvariantCulture),
                s.Macs.ToString(CultureInfo.InvariantCulture),
                s.Params.ToString(CultureInfo.InvariantCulture),
                s.Seconds.ToString("F3", CultureInfo.InvariantCulture),
                front.Contains(s.Index) ? "1" : "0")).Append('\n');
        return csv.ToString();
    }

    /// <summary>Header of <c>retimed.csv</c>.</summary>
    public const string RetimedCsvHeader = "index,accuracy,search_latency_ms,retimed_latency_ms,reward";

    /// <summary>
    /// Writes <c>samples.csv</c>, <c>best.json</c> (highest reward) and <c>pareto_NN.json</c> (front, fastest first)
    /// into <paramref name="directory"/> and returns the paths written. With <paramref name="retimed"/> (from
    /// <see cref="FinalRetiming.Retime"/>, best first) it also writes <c>retimed.csv</c>, and best.json is its first.
    /// </summary>
    public static IReadOnlyList<string> Write(SearchResult result, string directory, IReadOnlyList<SearchSample>? retimed = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        void Put(string name, string text)
        {
            string path = Path.Combine(directory, name);
            Onnx.OnnxExporter.WriteAtomically(path, Encoding.UTF8.GetBytes(text));
            written.Add(path);
        }
        Put("samples.csv", SamplesCsv(result));
        if ((retimed is { Count: > 0 } ? retimed[0] : result.Best) is { } best) Put("best.json", best.Spec.ToJson());
        if (retimed is { Count: > 0 })
        {
            var inLoop = result.Samples.ToDictionary(s => s.Index, s => s.LatencyMs);
            var csv = new StringBuilder(RetimedCsvHeader).Append('\n');
            foreach (var s in retimed)
                csv.Append(string.Join(",", s.Index.ToString(CultureInfo.InvariantCulture), s.Accuracy.ToString("R", CultureInfo.InvariantCulture),
                    inLoop[s.Index].ToString("R", CultureInfo.InvariantCulture), s.LatencyMs.ToString("R", CultureInfo.InvariantCulture),
                    s.Reward.ToString("R", CultureInfo.InvariantCulture))).Append('\n');
            Put("retimed.csv", csv.ToString());
        }
        foreach (var stale in Directory.GetFiles(directory, "pareto_*.json")) File.Delete(stale);
        var front = result.ParetoFront;
        for (int i = 0; i < front.Count; i++) Put($"pareto_{i:D2}.json", front[i].Spec.ToJson());
        return written;
    }

    /// <summary>Quotes a CSV field (doubling inner quotes).</summary>
    public static string Quote(string field) => "\"" + field.Replace("\"", "\"\"") + "\"";
}
