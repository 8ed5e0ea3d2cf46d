namespace EfficientCnn.Backbones.Search;

/// <summary>One sampled architecture and what the search measured for it.</summary>
/// <param name="Index">0-based position in the search.</param>
/// <param name="Decisions">Choice indices in the <see cref="SearchSpace"/>.</param>
/// <param name="Spec">The decoded architecture.</param>
/// <param name="Accuracy">Accuracy the evaluator reported.</param>
/// <param name="LatencyMs">Latency the evaluator reported.</param>
/// <param name="Reward">MNASNet's reward for them (<see cref="LatencyReward"/>).</param>
/// <param name="Macs">Multiply-accumulates per image at the spec's resolution.</param>
/// <param name="Params">Parameters (with the search's classifier head).</param>
/// <param name="Seconds">Wall time of the evaluation.</param>
public sealed record SearchSample(int Index, int[] Decisions, ArchitectureSpec Spec, double Accuracy, double LatencyMs,
    double Reward, long Macs, long Params, double Seconds);

/// <summary>Pareto front of accuracy (higher is better) against latency (lower is better).</summary>
public static class ParetoFront
{
    /// <summary>
    /// The items no other item beats on both objectives (at least as accurate and at least as fast, better in one),
    /// sorted by latency; ties keep the first occurrence.
    /// </summary>
    public static IReadOnlyList<T> Of<T>(IEnumerable<T> items, Func<T, double> accuracy, Func<T, double> latency)
    {
        ArgumentNullException.ThrowIfNull(items);
        var front = new List<T>();
        double bestAccuracy = double.NegativeInfinity;
        // Fastest first (stable sort: ties keep their order); an item is on the front when it is more accurate than
        // everything at least as fast.
        foreach (var group in items.OrderBy(latency).GroupBy(latency))
        {
            var best = group.OrderByDescending(accuracy).First();
            if (accuracy(best) > bestAccuracy)
            {
                front.Add(best);
                bestAccuracy = accuracy(best);
            }
        }
        return front;
    }
}
