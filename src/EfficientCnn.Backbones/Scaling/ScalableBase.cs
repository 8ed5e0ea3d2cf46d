using EfficientCnn.Backbones.Search;
using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Registry;

namespace EfficientCnn.Backbones.Scaling;

/// <summary>
/// A network that compound scaling can grow or shrink in depth and width: an <see cref="ArchitectureSpec"/> (searched,
/// or the zoo's <c>mnasnet_a1</c> expressed as one) or an EfficientNet variant of the zoo (scaled from its own
/// published multipliers). Families that only have a width multiplier cannot scale depth and are not accepted.
/// </summary>
public sealed class ScalableBase
{
    private readonly Func<double, double, int, Backbone> build;

    private ScalableBase(string name, int resolution, ArchitectureSpec? spec, Func<double, double, int, Backbone> build)
    {
        Name = name;
        BaseResolution = resolution;
        Spec = spec;
        this.build = build;
    }

    /// <summary>Name shown in reports (zoo name or spec file).</summary>
    public string Name { get; }

    /// <summary>Resolution of the unscaled base (φ = 0).</summary>
    public int BaseResolution { get; }

    /// <summary>The base as a spec, when it is one (scaled results are then specs too).</summary>
    public ArchitectureSpec? Spec { get; }

    /// <summary>A spec base at its own resolution.</summary>
    public static ScalableBase FromSpec(ArchitectureSpec spec, string name = "spec")
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        return new ScalableBase(name, spec.Resolution, spec,
            (depth, width, classes) => new SearchedNetwork(spec.Scale(depth, width, spec.Resolution), classes));
    }

    /// <summary>A zoo variant: <c>mnasnet_a1</c> (as <see cref="ArchitectureSpec.MnasNetA1"/>) or any <c>efficientnet_b*</c>.</summary>
    /// <exception cref="ArgumentException">Unknown name, or a family without depth scaling (ParamName "name").</exception>
    public static ScalableBase FromZoo(string name)
    {
        var variant = BackboneRegistry.Get(name);
        if (variant.Name == "mnasnet_a1") return FromSpec(ArchitectureSpec.MnasNetA1 with { Resolution = variant.DefaultResolution }, variant.Name);
        if (variant.Family == "EfficientNet")
        {
            double width, depth;
            using (var probe = (EfficientNet)variant.Create(new BackboneOptions { NumClasses = 0 }))
                (width, depth) = (probe.WidthMultiplier, probe.DepthMultiplier);
            return new ScalableBase(variant.Name, variant.DefaultResolution, null,
                (d, w, classes) => EfficientNet.FromMultipliers(width * w, depth * d, numClasses: classes));
        }
        throw new ArgumentException(
            $"{variant.Name} cannot be compound-scaled: its family ({variant.Family}) has no depth multiplier. "
            + "Use mnasnet_a1, an efficientnet_b* variant or an architecture spec (JSON).", nameof(name));
    }

    /// <summary>A zoo name, or else a spec file path.</summary>
    /// <exception cref="ArgumentException">Neither a scalable zoo variant nor an existing spec file.</exception>
    public static ScalableBase Resolve(string nameOrSpecPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrSpecPath);
        if (BackboneRegistry.Contains(nameOrSpecPath)) return FromZoo(nameOrSpecPath);
        if (File.Exists(nameOrSpecPath)) return FromSpec(ArchitectureSpec.Load(nameOrSpecPath), Path.GetFileName(nameOrSpecPath));
        throw new ArgumentException(
            $"'{nameOrSpecPath}' is neither a zoo variant (see 'efficientcnn zoo') nor an existing architecture spec file.", "base");
    }

    /// <summary>Builds the base scaled by <paramref name="config"/>'s depth and width multipliers.</summary>
    public Backbone Build(ScaledConfig config, int numClasses = 1000) =>
        build(config.DepthMultiplier, config.WidthMultiplier, numClasses);

    /// <summary>The scaled spec at the config's resolution; null when the base is not a spec.</summary>
    public ArchitectureSpec? ScaledSpec(ScaledConfig config) =>
        Spec?.Scale(config.DepthMultiplier, config.WidthMultiplier, config.Resolution);
}
