using System.Text.Json;

namespace EfficientCnn.Backbones.Search;

/// <summary>Optimiser of the controller's logits.</summary>
public enum ControllerOptimizer
{
    /// <summary>Adam (Kingma &amp; Ba 2015), β₁ 0.9, β₂ 0.999, ε 1e-8.</summary>
    Adam,

    /// <summary>Plain gradient ascent.</summary>
    Sgd,
}

/// <summary>Settings of <see cref="ReinforceController"/>.</summary>
/// <param name="LearningRate">Step size on the logits.</param>
/// <param name="BaselineDecay">Decay of the reward's exponential moving average (0.95 as Zoph &amp; Le / MNASNet).</param>
/// <param name="EntropyWeight">Weight of the entropy bonus that keeps the policy exploring (0 = none).</param>
/// <param name="Optimizer">Adam or SGD.</param>
public sealed record ReinforceOptions(double LearningRate = 0.05, double BaselineDecay = 0.95, double EntropyWeight = 0,
    ControllerOptimizer Optimizer = ControllerOptimizer.Adam)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting at fault.</summary>
    public ReinforceOptions Validate()
    {
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
            throw new ArgumentException($"LearningRate must be > 0, got {LearningRate}.", nameof(LearningRate));
        if (!(BaselineDecay >= 0 && BaselineDecay < 1))
            throw new ArgumentException($"BaselineDecay must be in [0, 1), got {BaselineDecay}.", nameof(BaselineDecay));
        if (!(EntropyWeight >= 0) || !double.IsFinite(EntropyWeight))
            throw new ArgumentException($"EntropyWeight must be >= 0, got {EntropyWeight}.", nameof(EntropyWeight));
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentException($"Unknown optimizer {(int)Optimizer}.", nameof(Optimizer));
        return this;
    }
}

/// <summary>
/// The controller of NAS with reinforcement learning (Zoph &amp; Le 2017; MNASNet, Tan et al. 2019, Section 5), reduced to
/// what a factorized space needs: one independent softmax per decision (the space's decisions are independent, so the
/// RNN's conditioning is dropped). REINFORCE: after each sample the logits move along
/// (R − b) · ∇ log π(decisions), with b an exponential moving average of past rewards; optional entropy bonus.
/// MNASNet trains its RNN controller with PPO on batches; one-sample REINFORCE with a baseline is Zoph &amp; Le's estimator.
/// </summary>
public sealed class ReinforceController : ISearchStrategy
{
    private const double AdamBeta1 = 0.9, AdamBeta2 = 0.999, AdamEpsilon = 1e-8;
    private State state;

    /// <summary>Creates a uniform policy over decisions with <paramref name="choiceCounts"/> choices each.</summary>
    public ReinforceController(IReadOnlyList<int> choiceCounts, ReinforceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(choiceCounts);
        if (choiceCounts.Count == 0 || choiceCounts.Any(c => c < 1))
            throw new ArgumentException("choiceCounts must be non-empty with every count >= 1.", nameof(choiceCounts));
        Options = (options ?? new ReinforceOptions()).Validate();
        double[][] Zeros() => choiceCounts.Select(c => new double[c]).ToArray();
        state = new State(Zeros(), Zeros(), Zeros(), 0, null);
    }

    /// <summary>The settings.</summary>
    public ReinforceOptions Options { get; }

    /// <inheritdoc />
    public string Name => "reinforce";

    /// <summary>Updates applied so far.</summary>
    public int Steps => state.Step;

    /// <summary>The moving-average baseline; null before the first reward.</summary>
    public double? Baseline => state.Baseline;

    /// <summary>The policy's probabilities of decision <paramref name="decision"/>.</summary>
    public double[] Probabilities(int decision) => Softmax(state.Logits[decision]);

    /// <inheritdoc />
    public int[] Propose(SearchRandom random) => state.Logits.Select(l => random.Categorical(Softmax(l))).ToArray();

    /// <inheritdoc />
    public void Observe(IReadOnlyList<int> decisions, double reward)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        if (decisions.Count != state.Logits.Length)
            throw new ArgumentException($"Expected {state.Logits.Length} decisions, got {decisions.Count}.", nameof(decisions));
        if (!double.IsFinite(reward)) throw new ArgumentException($"reward must be finite, got {reward}.", nameof(reward));
        // The first reward only initialises the baseline (an advantage against 0 would reward whatever came first).
        double advantage = state.Baseline is { } b ? reward - b : 0;
        state.Baseline = state.Baseline is { } old ? Options.BaselineDecay * old + (1 - Options.BaselineDecay) * reward : reward;
        state.Step++;
        for (int d = 0; d < decisions.Count; d++)
        {
            double[] logits = state.Logits[d], p = Softmax(logits);
            double entropy = -p.Sum(q => q > 0 ? q * Math.Log(q) : 0);
            for (int j = 0; j < logits.Length; j++)
            {
                // ∂ log softmax(z)_a / ∂z_j = 1[j = a] − p_j;  ∂H / ∂z_j = −p_j (log p_j + H).
                double gradient = advantage * ((j == decisions[d] ? 1 : 0) - p[j])
                                  - Options.EntropyWeight * p[j] * (Math.Log(Math.Max(p[j], 1e-300)) + entropy);
                logits[j] += Step(d, j, gradient);
            }
        }
    }

    private double Step(int d, int j, double gradient)
    {
        if (Options.Optimizer == ControllerOptimizer.Sgd) return Options.LearningRate * gradient;
        double m = state.M[d][j] = AdamBeta1 * state.M[d][j] + (1 - AdamBeta1) * gradient;
        double v = state.V[d][j] = AdamBeta2 * state.V[d][j] + (1 - AdamBeta2) * gradient * gradient;
        double mHat = m / (1 - Math.Pow(AdamBeta1, state.Step)), vHat = v / (1 - Math.Pow(AdamBeta2, state.Step));
        return Options.LearningRate * mHat / (Math.Sqrt(vHat) + AdamEpsilon);
    }

    private static double[] Softmax(double[] logits)
    {
        double max = logits.Max();
        var e = logits.Select(z => Math.Exp(z - max)).ToArray();
        double sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }

    /// <inheritdoc />
    public JsonElement? SaveState() => JsonSerializer.SerializeToElement(state);

    /// <inheritdoc />
    public void RestoreState(JsonElement saved)
    {
        var restored = saved.Deserialize<State>() ?? throw new ArgumentException("The controller state is empty.", nameof(saved));
        bool fits = restored.Logits.Length == state.Logits.Length
                    && restored.Logits.Zip(state.Logits).All(p => p.First.Length == p.Second.Length)
                    && restored.M.Length == state.M.Length && restored.V.Length == state.V.Length;
        if (!fits) throw new ArgumentException("The controller state was saved for a different search space.", nameof(saved));
        state = restored;
    }

    /// <summary>Everything the policy has learned: logits, Adam moments, step count and baseline.</summary>
    private sealed record State(double[][] Logits, double[][] M, double[][] V, int Step, double? Baseline)
    {
        public int Step { get; set; } = Step;

        public double? Baseline { get; set; } = Baseline;
    }
}
