namespace EfficientCnn.Backbones;

/// <summary>Options common to every backbone variant.</summary>
public sealed record BackboneOptions
{
    /// <summary>Classes of the classifier head; 0 builds the feature extractor only. Default 1000 (ImageNet).</summary>
    public int NumClasses { get; init; } = 1000;

    /// <summary>Dropout before the classifier; null keeps the variant's reference value.</summary>
    public double? DropRate { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the option at fault.</summary>
    public void Validate()
    {
        if (NumClasses < 0)
            throw new ArgumentException($"NumClasses must be >= 0 (0 = no head), got {NumClasses}.", nameof(NumClasses));
        if (DropRate is { } p && (p < 0 || p >= 1 || double.IsNaN(p)))
            throw new ArgumentException($"DropRate must be in [0, 1), got {p}.", nameof(DropRate));
    }
}
