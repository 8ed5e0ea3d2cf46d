using System.Globalization;
using System.Text;
using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Search;
using EfficientCnn.MLNet.Search;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;
using static EfficientCnn.Bench.Measure;

namespace EfficientCnn.Bench;

/// <summary>
/// Compares searches run side by side (docs/search-study.md): each folder is one <c>efficientcnn search --out</c>, named
/// <c>STRATEGY-seedN</c>. The latencies a search measured while another one trained on the other core are noisy, so
/// every sampled architecture and zoo variant is timed again here, on a quiet machine, in a shuffled order (drift
/// spreads over all runs alike), and the rewards are recomputed with those latencies. Prints one row per run and per
/// strategy, writes every sample with its quiet latency (--out) and the best --top specs of each strategy (--specs-out)
/// for retraining with the full recipe (<c>accuracy --backbone SPEC.json</c>).
/// </summary>
internal static class SearchStudyBench
{
    private sealed record SearchRun(string Name, string Strategy, int Seed, IReadOnlyList<Sample> Samples, IReadOnlyList<ZooPoint> Zoo,
        SearchFingerprint? Settings);

    private sealed record Sample(int Index, int[] Decisions, double Accuracy, double SearchLatencyMs);

    private sealed record ZooPoint(string Name, double Accuracy, double SearchLatencyMs);

    private sealed record Scored(SearchRun Run, Sample Sample, double LatencyMs, double Reward, bool WithinTarget, bool BeyondZoo);

    public static int Run(BenchArgs a)
    {
        var dirs = a.Required("runs").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        int classes = a.Int("classes", 5), passes = a.Int("passes", 2), top = a.Int("top", 3);
        var settings = new LatencySettings(BatchSize: 1, Warmup: 3, Runs: a.Int("timing-runs", 20), Threads: 1);
        var space = new SearchSpace(ArchitectureSpec.MobileNetV2Skeleton, 224);
        var runs = dirs.Select(Read).ToArray();
        var (target, reward) = RewardSettings(a, runs);

        // --reuse-timings: the quiet latencies of an earlier --out file (redrawing or re-tabulating without timing again).
        var quiet = a.Get("reuse-timings") is { } earlier ? ReadTimings(earlier) : TimeAgain(runs, space, classes, settings, passes);
        double ZooMs(ZooPoint z) => quiet[z.Name];
        var scored = runs.SelectMany(r => r.Samples.Select(s =>
        {
            double ms = quiet[SearchSpace.Format(s.Decisions)];
            bool beyond = !r.Zoo.Any(z => z.Accuracy >= s.Accuracy && ZooMs(z) <= ms && (z.Accuracy > s.Accuracy || ZooMs(z) < ms));
            return new Scored(r, s, ms, reward.Compute(s.Accuracy, ms, target), ms <= target, beyond);
        })).ToArray();

        if (a.Get("out") is { } csvPath) WriteCsv(csvPath, scored, quiet);
        PrintRuns(runs, scored, target, reward);
        PrintStrategies(runs, scored);
        PrintZoo(runs, quiet, target, reward);
        if (a.Get("specs-out") is { } specsOut) WriteTopSpecs(specsOut, scored, space, top);
        if (a.Get("plot") is { } plotPath)
        {
            File.WriteAllBytes(plotPath, TransferPlot.ToPng(Plot(runs, scored, quiet, target, reward), 1000, 660));
            Console.WriteLine($"wrote {plotPath}");
        }
        return 0;
    }

    /// <summary>Reads samples.csv and zoo.csv of one search folder named STRATEGY-seedN.</summary>
    private static SearchRun Read(string dir)
    {
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(dir));
        var parts = name.Split("-seed");
        if (parts.Length != 2 || !int.TryParse(parts[1], out int seed))
            throw new ArgumentException($"search folder '{dir}' must be named STRATEGY-seedN (e.g. reinforce-seed0).", "runs");
        string samplesCsv = Path.Combine(dir, "samples.csv"), zooCsv = Path.Combine(dir, "zoo.csv");
        foreach (var f in new[] { samplesCsv, zooCsv })
            if (!File.Exists(f)) throw new ArgumentException($"'{f}' does not exist (is '{dir}' an `efficientcnn search --out` folder?).", "runs");
        var samples = CsvRows(samplesCsv).Select(r => new Sample(int.Parse(r["index"], CultureInfo.InvariantCulture),
            ParseDecisions(r["decisions"]),
            Num(r["accuracy"]), Num(r["latency_ms"]))).ToArray();
        var zoo = CsvRows(zooCsv).Select(r => new ZooPoint(r["name"], Num(r["accuracy"]), Num(r["latency_ms"]))).ToArray();
        // checkpoint.json records the search's target and reward exponents (the study's older folders lack it).
        string checkpointPath = Path.Combine(dir, "checkpoint.json");
        var checkpoint = File.Exists(checkpointPath) ? SearchCheckpoint.Load(checkpointPath) : null;
        return new SearchRun(name, parts[0], seed, samples, zoo, checkpoint?.Search);
    }

    /// <summary>
    /// The target and reward the rewards are recomputed with: those the searches ran with (their checkpoints, which must
    /// agree), else --target-latency-ms (default 10) and --reward soft|hard (default soft); an option that contradicts a
    /// checkpoint is refused, naming the folder.
    /// </summary>
    private static (double Target, LatencyReward Reward) RewardSettings(BenchArgs a, SearchRun[] runs)
    {
        var recorded = runs.Where(r => r.Settings is not null).ToArray();
        double target = a.Get("target-latency-ms") is { } t ? double.Parse(t, CultureInfo.InvariantCulture)
            : recorded.FirstOrDefault()?.Settings!.TargetLatencyMs ?? 10;
        var reward = a.Get("reward") switch
        {
            null => recorded.FirstOrDefault() is { } first ? new LatencyReward(first.Settings!.Alpha, first.Settings.Beta) : LatencyReward.Soft,
            "soft" => LatencyReward.Soft,
            "hard" => LatencyReward.Hard,
            var other => throw new ArgumentException($"--reward must be soft or hard, got '{other}'.", "reward"),
        };
        foreach (var r in recorded)
            if (r.Settings!.TargetLatencyMs != target || r.Settings.Alpha != reward.Alpha || r.Settings.Beta != reward.Beta)
                throw new ArgumentException($"search '{r.Name}' ran with T = {r.Settings.TargetLatencyMs} ms, reward exponents ({r.Settings.Alpha}, {r.Settings.Beta}); " +
                                            $"the study scores with T = {target} ms, ({reward.Alpha}, {reward.Beta}): compare searches that ran alike.", "runs");
        return (target, reward);
    }

    private static string Describe(LatencyReward reward) =>
        reward == LatencyReward.Soft ? "soft" : reward == LatencyReward.Hard ? "hard" : $"α {reward.Alpha}, β {reward.Beta}";

    /// <summary>Median latency of every distinct architecture and zoo variant, mean over shuffled passes.</summary>
    private static Dictionary<string, double> TimeAgain(SearchRun[] runs, SearchSpace space, int classes, LatencySettings settings, int passes)
    {
        var keys = runs.SelectMany(r => r.Samples.Select(s => SearchSpace.Format(s.Decisions)))
            .Concat(runs.SelectMany(r => r.Zoo.Select(z => z.Name))).Distinct().ToArray();
        var totals = keys.ToDictionary(k => k, _ => 0.0);
        var random = new Random(0);
        Console.WriteLine($"timing {keys.Length} architectures again, {passes} shuffled passes, batch 1, 1 thread, median of {settings.Runs}");
        for (int pass = 0; pass < passes; pass++)
        {
            var order = keys.ToArray();
            random.Shuffle(order);
            for (int i = 0; i < order.Length; i++)
            {
                string key = order[i];
                using Backbone model = BackboneRegistry.Contains(key)
                    ? BackboneRegistry.Get(key).Create(new BackboneOptions { NumClasses = classes })
                    : new SearchedNetwork(space.Decode(ParseDecisions(key)), classes);
                totals[key] += OnnxLatency.Measure(model, 224, settings).MedianMsPerBatch;
                if ((i + 1) % 50 == 0) Console.WriteLine($"  pass {pass + 1}: {i + 1}/{order.Length}");
            }
        }
        return totals.ToDictionary(kv => kv.Key, kv => kv.Value / passes);
    }

    private static void PrintRuns(SearchRun[] runs, Scored[] scored, double target, LatencyReward reward)
    {
        Table.Print($"Each search, rewards recomputed with quiet latencies (T = {F(target, 0)} ms, {Describe(reward)})",
            ["run", "samples", "mean reward", "mean 2nd half", "mean top 5", "best reward", "best: accuracy @ ms", "within T", "beyond zoo front", "best within T"],
            runs.Select(r =>
            {
                var s = scored.Where(x => x.Run == r).OrderBy(x => x.Sample.Index).ToArray();
                var best = s.MaxBy(x => x.Reward)!;
                var bestWithin = s.Where(x => x.WithinTarget).MaxBy(x => x.Sample.Accuracy);
                return new[]
                {
                    r.Name, s.Length.ToString(CultureInfo.InvariantCulture), F(s.Average(x => x.Reward), 4), F(s.Skip(s.Length / 2).Average(x => x.Reward), 4),
                    F(Top5(s), 4), F(best.Reward, 4), $"{F(100 * best.Sample.Accuracy)} % @ {F(best.LatencyMs, 2)} (#{best.Sample.Index})",
                    s.Count(x => x.WithinTarget).ToString(CultureInfo.InvariantCulture), s.Count(x => x.BeyondZoo).ToString(CultureInfo.InvariantCulture),
                    bestWithin is null ? "-" : $"{F(100 * bestWithin.Sample.Accuracy)} % @ {F(bestWithin.LatencyMs, 2)}",
                };
            }));
    }

    private static void PrintStrategies(SearchRun[] runs, Scored[] scored)
    {
        Table.Print("Per strategy: mean ± standard deviation over seeds",
            ["strategy", "seeds", "samples", "mean reward", "mean 2nd half", "mean top 5", "best reward", "within T", "beyond zoo front", "best accuracy within T"],
            runs.GroupBy(r => r.Strategy).Select(g =>
            {
                var perRun = g.Select(r => scored.Where(x => x.Run == r).OrderBy(x => x.Sample.Index).ToArray()).ToArray();
                string Stat(Func<Scored[], double> f, int digits) => MeanSd(perRun.Select(f).ToArray(), digits);
                return new[]
                {
                    g.Key, string.Join(" ", g.Select(r => r.Seed)), Stat(s => s.Length, 1), Stat(s => s.Average(x => x.Reward), 4),
                    Stat(s => s.Skip(s.Length / 2).Average(x => x.Reward), 4), Stat(Top5, 4), Stat(s => s.Max(x => x.Reward), 4),
                    Stat(s => s.Count(x => x.WithinTarget), 1), Stat(s => s.Count(x => x.BeyondZoo), 1),
                    BestWithinTarget(perRun),
                };
            }));
        PrintPairs(runs, scored);
    }

    /// <summary>Mean ± sd over the runs that have a sample within the target, and how many do.</summary>
    private static string BestWithinTarget(Scored[][] perRun)
    {
        var best = perRun.Where(s => s.Any(x => x.WithinTarget)).Select(s => 100 * s.Where(x => x.WithinTarget).Max(x => x.Sample.Accuracy)).ToArray();
        return best.Length == 0 ? "none" : $"{MeanSd(best, 1)} % ({best.Length}/{perRun.Length} runs)";
    }

    /// <summary>
    /// The strategies seed by seed: both runs of a seed share the proxy's split and initialisation, so their difference
    /// is the fairer comparison than the spread over seeds.
    /// </summary>
    private static void PrintPairs(SearchRun[] runs, Scored[] scored)
    {
        var strategies = runs.Select(r => r.Strategy).Distinct().Order().ToArray();
        if (strategies.Length != 2) return;
        double Of(SearchRun r, Func<Scored[], double> f) => f(scored.Where(x => x.Run == r).ToArray());
        Table.Print($"Seed by seed: {strategies[0]} vs {strategies[1]}",
            ["seed", "best reward", "mean reward", "mean top 5", "within T"],
            runs.GroupBy(r => r.Seed).Where(g => g.Count() == 2).OrderBy(g => g.Key).Select(g =>
            {
                var (x, y) = (g.First(r => r.Strategy == strategies[0]), g.First(r => r.Strategy == strategies[1]));
                string Pair(Func<Scored[], double> f, int digits) => $"{F(Of(x, f), digits)} vs {F(Of(y, f), digits)}";
                return new[]
                {
                    g.Key.ToString(CultureInfo.InvariantCulture), Pair(s => s.Max(v => v.Reward), 4), Pair(s => s.Average(v => v.Reward), 4),
                    Pair(Top5, 4), Pair(s => s.Count(v => v.WithinTarget), 0),
                };
            }));
    }

    private static void PrintZoo(SearchRun[] runs, Dictionary<string, double> quiet, double target, LatencyReward reward) =>
        Table.Print("Zoo variants on the same proxies (accuracy per seed) and quiet latency",
            ["variant", "quiet ms", "accuracy per run", "mean reward"],
            runs[0].Zoo.Select(z =>
            {
                var accuracies = runs.Select(r => r.Zoo.First(x => x.Name == z.Name).Accuracy).ToArray();
                return new[]
                {
                    z.Name, F(quiet[z.Name], 2), string.Join(" ", accuracies.Select(x => F(100 * x))),
                    F(accuracies.Average(x => reward.Compute(x, quiet[z.Name], target)), 4),
                };
            }));

    /// <summary>The <paramref name="top"/> best distinct architectures of each strategy (all seeds pooled) by quiet reward.</summary>
    private static void WriteTopSpecs(string dir, Scored[] scored, SearchSpace space, int top)
    {
        Directory.CreateDirectory(dir);
        foreach (var group in scored.GroupBy(x => x.Run.Strategy))
        {
            var best = group.OrderByDescending(x => x.Reward).DistinctBy(x => SearchSpace.Format(x.Sample.Decisions)).Take(top).ToArray();
            for (int k = 0; k < best.Length; k++)
            {
                var b = best[k];
                string file = Path.Combine(dir, $"{group.Key}-top{k + 1}.json");
                space.Decode(b.Sample.Decisions).Save(file);
                Console.WriteLine($"{file}: {b.Run.Name} #{b.Sample.Index}, proxy {F(100 * b.Sample.Accuracy)} % @ {F(b.LatencyMs, 2)} ms, reward {F(b.Reward, 4)}");
            }
        }
    }

    /// <summary>Every sample, then one row per zoo variant (run "zoo", decisions = its name) with its quiet latency.</summary>
    private static void WriteCsv(string path, Scored[] scored, Dictionary<string, double> quiet)
    {
        var csv = new StringBuilder(CsvHeader + "\n");
        foreach (var x in scored)
            csv.Append(CultureInfo.InvariantCulture,
                $"{x.Run.Name},{x.Run.Strategy},{x.Run.Seed},{x.Sample.Index},{SearchSpace.Format(x.Sample.Decisions)},{x.Sample.Accuracy:R},{x.Sample.SearchLatencyMs:R},{x.LatencyMs:R},{x.Reward:R},{x.WithinTarget},{x.BeyondZoo}\n");
        foreach (var name in quiet.Keys.Where(BackboneRegistry.Contains))
            csv.Append(CultureInfo.InvariantCulture, $"zoo,zoo,,,{name},,,{quiet[name]:R},,,\n");
        File.WriteAllText(path, csv.ToString());
        Console.WriteLine($"wrote {scored.Length} samples to {path}");
    }

    private const string CsvHeader = "run,strategy,seed,index,decisions,accuracy,search_latency_ms,quiet_latency_ms,quiet_reward,within_target,beyond_zoo";

    private static Dictionary<string, double> ReadTimings(string path)
    {
        if (!File.Exists(path) || File.ReadLines(path).FirstOrDefault() != CsvHeader)
            throw new ArgumentException($"'{path}' is not a search-study --out file.", "reuse-timings");
        return CsvRows(path).DistinctBy(r => r["decisions"]).ToDictionary(r => r["decisions"], r => Num(r["quiet_latency_ms"]));
    }

    /// <summary>
    /// Every sample of every run at its quiet latency, one colour per strategy (seeds pooled: both strategies of a seed
    /// share its proxy split), each strategy's Pareto front, the zoo at its mean proxy accuracy over the runs, the target.
    /// </summary>
    private static PlotModel Plot(SearchRun[] runs, Scored[] scored, Dictionary<string, double> quiet, double target, LatencyReward reward)
    {
        var model = new PlotModel
        {
            Title = "Searched architectures at quiet latency vs the hand-designed zoo",
            Subtitle = $"{string.Join(", ", runs.GroupBy(r => r.Strategy).Select(g => $"{g.Key}: {g.Count()} searches"))}; T = {target:0.##} ms, {Describe(reward)} reward",
            DefaultFont = "DejaVu Sans", DefaultFontSize = 13, TitleFontSize = 17, SubtitleFontSize = 12, Background = OxyColors.White,
            Culture = CultureInfo.InvariantCulture, Padding = new OxyThickness(12),
        };
        var grid = OxyColor.FromRgb(0xe4, 0xe4, 0xe4);
        var zooMs = runs[0].Zoo.Select(z => quiet[z.Name]).ToArray();
        double xMin = Math.Min(scored.Min(x => x.LatencyMs), zooMs.Min()), xMax = Math.Max(scored.Max(x => x.LatencyMs), zooMs.Max());
        model.Axes.Add(new LogarithmicAxis
        {
            Position = AxisPosition.Bottom, Title = "latency per image (ms; ONNX Runtime, batch 1, 1 thread, quiet machine; log scale)",
            Minimum = xMin / 1.3, Maximum = xMax * 1.1, MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = grid,
        });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "proxy accuracy (%)", MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = grid });
        OxyColor[] colours = [OxyColor.Parse("#1f77b4"), OxyColor.Parse("#8c8c8c"), OxyColor.Parse("#2ca02c")];
        foreach (var (group, i) in scored.GroupBy(x => x.Run.Strategy).Select((g, i) => (g, i)))
        {
            var colour = colours[i % colours.Length];
            var points = new ScatterSeries { Title = $"{group.Key} samples", MarkerType = i == 0 ? MarkerType.Circle : MarkerType.Triangle, MarkerSize = 4, MarkerFill = OxyColor.FromAColor(150, colour) };
            points.Points.AddRange(group.Select(x => new ScatterPoint(x.LatencyMs, 100 * x.Sample.Accuracy)));
            var front = new LineSeries { Title = $"{group.Key} Pareto front", Color = colour, StrokeThickness = 2, LineStyle = i == 0 ? LineStyle.Solid : LineStyle.Dash };
            front.Points.AddRange(ParetoFront.Of(group, x => x.Sample.Accuracy, x => x.LatencyMs).Select(x => new DataPoint(x.LatencyMs, 100 * x.Sample.Accuracy)));
            model.Series.Add(points);
            model.Series.Add(front);
        }
        var zoo = new ScatterSeries { Title = "zoo (mean over runs)", MarkerType = MarkerType.Diamond, MarkerSize = 8, MarkerFill = OxyColor.Parse("#ff7f0e"), MarkerStroke = OxyColors.White };
        foreach (var (name, k) in runs[0].Zoo.Select(z => z.Name).OrderBy(n => quiet[n]).Select((n, k) => (n, k)))
        {
            double accuracy = 100 * runs.Average(r => r.Zoo.First(z => z.Name == name).Accuracy);
            zoo.Points.Add(new ScatterPoint(quiet[name], accuracy));
            // Alternate above and below in order of latency: neighbouring variants have similar cost and accuracy.
            model.Annotations.Add(new TextAnnotation
            {
                Text = name, TextPosition = new DataPoint(quiet[name], accuracy), FontSize = 11, Stroke = OxyColors.Transparent,
                TextVerticalAlignment = k % 2 == 0 ? VerticalAlignment.Bottom : VerticalAlignment.Top, Offset = new ScreenVector(0, k % 2 == 0 ? -7 : 7),
                Background = OxyColor.FromAColor(200, OxyColors.White),
            });
        }
        model.Series.Add(zoo);
        model.Annotations.Add(new LineAnnotation { Type = LineAnnotationType.Vertical, X = target, Color = OxyColor.Parse("#d62728"), StrokeThickness = 1.5, LineStyle = LineStyle.Dash });
        model.Legends.Add(new Legend { LegendPlacement = LegendPlacement.Outside, LegendPosition = LegendPosition.BottomCenter, LegendOrientation = LegendOrientation.Horizontal });
        return model;
    }

    private static double Top5(Scored[] s) => s.OrderByDescending(x => x.Reward).Take(5).Average(x => x.Reward);

    private static string MeanSd(double[] values, int digits)
    {
        double mean = values.Average();
        double sd = values.Length > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1)) : 0;
        return $"{F(mean, digits)} ± {F(sd, digits)}";
    }

    private static double Num(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>The inverse of <see cref="SearchSpace.Format"/> (<c>0.2.1.0.1 1.1.1.1.1 …</c>).</summary>
    private static int[] ParseDecisions(string text) => text.Split(' ', '.').Select(d => int.Parse(d, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Rows of a header CSV whose fields may be double-quoted (samples.csv quotes the architecture).</summary>
    private static IEnumerable<Dictionary<string, string>> CsvRows(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToArray();
        var header = TransferResultsCsv.SplitFields(lines[0]);
        return lines.Skip(1).Select(l => header.Zip(TransferResultsCsv.SplitFields(l)).ToDictionary(p => p.First, p => p.Second));
    }
}
