namespace EfficientCnn.Backbones;

/// <summary>
/// Published size and cost of a variant at its reference setting (1000 classes, <see cref="Resolution"/> px),
/// with the table it comes from. Params are exact where torchvision/timm has the model.
/// </summary>
/// <param name="Params">Parameter count (weights and biases, not BN running statistics).</param>
/// <param name="Macs">Multiply-accumulates of one image (convolutions and linear layers).</param>
/// <param name="Resolution">Input size the reference numbers are for.</param>
/// <param name="Source">Where the numbers come from (paper table or library documentation).</param>
/// <param name="ExactParams">True when <paramref name="Params"/> is an exact count (torchvision/timm state dict) rather than a paper's rounded figure.</param>
/// <param name="MacsTolerancePercent">How far our MACs may be from <paramref name="Macs"/>: 2% for the efficient families
/// (their counting convention is documented), 3% for NASNet whose paper does not say what it counts.</param>
public sealed record PaperReference(long Params, long Macs, int Resolution, string Source, bool ExactParams = true, double MacsTolerancePercent = 2);

/// <summary>A named variant of a family: one builder plus a config, as in timm's registry.</summary>
/// <param name="Name">Registry name, e.g. <c>mobilenet_v2_1.0</c>.</param>
/// <param name="Family">Family, e.g. <c>MobileNetV2</c>.</param>
/// <param name="DefaultResolution">Input size the variant was designed for.</param>
/// <param name="Factory">Builds the module.</param>
/// <param name="Reference">Published params/MACs to reproduce, when a reference exists.</param>
public sealed record BackboneVariant(
    string Name,
    string Family,
    int DefaultResolution,
    Func<BackboneOptions, Backbone> Factory,
    PaperReference? Reference)
{
    /// <summary>Builds a freshly initialised module with the given options (defaults: 1000 classes, reference dropout).</summary>
    public Backbone Create(BackboneOptions? options = null)
    {
        options ??= new BackboneOptions();
        options.Validate();
        return Factory(options);
    }
}
