namespace EfficientCnn.Backbones.Training.Fractals;

/// <summary>
/// One map of an iterated function system, w(x, y) = (a·x + b·y + e, c·x + d·y + f): a 2×2 matrix
/// [[a, b], [c, d]] and a translation (e, f).
/// </summary>
/// <param name="A">Matrix entry a (x to x).</param>
/// <param name="B">Matrix entry b (y to x).</param>
/// <param name="C">Matrix entry c (x to y).</param>
/// <param name="D">Matrix entry d (y to y).</param>
/// <param name="E">Translation along x.</param>
/// <param name="F">Translation along y.</param>
public readonly record struct AffineMap(double A, double B, double C, double D, double E, double F)
{
    /// <summary>Number of parameters (a, b, c, d, e, f): the valid indices of <see cref="Scale"/> are 0 to 5.</summary>
    public const int ParameterCount = 6;

    /// <summary>ad − bc: the factor by which the map scales areas (its absolute value weighs the map's probability).</summary>
    public double Determinant => A * D - B * C;

    /// <summary>Draws every parameter uniformly from [−1, 1], FractalDB's search space.</summary>
    public static AffineMap Random(Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        return new(Uniform(rng), Uniform(rng), Uniform(rng), Uniform(rng), Uniform(rng), Uniform(rng));
    }

    /// <summary>This map with one parameter (0 = a, 1 = b, … 5 = f) multiplied by <paramref name="weight"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parameter"/> is not in 0..5.</exception>
    public AffineMap Scale(int parameter, double weight) => parameter switch
    {
        0 => this with { A = A * weight },
        1 => this with { B = B * weight },
        2 => this with { C = C * weight },
        3 => this with { D = D * weight },
        4 => this with { E = E * weight },
        5 => this with { F = F * weight },
        _ => throw new ArgumentOutOfRangeException(nameof(parameter), parameter, $"An affine map has parameters 0 (a) to {ParameterCount - 1} (f)."),
    };

    private static double Uniform(Random rng) => rng.NextDouble() * 2 - 1;
}
