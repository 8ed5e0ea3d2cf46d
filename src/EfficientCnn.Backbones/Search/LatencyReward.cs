namespace EfficientCnn.Backbones.Search;

/// <summary>
/// MNASNet's multi-objective reward (Tan et al. 2019, Section 3, eq. 2): ACC(m) × [LAT(m) / T]^w with
/// w = α when LAT(m) ≤ T and w = β otherwise.
/// </summary>
/// <param name="Alpha">Exponent when the model meets the target (≤ 0).</param>
/// <param name="Beta">Exponent when it misses the target (≤ 0).</param>
public sealed record LatencyReward(double Alpha, double Beta)
{
    /// <summary>The paper's soft constraint, α = β = −0.07: each doubling of latency costs about 5% of reward (Section 3).</summary>
    public static LatencyReward Soft { get; } = new(-0.07, -0.07);

    /// <summary>The paper's hard constraint, α = 0, β = −1: accuracy alone up to T, then a steep penalty (Section 3, Figure 2).</summary>
    public static LatencyReward Hard { get; } = new(0, -1);

    /// <summary>The reward of a model with <paramref name="accuracy"/> and <paramref name="latencyMs"/> for target <paramref name="targetMs"/>.</summary>
    /// <exception cref="ArgumentException">Latency or target not finite and &gt; 0, or accuracy not finite.</exception>
    public double Compute(double accuracy, double latencyMs, double targetMs)
    {
        if (!double.IsFinite(accuracy)) throw new ArgumentException($"accuracy must be finite, got {accuracy}.", nameof(accuracy));
        if (!(latencyMs > 0) || !double.IsFinite(latencyMs)) throw new ArgumentException($"latencyMs must be > 0, got {latencyMs}.", nameof(latencyMs));
        if (!(targetMs > 0) || !double.IsFinite(targetMs)) throw new ArgumentException($"targetMs must be > 0, got {targetMs}.", nameof(targetMs));
        double w = latencyMs <= targetMs ? Alpha : Beta;
        return accuracy * Math.Pow(latencyMs / targetMs, w);
    }
}
