using EfficientCnn.Backbones.Search;
namespace EfficientCnn.Backbones.Scaling;

/// <summary>One (α, β, γ) tried by <see cref="CoefficientGridSearch"/>, with the φ = 1 model's scores.</summary>
/// <param name="Alpha">Depth coefficient.</param>
/// <param name="Beta">Width coefficient.</param>
/// <param name="Gamma">Resolution coefficient.</param>
/// <param name="Spec">The base scaled by (α, β, γ) at φ = 1.</param>
/// <param name="Accuracy">Accuracy the evaluator reported.</param>
/// <param name="LatencyMs">Latency the evaluator reported.</param>
public sealed record CoefficientCandidate(double Alpha, double Beta, double Gamma, ArchitectureSpec Spec, double Accuracy, double LatencyMs)
{
    /// <summary>α·β²·γ², the cost factor of one unit of φ.</summary>
    public double CostFactor => Alpha * Beta * Beta * Gamma * Gamma;
}

/// <summary>
/// EfficientNet's step 1 (Tan &amp; Le 2019, Section 3.3): fix φ = 1 (twice the resources) and grid-search α, β, γ ≥ 1
/// under α·β²·γ² ≈ 2, keeping the most accurate. Accuracy comes from an <see cref="IArchitectureEvaluator"/> (a proxy
/// training on the user's data), so the coefficients fit the user's task rather than ImageNet.
/// </summary>
public static class CoefficientGridSearch
{
    /// <summary>
    /// The grid: α from 1 to 2 and β, γ from 1 to 1.5 in steps of <paramref name="step"/>, keeping points with
    /// |α·β²·γ² − <paramref name="costFactor"/>| ≤ <paramref name="tolerance"/>, plus the paper's (1.2, 1.1, 1.15).
    /// </summary>
    public static IReadOnlyList<(double Alpha, double Beta, double Gamma)> Grid(double step = 0.1, double costFactor = 2, double tolerance = 0.1)
    {
        if (!(step > 0) || step > 1) throw new ArgumentException($"step must be in (0, 1], got {step}.", nameof(step));
        if (!(costFactor > 1)) throw new ArgumentException($"costFactor must be > 1, got {costFactor}.", nameof(costFactor));
        if (!(tolerance > 0)) throw new ArgumentException($"tolerance must be > 0, got {tolerance}.", nameof(tolerance));
        IEnumerable<double> Range(double max) =>
            Enumerable.Range(0, (int)Math.Round((max - 1) / step) + 1).Select(i => Math.Round(1 + i * step, 6));
        var grid = (from a in Range(2) from b in Range(1.5) from g in Range(1.5)
                    where Math.Abs(a * b * b * g * g - costFactor) <= tolerance
                    select (a, b, g)).ToList();
        if (!grid.Contains((1.2, 1.1, 1.15))) grid.Insert(0, (1.2, 1.1, 1.15));
        return grid;
    }

    /// <summary>Scores every grid point's φ = 1 model; most accurate first.</summary>
    /// <param name="baseSpec">The φ = 0 network.</param>
    /// <param name="evaluator">Accuracy (and latency) of a spec.</param>
    /// <param name="grid">Points to try (default <see cref="Grid"/>).</param>
    /// <param name="cancellationToken">Stops between (and, through the evaluator, during) evaluations.</param>
    public static IReadOnlyList<CoefficientCandidate> Run(ArchitectureSpec baseSpec, IArchitectureEvaluator evaluator,
        IReadOnlyList<(double Alpha, double Beta, double Gamma)>? grid = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseSpec);
        ArgumentNullException.ThrowIfNull(evaluator);
        baseSpec.Validate();
        var results = new List<CoefficientCandidate>();
        foreach (var (a, b, g) in grid ?? Grid())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var spec = baseSpec.Scale(a, b, (int)Math.Round(baseSpec.Resolution * g));
            var (accuracy, latency) = evaluator.Evaluate(spec, cancellationToken);
            results.Add(new CoefficientCandidate(a, b, g, spec, accuracy, latency));
        }
        return results.OrderByDescending(c => c.Accuracy).ToList();
    }
}
