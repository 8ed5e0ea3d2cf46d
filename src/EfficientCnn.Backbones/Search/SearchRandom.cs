namespace EfficientCnn.Backbones.Search;

/// <summary>
/// SplitMix64 (Steele et al. 2014): a tiny generator whose whole state is one 64-bit number, so a search checkpoint can
/// store it and a resumed search draws exactly the numbers the uninterrupted one would have (System.Random cannot be saved).
/// </summary>
public sealed class SearchRandom
{
    /// <summary>Starts the sequence of <paramref name="seed"/>.</summary>
    public SearchRandom(ulong seed) => State = seed;

    /// <summary>The generator's state; assign a saved value to continue its sequence.</summary>
    public ulong State { get; set; }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="count"/>).</summary>
    public int Next(int count)
    {
        if (count < 1) throw new ArgumentException($"count must be >= 1, got {count}.", nameof(count));
        return (int)(NextDouble() * count);
    }

    /// <summary>An index drawn with the given probabilities (summing to 1).</summary>
    public int Categorical(IReadOnlyList<double> probabilities)
    {
        double u = NextDouble(), cumulative = 0;
        for (int i = 0; i < probabilities.Count; i++)
        {
            cumulative += probabilities[i];
            if (u < cumulative) return i;
        }
        return probabilities.Count - 1;
    }
}
