using System.Diagnostics;
using System.Text.Json;
using EfficientCnn.Backbones.Profiling;

namespace EfficientCnn.Backbones.Search;

/// <summary>Settings of an <see cref="ArchitectureSearch"/>.</summary>
public sealed record SearchOptions
{
    /// <summary>Latency target T of the reward, in milliseconds.</summary>
    public required double TargetLatencyMs { get; init; }

    /// <summary>Soft or hard latency constraint (default soft, as MNASNet's main results).</summary>
    public LatencyReward Reward { get; init; } = LatencyReward.Soft;

    /// <summary>Stop after this many samples in total (resumed samples included); null: no limit.</summary>
    public int? MaxSamples { get; init; }

    /// <summary>Stop once this much search time has passed in total (resumed time included); null: no limit.</summary>
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>Seed of the decisions' random generator.</summary>
    public ulong Seed { get; init; }

    /// <summary>JSON checkpoint written after every sample (atomically); null: none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Continue from <see cref="CheckpointPath"/> when it exists.</summary>
    public bool Resume { get; init; }

    /// <summary>Classes of the head counted in the recorded params and MACs.</summary>
    public int NumClasses { get; init; } = 1000;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting at fault.</summary>
    public SearchOptions Validate()
    {
        if (!(TargetLatencyMs > 0) || !double.IsFinite(TargetLatencyMs))
            throw new ArgumentException($"TargetLatencyMs must be > 0, got {TargetLatencyMs}.", nameof(TargetLatencyMs));
        ArgumentNullException.ThrowIfNull(Reward, nameof(Reward));
        if (MaxSamples is < 1) throw new ArgumentException($"MaxSamples must be >= 1, got {MaxSamples}.", nameof(MaxSamples));
        if (TimeBudget is { } t && t <= TimeSpan.Zero) throw new ArgumentException($"TimeBudget must be positive, got {t}.", nameof(TimeBudget));
        if (MaxSamples is null && TimeBudget is null)
            throw new ArgumentException("Give a budget: MaxSamples and/or TimeBudget.", nameof(MaxSamples));
        if (Resume && CheckpointPath is null) throw new ArgumentException("Resume needs a CheckpointPath.", nameof(Resume));
        if (NumClasses < 0) throw new ArgumentException($"NumClasses must be >= 0, got {NumClasses}.", nameof(NumClasses));
        return this;
    }
}

/// <summary>Why a search stopped.</summary>
public enum SearchStopReason
{
    /// <summary>All <see cref="SearchOptions.MaxSamples"/> were evaluated.</summary>
    SampleBudget,

    /// <summary><see cref="SearchOptions.TimeBudget"/> ran out.</summary>
    TimeBudget,

    /// <summary>The caller's cancellation token fired; the checkpoint holds every finished sample.</summary>
    Cancelled,
}

/// <summary>Outcome of <see cref="ArchitectureSearch.Run"/>.</summary>
/// <param name="Samples">Every evaluated architecture, in order (resumed ones included).</param>
/// <param name="StopReason">Why the search stopped.</param>
/// <param name="ElapsedSeconds">Search time in total, resumed time included.</param>
public sealed record SearchResult(IReadOnlyList<SearchSample> Samples, SearchStopReason StopReason, double ElapsedSeconds)
{
    /// <summary>The sample with the highest reward (first one on ties); null when nothing was evaluated.</summary>
    public SearchSample? Best => Samples.Count == 0 ? null : Samples.MaxBy(s => s.Reward);

    /// <summary>The accuracy/latency Pareto front, fastest first.</summary>
    public IReadOnlyList<SearchSample> ParetoFront => Search.ParetoFront.Of(Samples, s => s.Accuracy, s => s.LatencyMs);
}

/// <summary>
/// MNASNet's search loop (Tan et al. 2019, Section 3 and 5): the strategy proposes an architecture, the evaluator measures
/// its accuracy and latency, the reward ACC × (LAT/T)^w goes back to the strategy. Records every sample with its MACs and
/// params (<see cref="ModelProfiler"/>), stops on a sample and/or time budget or cancellation, and checkpoints after every
/// sample so that a killed search resumes exactly where it stopped (same subsequent samples, seeded).
/// </summary>
public sealed class ArchitectureSearch
{
    private readonly SearchSpace space;
    private readonly ISearchStrategy strategy;
    private readonly IArchitectureEvaluator evaluator;

    /// <summary>Creates a search; <see cref="Run"/> starts or resumes it.</summary>
    public ArchitectureSearch(SearchSpace space, ISearchStrategy strategy, IArchitectureEvaluator evaluator, SearchOptions options)
    {
        this.space = space ?? throw new ArgumentNullException(nameof(space));
        this.strategy = strategy ?? throw new ArgumentNullException(nameof(strategy));
        this.evaluator = evaluator ?? throw new ArgumentNullException(nameof(evaluator));
        Options = (options ?? throw new ArgumentNullException(nameof(options))).Validate();
    }

    /// <summary>The settings.</summary>
    public SearchOptions Options { get; }

    /// <summary>Called after each sample is recorded (and checkpointed).</summary>
    public event Action<SearchSample>? SampleEvaluated;

    /// <summary>Runs the search until a budget is spent or <paramref name="cancellationToken"/> fires.</summary>
    /// <exception cref="ArgumentException">The checkpoint belongs to a different search (strategy, seed, target, space).</exception>
    public SearchResult Run(CancellationToken cancellationToken = default)
    {
        var random = new SearchRandom(Options.Seed);
        var samples = new List<SearchSample>();
        double previousSeconds = 0;
        if (Options.Resume && File.Exists(Options.CheckpointPath))
        {
            var checkpoint = SearchCheckpoint.Load(Options.CheckpointPath!);
            checkpoint.RequireSameSearch(Fingerprint(), Options.CheckpointPath!);
            samples.AddRange(checkpoint.Samples);
            random.State = checkpoint.RandomState;
            if (checkpoint.StrategyState is { } saved) strategy.RestoreState(saved);
            previousSeconds = checkpoint.ElapsedSeconds;
        }

        var clock = Stopwatch.StartNew();
        double Elapsed() => previousSeconds + clock.Elapsed.TotalSeconds;
        while (true)
        {
            if (samples.Count >= Options.MaxSamples) return new(samples, SearchStopReason.SampleBudget, Elapsed());
            double left = (Options.TimeBudget?.TotalSeconds ?? double.PositiveInfinity) - Elapsed();
            if (left <= 0) return new(samples, SearchStopReason.TimeBudget, Elapsed());
            if (cancellationToken.IsCancellationRequested) return new(samples, SearchStopReason.Cancelled, Elapsed());

            // A sample cut short by the budget or the caller is dropped: the checkpoint still holds the generator state
            // from before it, so a resumed search proposes it again.
            ulong stateBefore = random.State;
            int[] decisions = strategy.Propose(random);
            var spec = space.Decode(decisions);
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (double.IsFinite(left)) budget.CancelAfter(TimeSpan.FromSeconds(left));
            var evalClock = Stopwatch.StartNew();
            double accuracy, latency;
            try
            {
                (accuracy, latency) = evaluator.Evaluate(spec, budget.Token);
            }
            catch (OperationCanceledException) when (budget.IsCancellationRequested)
            {
                random.State = stateBefore;
                return new(samples, cancellationToken.IsCancellationRequested ? SearchStopReason.Cancelled : SearchStopReason.TimeBudget, Elapsed());
            }
            double reward = Options.Reward.Compute(accuracy, latency, Options.TargetLatencyMs);
            var (macs, parameters) = Cost(spec);
            var sample = new SearchSample(samples.Count, decisions, spec, accuracy, latency, reward, macs, parameters,
                evalClock.Elapsed.TotalSeconds);
            strategy.Observe(decisions, reward);
            samples.Add(sample);
            if (Options.CheckpointPath is { } path)
                new SearchCheckpoint(Fingerprint(), samples, random.State, strategy.SaveState(), Elapsed()).Save(path);
            SampleEvaluated?.Invoke(sample);
        }
    }

    private (long Macs, long Params) Cost(ArchitectureSpec spec)
    {
        using var model = new SearchedNetwork(spec, Options.NumClasses);
        var profile = ModelProfiler.Profile(model, spec.Resolution);
        return (profile.Macs, profile.Params);
    }

    private SearchFingerprint Fingerprint() => new(strategy.Name, Options.Seed, Options.TargetLatencyMs, Options.Reward.Alpha,
        Options.Reward.Beta, space.Skeleton, space.ChoiceCounts);
}

/// <summary>What makes two searches the same search: a checkpoint only resumes the search it was written by.</summary>
/// <param name="Strategy">Strategy name.</param>
/// <param name="Seed">Seed of the decisions.</param>
/// <param name="TargetLatencyMs">Latency target.</param>
/// <param name="Alpha">Reward exponent at or under the target.</param>
/// <param name="Beta">Reward exponent over the target.</param>
/// <param name="Skeleton">The search space's skeleton.</param>
/// <param name="ChoiceCounts">Choices per decision.</param>
public sealed record SearchFingerprint(string Strategy, ulong Seed, double TargetLatencyMs, double Alpha, double Beta,
    ArchitectureSpec Skeleton, int[] ChoiceCounts)
{
    /// <summary>Compares field by field (arrays and the skeleton by value); null when equal, else the first difference (this = checkpoint).</summary>
    public string? Difference(SearchFingerprint other) =>
        Strategy != other.Strategy ? $"strategy: checkpoint {Strategy}, now {other.Strategy}"
        : Seed != other.Seed ? $"seed: checkpoint {Seed}, now {other.Seed}"
        : TargetLatencyMs != other.TargetLatencyMs ? $"target latency: checkpoint {TargetLatencyMs} ms, now {other.TargetLatencyMs} ms"
        : Alpha != other.Alpha || Beta != other.Beta ? $"reward exponents: checkpoint ({Alpha}, {Beta}), now ({other.Alpha}, {other.Beta})"
        : !Skeleton.Equals(other.Skeleton) || !ChoiceCounts.SequenceEqual(other.ChoiceCounts) ? "search space"
        : null;
}

/// <summary>The saved state of a search: its identity, every sample, the generator's state and the strategy's state.</summary>
/// <param name="Search">Which search wrote it.</param>
/// <param name="Samples">Evaluated samples.</param>
/// <param name="RandomState">The <see cref="SearchRandom"/> state after the last sample.</param>
/// <param name="StrategyState">The strategy's <see cref="ISearchStrategy.SaveState"/>.</param>
/// <param name="ElapsedSeconds">Search time so far.</param>
public sealed record SearchCheckpoint(SearchFingerprint Search, IReadOnlyList<SearchSample> Samples, ulong RandomState,
    JsonElement? StrategyState, double ElapsedSeconds)
{
    /// <summary>Writes the checkpoint as JSON, atomically (a killed search never leaves half a file).</summary>
    public void Save(string path) =>
        Onnx.OnnxExporter.WriteAtomically(path, JsonSerializer.SerializeToUtf8Bytes(this, ArchitectureSpec.Json));

    /// <summary>Reads a checkpoint.</summary>
    /// <exception cref="InvalidDataException">The file is not a search checkpoint.</exception>
    public static SearchCheckpoint Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<SearchCheckpoint>(File.ReadAllBytes(path), ArchitectureSpec.Json)
                   ?? throw new InvalidDataException($"{path} holds no search checkpoint.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a search checkpoint: {e.Message}", e);
        }
    }

    /// <summary>Throws when the checkpoint was written by a different search.</summary>
    public void RequireSameSearch(SearchFingerprint current, string path)
    {
        if (Search.Difference(current) is { } difference)
            throw new ArgumentException($"{path} was written by a different search ({difference}); use another checkpoint or output folder.", "resume");
    }
}
