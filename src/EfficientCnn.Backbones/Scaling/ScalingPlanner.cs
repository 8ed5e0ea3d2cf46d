using EfficientCnn.Backbones.Search;
using EfficientCnn.Backbones.Profiling;

namespace EfficientCnn.Backbones.Scaling;

/// <summary>The budget compound scaling aims for.</summary>
public enum ScalingTarget
{
    /// <summary>Multiply-accumulates per image (profiler).</summary>
    Macs,

    /// <summary>Parameters (profiler).</summary>
    Params,

    /// <summary>Latency in milliseconds, measured by the planner's latency function (ONNX Runtime in the CLI).</summary>
    LatencyMs,
}

/// <summary>Result of <see cref="ScalingPlanner.Plan"/>.</summary>
/// <param name="Base">The base's name.</param>
/// <param name="Target">What was budgeted.</param>
/// <param name="TargetValue">The budget.</param>
/// <param name="Alpha">Depth coefficient α.</param>
/// <param name="Beta">Width coefficient β.</param>
/// <param name="Gamma">Resolution coefficient γ.</param>
/// <param name="Config">φ, depth and width multipliers, resolution.</param>
/// <param name="BaseCost">The target quantity of the unscaled base.</param>
/// <param name="PredictedCost">What eq. 3 predicts for φ: base · (α·β²·γ²)^φ (params: base · (α·β²)^φ, resolution adds no weights).</param>
/// <param name="MeasuredCost">The target quantity measured on the scaled model.</param>
/// <param name="Macs">Profiled MACs of the scaled model.</param>
/// <param name="Params">Profiled parameters of the scaled model.</param>
/// <param name="Spec">The scaled architecture when the base is a spec, else null.</param>
public sealed record ScalingPlan(string Base, ScalingTarget Target, double TargetValue, double Alpha, double Beta, double Gamma,
    ScaledConfig Config, double BaseCost, double PredictedCost, double MeasuredCost, long Macs, long Params, ArchitectureSpec? Spec)
{
    /// <summary>MeasuredCost / TargetValue − 1.</summary>
    public double RelativeError => MeasuredCost / TargetValue - 1;
}

/// <summary>
/// Budget-driven compound scaling (EfficientNet, Tan &amp; Le 2019, Section 3.3, step 2): given a base and a budget in
/// MACs, parameters or measured latency, finds φ with <see cref="CompoundScaling.SolvePhi"/> and reports the
/// multipliers, eq. 3's predicted cost and the cost measured on the built network.
/// </summary>
public sealed class ScalingPlanner
{
    private readonly Func<Backbone, int, double>? latencyMs;

    /// <summary>Creates a planner.</summary>
    /// <param name="scalableBase">What to scale.</param>
    /// <param name="alpha">Depth coefficient (paper: 1.2).</param>
    /// <param name="beta">Width coefficient (paper: 1.1).</param>
    /// <param name="gamma">Resolution coefficient (paper: 1.15).</param>
    /// <param name="numClasses">Classes of the head counted in the cost.</param>
    /// <param name="latencyMs">Latency of a model at a resolution, in ms; needed for <see cref="ScalingTarget.LatencyMs"/>.</param>
    public ScalingPlanner(ScalableBase scalableBase, double alpha = 1.2, double beta = 1.1, double gamma = 1.15, int numClasses = 1000,
        Func<Backbone, int, double>? latencyMs = null)
    {
        Base = scalableBase ?? throw new ArgumentNullException(nameof(scalableBase));
        if (numClasses < 0) throw new ArgumentException($"numClasses must be >= 0, got {numClasses}.", nameof(numClasses));
        Scaling = new CompoundScaling(alpha, beta, gamma, scalableBase.BaseResolution);
        NumClasses = numClasses;
        this.latencyMs = latencyMs;
    }

    /// <summary>The base.</summary>
    public ScalableBase Base { get; }

    /// <summary>The scaling rule (coefficients and base resolution).</summary>
    public CompoundScaling Scaling { get; }

    /// <summary>Classes of the head counted in the cost.</summary>
    public int NumClasses { get; }

    /// <summary>Finds the φ whose scaled model meets <paramref name="value"/> of <paramref name="target"/>.</summary>
    /// <param name="target">What is budgeted.</param>
    /// <param name="value">The budget (MACs, parameters or ms), &gt; 0.</param>
    /// <param name="relativeTolerance">Stop once within this fraction (default 0.5% for counts, 3% for noisy latency).</param>
    /// <exception cref="ArgumentException">Bad budget (ParamName names the target), or a latency target without a latency function.</exception>
    public ScalingPlan Plan(ScalingTarget target, double value, double? relativeTolerance = null)
    {
        string option = target switch
        {
            ScalingTarget.Macs => "targetMacs",
            ScalingTarget.Params => "targetParams",
            ScalingTarget.LatencyMs => "targetLatencyMs",
            _ => throw new ArgumentException($"Unknown target {(int)target}.", nameof(target)),
        };
        if (target == ScalingTarget.LatencyMs && latencyMs is null)
            throw new ArgumentException("A latency target needs a latency function (ScalingPlanner's latencyMs).", option);
        var costs = new Dictionary<double, (double Cost, long Macs, long Params)>();
        (double Cost, long Macs, long Params) Measure(double phi)
        {
            if (costs.TryGetValue(phi, out var known)) return known;
            var config = Scaling.Scale(phi);
            using var model = Base.Build(config, NumClasses);
            var profile = ModelProfiler.Profile(model, config.Resolution);
            double cost = target switch
            {
                ScalingTarget.Macs => profile.Macs,
                ScalingTarget.Params => profile.Params,
                _ => latencyMs!(model, config.Resolution),
            };
            return costs[phi] = (cost, profile.Macs, profile.Params);
        }

        double tolerance = relativeTolerance ?? (target == ScalingTarget.LatencyMs ? 0.03 : 0.005);
        double phi = Scaling.SolvePhi(p => Measure(p).Cost, value, tolerance, option);
        var best = Scaling.Scale(phi);
        double baseCost = Measure(0).Cost;
        double perPhi = target == ScalingTarget.Params ? Scaling.Alpha * Scaling.Beta * Scaling.Beta : Scaling.CostFactorPerPhi;
        var measured = Measure(phi);
        return new ScalingPlan(Base.Name, target, value, Scaling.Alpha, Scaling.Beta, Scaling.Gamma, best, baseCost,
            baseCost * Math.Pow(perPhi, phi), measured.Cost, measured.Macs, measured.Params, Base.ScaledSpec(best));
    }
}
