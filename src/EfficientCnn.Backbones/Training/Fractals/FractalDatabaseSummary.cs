namespace EfficientCnn.Backbones.Training.Fractals;

/// <summary>What <see cref="FractalDatabase.Write"/> produced.</summary>
/// <param name="Classes">Category folders written.</param>
/// <param name="Images">PNG files written.</param>
/// <param name="RejectedSystems">Systems drawn and rejected by the search, all categories together.</param>
/// <param name="Elapsed">Wall-clock time of the run.</param>
public sealed record FractalDatabaseSummary(int Classes, int Images, long RejectedSystems, TimeSpan Elapsed);
