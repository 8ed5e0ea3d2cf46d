namespace EfficientCnn.Backbones.Search;

/// <summary>
/// Times the best samples of a finished search again before one is chosen. Latency measured inside the search loop
/// shares the machine with the proxy training (and whatever else runs): on the 2-core study machine the in-loop medians
/// of one architecture wandered by ±30 % (docs/search-study.md), enough to crown a sample whose reward came from a lucky
/// timing. Re-timing the top candidates, once the training has stopped and with more runs, picks the best on latencies
/// that are measured alike.
/// </summary>
public static class FinalRetiming
{
    /// <summary>
    /// The <paramref name="top"/> samples with the highest in-loop reward, each with <see cref="SearchSample.LatencyMs"/>
    /// replaced by <paramref name="measure"/> and the reward recomputed, best reward first.
    /// </summary>
    /// <param name="samples">Every sample of the search.</param>
    /// <param name="top">How many to time again (0: none).</param>
    /// <param name="measure">Latency in ms of one sample's architecture.</param>
    /// <param name="reward">The search's reward.</param>
    /// <param name="targetMs">The search's latency target.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="top"/> is negative.</exception>
    public static IReadOnlyList<SearchSample> Retime(IReadOnlyList<SearchSample> samples, int top, Func<SearchSample, double> measure,
        LatencyReward reward, double targetMs)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(measure);
        ArgumentNullException.ThrowIfNull(reward);
        ArgumentOutOfRangeException.ThrowIfNegative(top);
        return samples.OrderByDescending(s => s.Reward).Take(top)
            .Select(s =>
            {
                double ms = measure(s);
                return s with { LatencyMs = ms, Reward = reward.Compute(s.Accuracy, ms, targetMs) };
            })
            .OrderByDescending(s => s.Reward).ToArray();
    }
}
