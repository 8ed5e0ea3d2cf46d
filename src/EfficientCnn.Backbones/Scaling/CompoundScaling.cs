using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Profiling;

namespace EfficientCnn.Backbones.Scaling;

/// <summary>Depth, width and resolution of a network scaled by compound coefficient <see cref="Phi"/>.</summary>
/// <param name="Phi">Compound coefficient φ.</param>
/// <param name="DepthMultiplier">d = α^φ: blocks per stage are multiplied by it (rounded up).</param>
/// <param name="WidthMultiplier">w = β^φ: channels are multiplied by it (rounded to a multiple of 8).</param>
/// <param name="Resolution">r = base resolution · γ^φ, rounded (see <see cref="CompoundScaling"/>).</param>
public sealed record ScaledConfig(double Phi, double DepthMultiplier, double WidthMultiplier, int Resolution);

/// <summary>Outcome of <see cref="CompoundScaling.ForBudget"/>: the φ found and the cost the profiler measured for it.</summary>
/// <param name="Config">The scaled configuration.</param>
/// <param name="Macs">Multiply-accumulates of the model built from <paramref name="Config"/> at its resolution.</param>
/// <param name="TargetMacs">The budget asked for.</param>
public sealed record BudgetResult(ScaledConfig Config, long Macs, long TargetMacs)
{
    /// <summary>Relative miss: Macs / TargetMacs − 1.</summary>
    public double RelativeError => (double)Macs / TargetMacs - 1;
}

/// <summary>
/// Compound scaling (Tan &amp; Le 2019, section 3.3, eq. 3): depth d = α^φ, width w = β^φ, resolution r = γ^φ, with
/// α·β²·γ² ≈ 2 so that FLOPs (∝ d·w²·r²) grow by about 2^φ. The paper's grid search on B0 gave α = 1.2, β = 1.1, γ = 1.15.
/// </summary>
/// <remarks>
/// <para>The published B1–B7 are not exactly α^φ/β^φ/γ^φ: their (width, depth, resolution) were rounded by hand
/// (e.g. B1 = 1.0/1.1/240), so the registry builds them from their published multipliers, and this class serves
/// scaling to any other φ, including fractional and negative ones.</para>
/// <para>Resolution: 224·γ^φ rounded to the nearest multiple of <see cref="ResolutionMultiple"/>, 1 by default, i.e. the
/// nearest pixel (φ = 1 gives 258). The network takes any size ≥ 32 because it ends in adaptive pooling; pass 32 to
/// make every stride-2 layer divide evenly (φ = 1 then gives 256), or 8 to match TF's input pipelines.</para>
/// <para>The real cost grows faster than 1.92^φ just above φ = 0: depth is ceil(n·α^φ) per stage, so every 1-block stage
/// doubles as soon as φ &gt; 0 (B0's 16 blocks become 23 at φ = 1, as in B1), and odd resolutions round feature maps up.
/// After that one-off step each unit of φ multiplies the profiled cost by about α·β²·γ² again;
/// <see cref="ForBudget"/> therefore measures the built networks instead of trusting 2^φ.</para>
/// </remarks>
public sealed class CompoundScaling
{
    /// <summary>Smallest resolution a scaled model accepts (five stride-2 stages).</summary>
    public const int MinResolution = 32;

    /// <summary>The paper's coefficients (α 1.2, β 1.1, γ 1.15) at B0's 224 px.</summary>
    public static CompoundScaling Paper { get; } = new();

    /// <summary>Creates a scaling rule.</summary>
    /// <param name="alpha">Depth coefficient α &gt; 0 (paper: 1.2).</param>
    /// <param name="beta">Width coefficient β &gt; 0 (paper: 1.1).</param>
    /// <param name="gamma">Resolution coefficient γ &gt; 0 (paper: 1.15).</param>
    /// <param name="baseResolution">Resolution of the φ = 0 network, ≥ 32 (B0: 224).</param>
    /// <param name="resolutionMultiple">Scaled resolutions are rounded to a multiple of this, ≥ 1.</param>
    public CompoundScaling(double alpha = 1.2, double beta = 1.1, double gamma = 1.15, int baseResolution = 224, int resolutionMultiple = 1)
    {
        Multipliers.RequirePositive(alpha, nameof(alpha));
        Multipliers.RequirePositive(beta, nameof(beta));
        Multipliers.RequirePositive(gamma, nameof(gamma));
        if (baseResolution < MinResolution)
            throw new ArgumentException($"baseResolution must be >= {MinResolution}, got {baseResolution}.", nameof(baseResolution));
        if (resolutionMultiple < 1)
            throw new ArgumentException($"resolutionMultiple must be >= 1, got {resolutionMultiple}.", nameof(resolutionMultiple));
        Alpha = alpha;
        Beta = beta;
        Gamma = gamma;
        BaseResolution = baseResolution;
        ResolutionMultiple = resolutionMultiple;
    }

    /// <summary>Depth coefficient α.</summary>
    public double Alpha { get; }

    /// <summary>Width coefficient β.</summary>
    public double Beta { get; }

    /// <summary>Resolution coefficient γ.</summary>
    public double Gamma { get; }

    /// <summary>Resolution at φ = 0.</summary>
    public int BaseResolution { get; }

    /// <summary>Scaled resolutions are rounded to a multiple of this.</summary>
    public int ResolutionMultiple { get; }

    /// <summary>α·β²·γ²: the FLOPs factor per unit of φ the constraint of eq. 3 sets to about 2 (1.92 for the paper's values).</summary>
    public double CostFactorPerPhi => Alpha * Beta * Beta * Gamma * Gamma;

    /// <summary>Multipliers and resolution for compound coefficient <paramref name="phi"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="phi"/> is not finite, or gives a resolution below 32 px (or beyond int).</exception>
    public ScaledConfig Scale(double phi)
    {
        if (!double.IsFinite(phi)) throw new ArgumentException($"phi must be a finite number, got {phi}.", nameof(phi));
        double exact = BaseResolution * Math.Pow(Gamma, phi);
        double rounded = Math.Round(exact / ResolutionMultiple, MidpointRounding.AwayFromZero) * ResolutionMultiple;
        // A coarse multiple must not round a valid size below the minimum.
        if (rounded < MinResolution && exact >= MinResolution) rounded = Math.Ceiling(exact / ResolutionMultiple) * ResolutionMultiple;
        if (rounded < MinResolution)
            throw new ArgumentException(
                $"phi = {phi} scales the resolution to {exact:F1} px, below the {MinResolution} px the network needs; phi must be >= {MinimumPhi:F3}.",
                nameof(phi));
        if (rounded > int.MaxValue)
            throw new ArgumentException($"phi = {phi} scales the resolution beyond any image size ({exact:E2} px).", nameof(phi));
        return new ScaledConfig(phi, Math.Pow(Alpha, phi), Math.Pow(Beta, phi), (int)rounded);
    }

    /// <summary>Smallest φ whose resolution reaches <see cref="MinResolution"/> (ignoring rounding, which can only allow a little less).</summary>
    public double MinimumPhi => Math.Log((double)MinResolution / BaseResolution) / Math.Log(Gamma);

    /// <summary>Builds the EfficientNet of <paramref name="config"/> (B0 scaled by its width and depth multipliers).</summary>
    public static EfficientNet Build(ScaledConfig config, int numClasses = 1000, double dropRate = 0.2,
        double stochasticDepthProb = EfficientNet.DefaultStochasticDepthProb) =>
        EfficientNet.FromMultipliers(config.WidthMultiplier, config.DepthMultiplier, dropRate, numClasses, stochasticDepthProb);

    /// <summary>Profiled multiply-accumulates of the φ-scaled model at its scaled resolution.</summary>
    public long Macs(double phi, int numClasses = 1000) => Macs(Scale(phi), numClasses);

    private static long Macs(ScaledConfig config, int numClasses)
    {
        using var model = Build(config, numClasses);
        return ModelProfiler.Profile(model, config.Resolution).Macs;
    }

    /// <summary>
    /// Finds the φ whose scaled model costs about <paramref name="targetMacs"/>, by bracketing and bisection on φ
    /// (steps placed by interpolating log cost) with the profiler
    /// measuring each candidate (cost is non-decreasing in φ: channel rounding, ceil on depth and resolution all are).
    /// Cost moves in steps (a whole block, 8 channels, one pixel), so the result is the closer side of the step that
    /// crosses the target.
    /// </summary>
    /// <param name="targetMacs">Budget in multiply-accumulates per image, &gt; 0.</param>
    /// <param name="numClasses">Classes of the head counted in the cost (1000 as in the paper).</param>
    /// <param name="relativeTolerance">Stop once the cost is within this fraction of the target.</param>
    /// <exception cref="ArgumentException">The budget is not positive, or is below the cost of the smallest valid φ.</exception>
    public BudgetResult ForBudget(long targetMacs, int numClasses = 1000, double relativeTolerance = 0.005)
    {
        if (targetMacs <= 0) throw new ArgumentException($"targetMacs must be > 0, got {targetMacs}.", nameof(targetMacs));
        var cache = new Dictionary<double, long>();
        long Cost(double phi) => cache.TryGetValue(phi, out var c) ? c : cache[phi] = Macs(phi, numClasses);
        double best = SolvePhi(phi => Cost(phi), targetMacs, relativeTolerance, nameof(targetMacs));
        return new BudgetResult(Scale(best), Cost(best), targetMacs);
    }

    /// <summary>
    /// Finds the φ whose cost is closest to <paramref name="target"/> for any cost that grows with φ (MACs, parameters,
    /// measured latency of any scalable base): bracketing, then bisection with steps placed by interpolating log cost
    /// (eq. 3 makes log cost about linear in φ). Cost moves in steps (a whole block, 8 channels, one pixel), so the
    /// result is the closer side of the step that crosses the target. <see cref="ForBudget"/> is this with profiled MACs.
    /// </summary>
    /// <param name="cost">Cost of the φ-scaled model; called once per φ tried (cache it there when it is expensive).</param>
    /// <param name="target">Wanted cost, &gt; 0.</param>
    /// <param name="relativeTolerance">Stop once the cost is within this fraction of the target.</param>
    /// <param name="targetName">Option name used in errors (ParamName), e.g. <c>targetMacs</c>.</param>
    /// <returns>The φ found.</returns>
    /// <exception cref="ArgumentException">The target is not positive, or is below the cost of the smallest valid φ.</exception>
    public double SolvePhi(Func<double, double> cost, double target, double relativeTolerance = 0.005, string targetName = "target")
    {
        ArgumentNullException.ThrowIfNull(cost);
        if (!(target > 0) || !double.IsFinite(target)) throw new ArgumentException($"{targetName} must be > 0, got {target}.", targetName);
        if (!(relativeTolerance > 0)) throw new ArgumentException($"relativeTolerance must be > 0, got {relativeTolerance}.", nameof(relativeTolerance));
        var cache = new Dictionary<double, double>();
        double Cost(double phi) => cache.TryGetValue(phi, out var c) ? c : cache[phi] = cost(phi);
        bool Close(double c) => Math.Abs(c / target - 1) <= relativeTolerance;

        // First guess from eq. 3 (cost ≈ CostFactorPerPhi^φ × base); φ = 0 and the guess then bracket the target,
        // widened by whole units of φ where they do not.
        double minPhi = MinimumPhi + 1e-9;
        double baseCost = Cost(0);
        double guess = Math.Max(minPhi, Math.Log(target / baseCost) / Math.Log(CostFactorPerPhi));
        double lo, hi;
        if (Cost(guess) < target)
        {
            lo = guess;
            hi = guess + 1;
            while (Cost(hi) < target) { lo = hi; hi += 1; }
        }
        else
        {
            hi = guess;
            lo = guess > 0 ? 0 : Math.Max(minPhi, guess - 1);
            while (Cost(lo) > target)
            {
                if (lo <= minPhi)
                    throw new ArgumentException(
                        $"{targetName} {target:N0} is below the cost of the smallest valid model ({Cost(lo):N0} at {Scale(lo).Resolution} px).",
                        targetName);
                hi = lo;
                lo = Math.Max(minPhi, lo - 1);
            }
        }

        for (int i = 0; i < 40 && hi - lo > 1e-4; i++)
        {
            if (Close(Cost(lo)) || Close(Cost(hi))) break;
            // Interpolate log cost (false position) for few cost evaluations; clamping to the middle half of the
            // bracket keeps bisection's guaranteed shrinking across cost steps.
            double t = Math.Log(target / Cost(lo)) / Math.Log(Cost(hi) / Cost(lo));
            double mid = lo + Math.Clamp(double.IsFinite(t) ? t : 0.5, 0.25, 0.75) * (hi - lo);
            if (Cost(mid) < target) lo = mid; else hi = mid;
        }
        return Math.Abs(Cost(lo) - target) <= Math.Abs(Cost(hi) - target) ? lo : hi;
    }

    /// <summary>
    /// Finds the φ whose model costs <paramref name="costRatio"/> times the φ = 0 model (eq. 3 predicts φ ≈ log₂ ratio;
    /// the profiler measures the real, rounded networks).
    /// </summary>
    /// <param name="costRatio">Wanted FLOPs ratio to the base network, &gt; 0.</param>
    /// <param name="numClasses">Classes of the head counted in the cost.</param>
    public BudgetResult ForCostRatio(double costRatio, int numClasses = 1000)
    {
        if (!double.IsFinite(costRatio) || costRatio <= 0)
            throw new ArgumentException($"costRatio must be a finite number > 0, got {costRatio}.", nameof(costRatio));
        return ForBudget((long)Math.Round(costRatio * Macs(0, numClasses)), numClasses);
    }
}
