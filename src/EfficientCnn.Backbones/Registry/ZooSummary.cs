using EfficientCnn.Backbones.Profiling;

namespace EfficientCnn.Backbones.Registry;

/// <summary>One row of the backbone catalogue: what a user compares when choosing a backbone.</summary>
/// <param name="Name">Registry name.</param>
/// <param name="Family">Architecture family.</param>
/// <param name="Params">Parameter count with the requested head.</param>
/// <param name="Macs">Multiply-accumulates per image at <paramref name="Resolution"/>.</param>
/// <param name="FeatureDim">Length of the pooled feature vector.</param>
/// <param name="Resolution">Input size the cost was measured at.</param>
public sealed record BackboneSummary(string Name, string Family, long Params, long Macs, int FeatureDim, int Resolution);

/// <summary>
/// Lists the zoo with measured costs (the CLI's <c>zoo</c> command). Not an ML.NET catalog: those are all in
/// EfficientCnnCatalogExtensions; this is the engine profiling its variants.
/// </summary>
public static class ZooSummary
{
    /// <summary>
    /// Builds each variant and profiles it. <paramref name="resolution"/> overrides each variant's default input size.
    /// </summary>
    public static IEnumerable<BackboneSummary> Summarize(int numClasses = 1000, int? resolution = null, IEnumerable<string>? names = null)
    {
        var variants = names is null ? BackboneRegistry.All : names.Select(BackboneRegistry.Get).ToList();
        foreach (var variant in variants)
        {
            int size = resolution ?? variant.DefaultResolution;
            using var model = variant.Create(new BackboneOptions { NumClasses = numClasses });
            var profile = ModelProfiler.Profile(model, size);
            yield return new BackboneSummary(variant.Name, variant.Family, profile.Params, profile.Macs, model.FeatureDim, size);
        }
    }
}
