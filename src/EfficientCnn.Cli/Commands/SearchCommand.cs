using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Profiling;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Search;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet.Search;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// <c>efficientcnn search</c>: MNASNet-style latency-aware architecture search on the user's images and this machine's
/// latency (ONNX Runtime), with REINFORCE or random search, checkpointed after every sample.
/// </summary>
[NeedsScalarLifetimeWorkaround]
public sealed partial class SearchCommand : Command<SearchCommand.Settings>
{
    /// <summary>Zoo variants proxy-trained and timed for comparison (the hand-designed points of the plot).</summary>
    public static readonly IReadOnlyList<string> DefaultZoo =
        ["mobilenet_v2_0.35", "mobilenet_v2_0.5", "mobilenet_v2_1.0", "mnasnet_b1_0.5", "mnasnet_b1_1.0", "mnasnet_a1"];

    /// <summary>Options of the search command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Image folder.</summary>
        [CommandOption("--data <DIR>")]
        [Description("Folder of class folders (optional split.csv path,label,split: only 'train' rows are used, part of them held out).")]
        public string? Data { get; init; }

        /// <summary>Latency target.</summary>
        [CommandOption("--target-latency-ms <MS>")]
        [Description("Latency target T of the reward ACC·(LAT/T)^w, in ms per batch on this machine (ONNX Runtime).")]
        public double? TargetLatencyMs { get; init; }

        /// <summary>Time budget.</summary>
        [CommandOption("--time <DURATION>")]
        [Description("Search time budget, e.g. 30m, 90s, 1h30m (resumed time counts).")]
        public string? Time { get; init; }

        /// <summary>Sample budget.</summary>
        [CommandOption("--samples <N>")]
        [Description("Stop after N sampled architectures in total.")]
        public int? Samples { get; init; }

        /// <summary>Output folder.</summary>
        [CommandOption("--out <DIR>")]
        [Description("Output folder: checkpoint.json, samples.csv, best.json, retimed.csv, pareto_NN.json, zoo.csv, accuracy_vs_latency.png (default search-out).")]
        [DefaultValue("search-out")]
        public string Out { get; init; } = "search-out";

        /// <summary>Strategy.</summary>
        [CommandOption("--strategy <NAME>")]
        [Description("reinforce (policy gradient controller, default) or random (the baseline).")]
        [DefaultValue("reinforce")]
        public string Strategy { get; init; } = "reinforce";

        /// <summary>Resume.</summary>
        [CommandOption("--resume")]
        [Description("Continue the search whose checkpoint.json is in --out.")]
        public bool Resume { get; init; }

        /// <summary>Soft constraint.</summary>
        [CommandOption("--soft")]
        [Description("Soft latency constraint α = β = −0.07 (default).")]
        public bool Soft { get; init; }

        /// <summary>Hard constraint.</summary>
        [CommandOption("--hard")]
        [Description("Hard latency constraint α = 0, β = −1.")]
        public bool Hard { get; init; }

        /// <summary>Seed.</summary>
        [CommandOption("--seed <N>")]
        [Description("Seed of the sampled decisions (default 0).")]
        [DefaultValue(0)]
        public int Seed { get; init; }

        /// <summary>Deployment resolution.</summary>
        [CommandOption("--resolution <R>")]
        [Description("Input size for latency and MACs (default 224).")]
        [DefaultValue(224)]
        public int Resolution { get; init; } = 224;

        /// <summary>Proxy resolution.</summary>
        [CommandOption("--proxy-resolution <R>")]
        [Description("Image size of the proxy training (default 112; with 10 epochs it ranked architectures like full training, docs/search-study.md).")]
        [DefaultValue(112)]
        public int ProxyResolution { get; init; } = 112;

        /// <summary>Proxy epochs.</summary>
        [CommandOption("--proxy-epochs <N>")]
        [Description("Epochs of proxy training per architecture (default 10: MNASNet's 5 are too few steps on a few hundred images).")]
        [DefaultValue(10)]
        public int ProxyEpochs { get; init; } = 10;

        /// <summary>Latency batch.</summary>
        [CommandOption("--batch <N>")]
        [Description("Images per timed latency run (default 1).")]
        [DefaultValue(1)]
        public int Batch { get; init; } = 1;

        /// <summary>Latency threads.</summary>
        [CommandOption("--threads <N>")]
        [Description("ONNX Runtime intra-op threads for latency (default 1).")]
        [DefaultValue(1)]
        public int Threads { get; init; } = 1;

        /// <summary>Timed runs.</summary>
        [CommandOption("--runs <N>")]
        [Description("Timed runs per latency measurement; the median counts (default 20).")]
        [DefaultValue(20)]
        public int Runs { get; init; } = 20;

        /// <summary>Samples timed again at the end.</summary>
        [CommandOption("--retime-top <K>")]
        [Description("When the search stops, time its K best samples again (3x --runs, training finished) and choose best.json on those latencies; 0 keeps the in-loop ones (default 10).")]
        [DefaultValue(10)]
        public int RetimeTop { get; init; } = 10;

        /// <summary>Controller step size.</summary>
        [CommandOption("--controller-lr <LR>")]
        [Description("Adam step size on the REINFORCE controller's logits (default 0.05). A step moves each logit by about this much, so a search of a few dozen samples needs ~0.2 for the policy to move within its budget.")]
        [DefaultValue(0.05)]
        public double ControllerLearningRate { get; init; } = 0.05;

        /// <summary>Skip the zoo comparison.</summary>
        [CommandOption("--no-zoo")]
        [Description("Do not proxy-train and time the hand-designed zoo variants for comparison.")]
        public bool NoZoo { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required.");
            if (TargetLatencyMs is not > 0) return ValidationResult.Error("--target-latency-ms is required and must be > 0.");
            if (Time is null && Samples is null) return ValidationResult.Error("Give a budget: --time and/or --samples.");
            if (Samples is < 1) return ValidationResult.Error($"--samples must be >= 1, got {Samples}.");
            if (Time is not null && ParseDuration(Time) is null) return ValidationResult.Error($"--time must look like 30m, 90s or 1h30m, got '{Time}'.");
            if (Strategy is not ("reinforce" or "random")) return ValidationResult.Error($"--strategy must be reinforce or random, got '{Strategy}'.");
            if (Soft && Hard) return ValidationResult.Error("--soft and --hard exclude each other.");
            if (Seed < 0) return ValidationResult.Error($"--seed must be >= 0, got {Seed}.");
            if (OptionChecks.Resolution(Resolution) is { } resolutionError) return ValidationResult.Error(resolutionError);
            if (ImageLimits.AboveLimit("--proxy-resolution", ProxyResolution, ImageLimits.MaxResolution) is { } proxyresolutionLimit) return ValidationResult.Error(proxyresolutionLimit);
            if (ImageLimits.AboveLimit("--batch", Batch, ImageLimits.MaxBatchSize) is { } batchLimit) return ValidationResult.Error(batchLimit);
            if (Batch < 1 || Threads < 1 || Runs < 1) return ValidationResult.Error("--batch, --threads and --runs must be >= 1.");
            if (!(ControllerLearningRate > 0) || !double.IsFinite(ControllerLearningRate))
                return ValidationResult.Error($"--controller-lr must be > 0, got {ControllerLearningRate}.");
            if (RetimeTop < 0) return ValidationResult.Error($"--retime-top must be >= 0, got {RetimeTop}.");
            return ValidationResult.Success();
        }
    }

    /// <summary>Parses <c>30m</c>, <c>90s</c>, <c>1h30m</c>, <c>2h</c> (units h, m, s); null when malformed or zero.</summary>
    public static TimeSpan? ParseDuration(string text)
    {
        var match = DurationPattern().Match(text.Trim());
        if (!match.Success || match.Length == 0) return null;
        double Part(string group) => match.Groups[group].Success ? double.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) : 0;
        var span = TimeSpan.FromHours(Part("h")) + TimeSpan.FromMinutes(Part("m")) + TimeSpan.FromSeconds(Part("s"));
        return span > TimeSpan.Zero ? span : null;
    }

    [GeneratedRegex(@"^(?:(?<h>\d+(?:\.\d+)?)h)?(?:(?<m>\d+(?:\.\d+)?)m)?(?:(?<s>\d+(?:\.\d+)?)s)?$")]
    private static partial Regex DurationPattern();

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            string outDir = Path.GetFullPath(settings.Out);
            InputOutputOverlap.Refuse(outDir, "out", (settings.Data, "the --data"));
            string checkpoint = Path.Combine(outDir, "checkpoint.json");
            if (File.Exists(checkpoint) && !settings.Resume)
                throw new ArgumentException($"{outDir} already holds a search (checkpoint.json): pass --resume to continue it, or choose another --out.", "out");
            Directory.CreateDirectory(outDir);
            using var cancellation = new ConsoleCancellation(cancellationToken);
            cancellationToken = cancellation.Token;
            // --time covers the whole command: the zoo comparison takes at most a quarter of it (it trained six networks
            // outside the budget: --time 3m ran 16 minutes), the search what is left, the final re-timing the remainder.
            var clock = Stopwatch.StartNew();
            TimeSpan? budget = settings.Time is null ? null : ParseDuration(settings.Time);
            bool compareZoo = !settings.NoZoo && !File.Exists(Path.Combine(outDir, "zoo.csv"));
            if (budget is { } total)
                AnsiConsole.WriteLine(compareZoo
                    ? $"Time budget {Span(total)}: zoo comparison up to {Span(total * ZooShare)}, then the search, and {Span(total * RetimeShare)} for the final re-timing."
                    : $"Time budget {Span(total)}: the search, and {Span(total * RetimeShare)} for the final re-timing.");

            var proxy = new ProxyTrainingAccuracy(settings.Data!, settings.ProxyResolution,
                new ClassifierTrainingOptions { Epochs = settings.ProxyEpochs, Seed = settings.Seed });
            AnsiConsole.MarkupLineInterpolated(
                $"Proxy task: {proxy.Classes.Count} classes, {proxy.Train.Count} training / {proxy.Validation.Count} held-out images at {settings.ProxyResolution} px, {settings.ProxyEpochs} epochs per architecture.");
            var latency = new LatencySettings(settings.Batch, Warmup: 3, settings.Runs, settings.Threads);
            int classes = proxy.Classes.Count;
            if (compareZoo) CompareZoo(proxy, latency, settings.Resolution, Path.Combine(outDir, "zoo.csv"), budget * ZooShare, cancellationToken);

            var space = new SearchSpace(ArchitectureSpec.MobileNetV2Skeleton, settings.Resolution);
            ISearchStrategy strategy = settings.Strategy == "random"
                ? new RandomSearch(space.ChoiceCounts)
                : new ReinforceController(space.ChoiceCounts, new ReinforceOptions(LearningRate: settings.ControllerLearningRate));
            var reward = settings.Hard ? LatencyReward.Hard : LatencyReward.Soft;
            var evaluator = new CompositeEvaluator(proxy, (spec, ct) => OnnxLatency.Measure(spec, classes, latency, ct).MedianMsPerBatch);
            var search = new ArchitectureSearch(space, strategy, evaluator, new SearchOptions
            {
                TargetLatencyMs = settings.TargetLatencyMs!.Value,
                Reward = reward,
                MaxSamples = settings.Samples,
                TimeBudget = budget is { } b ? Max(b * (1 - RetimeShare) - clock.Elapsed, TimeSpan.FromMilliseconds(1)) : null,
                Seed = (ulong)settings.Seed,
                CheckpointPath = checkpoint,
                Resume = settings.Resume,
                NumClasses = classes,
            });
            search.SampleEvaluated += s => AnsiConsole.MarkupLineInterpolated(
                $"#{s.Index,4}  acc {s.Accuracy:P1}  {s.LatencyMs,7:F2} ms  {s.Macs / 1e6,7:F1} M MACs  reward {s.Reward:F4}  ({s.Seconds:F1} s)");
            var result = search.Run(cancellationToken);
            var retimeSettings = latency with { Runs = 3 * latency.Runs };
            // A cancelled search (Ctrl-C) writes what it has at once; re-timing would keep the user waiting. Re-timing
            // that would overrun the budget is dropped: the samples keep their first measurement.
            IReadOnlyList<SearchSample> retimed = [];
            if (result.StopReason != SearchStopReason.Cancelled)
            {
                using var retimeBudget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                if (budget is { } whole) retimeBudget.CancelAfter(Max(whole - clock.Elapsed, TimeSpan.FromMilliseconds(1)));
                try
                {
                    retimed = FinalRetiming.Retime(result.Samples, settings.RetimeTop,
                        s => OnnxLatency.Measure(s.Spec, classes, retimeSettings, retimeBudget.Token).MedianMsPerBatch, reward, settings.TargetLatencyMs!.Value);
                }
                catch (OperationCanceledException) when (retimeBudget.IsCancellationRequested)
                {
                    AnsiConsole.MarkupLine("[yellow]The time budget ran out before the final re-timing; best.json keeps the search's measurements.[/]");
                }
            }
            var written = SearchReport.Write(result, outDir, retimed).ToList();
            written.Add(Reports.SearchPlot.Write(result.Samples, Reports.SearchPlot.ReadZoo(Path.Combine(outDir, "zoo.csv")), settings.TargetLatencyMs!.Value, outDir));

            AnsiConsole.MarkupLineInterpolated($"Stopped ({result.StopReason}) after {result.Samples.Count} samples, {result.ElapsedSeconds / 60:F1} min.");
            if (result.Best is { } best)
                AnsiConsole.MarkupLineInterpolated(
                    $"Best reward {best.Reward:F4}: #{best.Index}, accuracy {best.Accuracy:P1}, {best.LatencyMs:F2} ms, {best.Macs / 1e6:F1} M MACs, {best.Params / 1e6:F2} M params");
            if (retimed.Count > 0)
                AnsiConsole.MarkupLineInterpolated(
                    $"Re-timed the {retimed.Count} best ({retimeSettings.Runs} runs each, retimed.csv): best.json is #{retimed[0].Index}, reward {retimed[0].Reward:F4} at {retimed[0].LatencyMs:F2} ms.");
            AnsiConsole.MarkupLineInterpolated($"Pareto front: {result.ParetoFront.Count} architectures. Wrote {written.Count} files to {outDir}; {clock.Elapsed.TotalMinutes:F1} min in all.");
            return 0;
        });

    /// <summary>
    /// Times and proxy-trains the hand-designed zoo variants once per output folder (zoo.csv; a resumed search keeps it),
    /// so that the searched architectures can be compared with them on the same data, proxy and machine.
    /// </summary>
    private static void CompareZoo(ProxyTrainingAccuracy proxy, LatencySettings latency, int resolution, string path, TimeSpan? budget,
        CancellationToken cancellationToken)
    {
        using var zooBudget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (budget is { } limit) zooBudget.CancelAfter(limit);
        var csv = new StringBuilder("name,accuracy,latency_ms,macs,params\n");
        int compared = 0;
        try
        {
            foreach (var name in DefaultZoo)
            {
                var variant = BackboneRegistry.Get(name);
                double accuracy = proxy.Accuracy(() => variant.Create(new BackboneOptions { NumClasses = 0 }), zooBudget.Token);
                using var model = variant.Create(new BackboneOptions { NumClasses = proxy.Classes.Count });
                var profile = ModelProfiler.Profile(model, resolution);
                double ms = OnnxLatency.Measure(model, resolution, latency, zooBudget.Token).MedianMsPerBatch;
                AnsiConsole.MarkupLineInterpolated($"zoo {name,-20} acc {accuracy:P1}  {ms,7:F2} ms  {profile.Macs / 1e6,7:F1} M MACs");
                csv.Append(CultureInfo.InvariantCulture, $"{name},{accuracy:R},{ms:R},{profile.Macs},{profile.Params}\n");
                compared++;
            }
        }
        catch (OperationCanceledException) when (zooBudget.IsCancellationRequested)
        {
            // What was compared is kept (a resumed search does not compare again): the budget is the user's choice.
            AnsiConsole.MarkupLineInterpolated($"[yellow]Zoo comparison stopped at its share of the time budget after {compared} of {DefaultZoo.Count} networks.[/]");
        }
        OnnxExporter.WriteAtomically(path, Encoding.UTF8.GetBytes(csv.ToString()));
    }

    /// <summary>Share of <c>--time</c> the zoo comparison may take.</summary>
    private const double ZooShare = 0.25;

    /// <summary>Share of <c>--time</c> kept for re-timing the best architectures after the search.</summary>
    private const double RetimeShare = 0.05;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static string Span(TimeSpan t) => t.TotalSeconds < 120
        ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.#} s")
        : string.Create(CultureInfo.InvariantCulture, $"{t.TotalMinutes:0.#} min");
}
