namespace EfficientCnn.Backbones.Training.Fractals;

/// <summary>One accepted category: its system and the render that passed the filling-rate test.</summary>
/// <param name="Index">Category index, 0-based.</param>
/// <param name="System">The iterated function system that defines the category.</param>
/// <param name="Raster">The search render (on the <see cref="FractalDatabase.FillingGridSize"/> grid) whose filling rate passed.</param>
/// <param name="Rejected">Systems drawn and rejected (diverging or too sparse) before this one.</param>
public sealed record FractalCategory(int Index, IteratedFunctionSystem System, FractalRaster Raster, int Rejected)
{
    /// <summary>The filling rate of <see cref="Raster"/>.</summary>
    public double FillingRate => Raster.FillingRate;
}
