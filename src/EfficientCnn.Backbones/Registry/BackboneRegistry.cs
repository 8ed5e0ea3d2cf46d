using EfficientCnn.Backbones.Architectures;

namespace EfficientCnn.Backbones.Registry;

/// <summary>Every named variant of the zoo. Each family file declares its variants; this class only lists the families.</summary>
public static class BackboneRegistry
{
    private static readonly Lazy<IReadOnlyList<BackboneVariant>> variants = new(() =>
    {
        var all = new List<BackboneVariant>();
        // The efficient families in the order of the lineage (2017 → 2021), then the reference points.
        all.AddRange(MobileNetV1.Variants());
        all.AddRange(ShuffleNetV1.Variants());
        all.AddRange(MobileNetV2.Variants());
        all.AddRange(ShuffleNetV2.Variants());
        all.AddRange(MnasNet.Variants());
        all.AddRange(EfficientNet.Variants());
        all.AddRange(NfNet.Variants());
        all.AddRange(ResNet.Variants());
        all.AddRange(GoogLeNet.Variants());
        all.AddRange(NasNet.Variants());
        var duplicates = all.GroupBy(v => v.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0) throw new InvalidOperationException("Duplicate variant names: " + string.Join(", ", duplicates));
        return all;
    });

    /// <summary>All variants, in lineage order.</summary>
    public static IReadOnlyList<BackboneVariant> All => variants.Value;

    /// <summary>All variant names.</summary>
    public static IEnumerable<string> Names => All.Select(v => v.Name);

    /// <summary>Looks up a variant by name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the valid names.</exception>
    public static BackboneVariant Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return All.FirstOrDefault(v => string.Equals(v.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException(
                $"Unknown backbone '{name}'. Valid names: {string.Join(", ", Names)}.", nameof(name));
    }

    /// <summary>True when <paramref name="name"/> names a registered variant.</summary>
    public static bool Contains(string name) =>
        All.Any(v => string.Equals(v.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Builds the named variant.</summary>
    public static Backbone Create(string name, BackboneOptions? options = null) => Get(name).Create(options);
}
