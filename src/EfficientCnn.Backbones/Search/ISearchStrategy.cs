using System.Text.Json;

namespace EfficientCnn.Backbones.Search;

/// <summary>Proposes architectures (as decision indices of a <see cref="SearchSpace"/>) and learns from their rewards.</summary>
public interface ISearchStrategy
{
    /// <summary>Name recorded in checkpoints and reports, e.g. <c>reinforce</c>.</summary>
    string Name { get; }

    /// <summary>Draws the next architecture's decisions; all randomness comes from <paramref name="random"/>.</summary>
    int[] Propose(SearchRandom random);

    /// <summary>Learns from the reward of decisions it proposed.</summary>
    void Observe(IReadOnlyList<int> decisions, double reward);

    /// <summary>The strategy's learned state as JSON (null when it has none), stored in search checkpoints.</summary>
    JsonElement? SaveState();

    /// <summary>Restores a state written by <see cref="SaveState"/>.</summary>
    /// <exception cref="ArgumentException">The state does not fit this strategy.</exception>
    void RestoreState(JsonElement state);
}

/// <summary>Random search: every decision uniform, nothing learned. The baseline the controller must beat at equal budget.</summary>
public sealed class RandomSearch : ISearchStrategy
{
    private readonly int[] choiceCounts;

    /// <summary>Creates the strategy over decisions with <paramref name="choiceCounts"/> choices each.</summary>
    public RandomSearch(IReadOnlyList<int> choiceCounts)
    {
        ArgumentNullException.ThrowIfNull(choiceCounts);
        if (choiceCounts.Count == 0 || choiceCounts.Any(c => c < 1))
            throw new ArgumentException("choiceCounts must be non-empty with every count >= 1.", nameof(choiceCounts));
        this.choiceCounts = choiceCounts.ToArray();
    }

    /// <inheritdoc />
    public string Name => "random";

    /// <inheritdoc />
    public int[] Propose(SearchRandom random) => choiceCounts.Select(random.Next).ToArray();

    /// <inheritdoc />
    public void Observe(IReadOnlyList<int> decisions, double reward) { }

    /// <inheritdoc />
    public JsonElement? SaveState() => null;

    /// <inheritdoc />
    public void RestoreState(JsonElement state) { }
}
