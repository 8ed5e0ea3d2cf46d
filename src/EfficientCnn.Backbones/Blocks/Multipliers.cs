namespace EfficientCnn.Backbones.Blocks;

/// <summary>Width, depth and resolution multipliers: their validation and the channel rounding they feed.</summary>
public static class Multipliers
{
    /// <summary>
    /// Rounds a channel count to the nearest multiple of <paramref name="divisor"/> without going below 90% of it
    /// (torchvision's <c>_make_divisible</c>, from the TensorFlow MobileNet reference).
    /// </summary>
    public static int MakeDivisible(double value, int divisor = 8, int? minValue = null)
    {
        int min = minValue ?? divisor;
        int rounded = Math.Max(min, (int)(value + divisor / 2.0) / divisor * divisor);
        if (rounded < 0.9 * value) rounded += divisor;
        return rounded;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming <paramref name="name"/> unless <paramref name="value"/> is finite and &gt; 0.</summary>
    /// <param name="value">A width, depth or scale multiplier.</param>
    /// <param name="name">The option's name, used as ParamName and in the message (e.g. "widthMultiplier (α)").</param>
    public static void RequirePositive(double value, string name)
    {
        if (!double.IsFinite(value) || value <= 0)
            throw new ArgumentException($"{name} must be a finite number > 0, got {value}.", name.Split(' ')[0]);
    }
}
