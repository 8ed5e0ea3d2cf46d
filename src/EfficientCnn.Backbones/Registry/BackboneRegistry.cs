using System.Reflection;

namespace EfficientCnn.Backbones.Registry;

/// <summary>Every named variant of the zoo: the variants of every <see cref="IBackboneFamily"/> of this assembly, in listing order.</summary>
public static class BackboneRegistry
{
    private static readonly Lazy<IReadOnlyList<BackboneVariant>> variants = new(() =>
    {
        var families = typeof(BackboneRegistry).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && !t.IsInterface && typeof(IBackboneFamily).IsAssignableFrom(t))
            .Select(t => (Type: t, Order: (int)Invoke(nameof(ListingOrderOf), t)!))
            .OrderBy(f => f.Order)
            .ToList();
        var sharedOrder = families.GroupBy(f => f.Order).Where(g => g.Count() > 1).Select(g => string.Join(" and ", g.Select(f => f.Type.Name))).ToList();
        if (sharedOrder.Count > 0) throw new InvalidOperationException("Families with the same listing order: " + string.Join("; ", sharedOrder));
        var all = families.SelectMany(f => (IEnumerable<BackboneVariant>)Invoke(nameof(VariantsOf), f.Type)!).ToList();
        var duplicates = all.GroupBy(v => v.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0) throw new InvalidOperationException("Duplicate variant names: " + string.Join(", ", duplicates));
        return all;
    });

    // Static abstract members are reached through a generic method constrained to the interface.
    private static object? Invoke(string method, Type family) =>
        typeof(BackboneRegistry).GetMethod(method, BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(family).Invoke(null, null);

    private static int ListingOrderOf<TFamily>() where TFamily : IBackboneFamily => TFamily.ListingOrder;

    private static IEnumerable<BackboneVariant> VariantsOf<TFamily>() where TFamily : IBackboneFamily => TFamily.Variants();

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
