namespace EfficientCnn.Backbones;

/// <summary>
/// What a family file declares so that <see cref="Registry.BackboneRegistry"/> lists its variants: the registry finds every type
/// of this assembly that implements this interface (timm-style self-registration), so adding a family is adding its file.
/// </summary>
internal interface IBackboneFamily
{
    /// <summary>
    /// The family's place in the zoo listing (<c>zoo</c>, docs/zoo.md, error messages): the efficient families in the
    /// order of the lineage (MobileNetV1 2017 → NFNet 2021) first, then the reference points. Unique per family.
    /// </summary>
    static abstract int ListingOrder { get; }

    /// <summary>The family's named variants, each with its builder and published reference numbers.</summary>
    static abstract IEnumerable<BackboneVariant> Variants();
}
