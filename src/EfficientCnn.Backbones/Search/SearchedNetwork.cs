using EfficientCnn.Backbones.Architectures;

namespace EfficientCnn.Backbones.Search;

/// <summary>
/// Builds any <see cref="ArchitectureSpec"/> with MNASNet-A1's own network builder (<see cref="MbConvNetwork"/>:
/// SepConv and inverted residual blocks with squeeze-and-excitation, timm's module names and initialisation), so that <see cref="ArchitectureSpec.MnasNetA1"/> yields exactly the zoo's <c>mnasnet_a1</c>.
/// </summary>
public sealed class SearchedNetwork : MbConvNetwork
{
    /// <summary>Builds <paramref name="spec"/> (validated first).</summary>
    /// <param name="spec">The architecture.</param>
    /// <param name="numClasses">Classes of the head; 0 builds the feature extractor only.</param>
    /// <param name="dropRate">Dropout before the classifier (0.2 as MNASNet).</param>
    /// <exception cref="ArgumentException">The spec is invalid (ParamName names the field) or dropRate is outside [0, 1).</exception>
    public SearchedNetwork(ArchitectureSpec spec, int numClasses = 1000, double dropRate = 0.2)
        // Arguments run before the base builds anything: the spec is validated first, then the drop rate.
        : base("SearchedNetwork", Validated(spec).StemChannels, StagesOf(spec), spec.HeadChannels, numClasses, CheckedDropRate(dropRate))
    {
        Spec = spec;
    }

    /// <summary>The architecture this network was built from.</summary>
    public ArchitectureSpec Spec { get; }

    /// <inheritdoc />
    public override int MinInputSize => Spec.MinInputSize;

    private static ArchitectureSpec Validated(ArchitectureSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Validate();
    }

    private static double CheckedDropRate(double dropRate) =>
        dropRate >= 0 && dropRate < 1 ? dropRate : throw new ArgumentException($"dropRate must be in [0, 1), got {dropRate}.", nameof(dropRate));

    /// <summary>The spec's stages as MNASNet-A1 describes its own (SE at <see cref="ArchitectureSpec.SqueezeRatio"/> where chosen).</summary>
    private static List<MbConvStage> StagesOf(ArchitectureSpec spec) =>
        spec.Stages.Select(s => new MbConvStage(s.Block == BlockType.SepConv ? "SepConv" : "MBConv",
            s.Layers, s.Kernel, s.Stride, s.Expansion, s.Channels, s.SqueezeExcite ? ArchitectureSpec.SqueezeRatio : 0)).ToList();
}
