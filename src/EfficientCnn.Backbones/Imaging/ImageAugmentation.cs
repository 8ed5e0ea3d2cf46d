namespace EfficientCnn.Backbones.Imaging;

/// <summary>One random draw of the training augmentation for one image.</summary>
/// <param name="CropX">Left edge of the crop in source pixels.</param>
/// <param name="CropY">Top edge of the crop in source pixels.</param>
/// <param name="CropWidth">Crop width in source pixels.</param>
/// <param name="CropHeight">Crop height in source pixels.</param>
/// <param name="Flip">Mirror the crop left to right.</param>
/// <param name="Brightness">Brightness factor (1 = unchanged).</param>
/// <param name="Contrast">Contrast factor (1 = unchanged).</param>
/// <param name="Saturation">Saturation factor (1 = unchanged).</param>
/// <param name="JitterOrder">Order in which brightness (0), contrast (1) and saturation (2) are applied.</param>
public sealed record AugmentationDraw(
    int CropX, int CropY, int CropWidth, int CropHeight, bool Flip,
    float Brightness, float Contrast, float Saturation, IReadOnlyList<int> JitterOrder);

/// <summary>
/// torchvision's standard ImageNet training augmentation: RandomResizedCrop, RandomHorizontalFlip and ColorJitter
/// (brightness, contrast, saturation; hue is not implemented). Every draw comes from the <see cref="Random"/> passed
/// in, so a seed reproduces an epoch exactly; <see cref="CreateRandom"/> derives independent per-sample generators so
/// the result does not depend on how many threads decode.
/// </summary>
public sealed record ImageAugmentation
{
    /// <summary>The torchvision ImageNet recipe: scale [0.08, 1], ratio [3/4, 4/3], flip 0.5, jitter 0.4/0.4/0.4.</summary>
    public static ImageAugmentation Default { get; } = new();

    /// <summary>Crop area as a fraction of the image area, lower bound.</summary>
    public float MinScale { get; init; } = 0.08f;

    /// <summary>Crop area as a fraction of the image area, upper bound.</summary>
    public float MaxScale { get; init; } = 1f;

    /// <summary>Crop aspect ratio (width / height), lower bound.</summary>
    public float MinRatio { get; init; } = 3f / 4f;

    /// <summary>Crop aspect ratio (width / height), upper bound.</summary>
    public float MaxRatio { get; init; } = 4f / 3f;

    /// <summary>Probability of a horizontal flip.</summary>
    public float HorizontalFlipProbability { get; init; } = 0.5f;

    /// <summary>Brightness factor is drawn from [max(0, 1 - b), 1 + b]; 0 disables.</summary>
    public float Brightness { get; init; } = 0.4f;

    /// <summary>Contrast factor is drawn from [max(0, 1 - c), 1 + c]; 0 disables.</summary>
    public float Contrast { get; init; } = 0.4f;

    /// <summary>Saturation factor is drawn from [max(0, 1 - s), 1 + s]; 0 disables.</summary>
    public float Saturation { get; init; } = 0.4f;

    /// <summary>
    /// A generator for one sample that depends only on (seed, epoch, sampleIndex): reproducible and independent of the
    /// order or thread in which samples are processed.
    /// </summary>
    public static Random CreateRandom(int seed, int epoch, long sampleIndex)
    {
        // SplitMix64 finalizer over the packed triple: neighbouring indices give unrelated streams.
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)epoch * 0xC2B2AE3D27D4EB4FUL ^ (ulong)sampleIndex * 0x165667B19E3779F9UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return new Random(unchecked((int)z ^ (int)(z >> 32)));
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the offending option when a range is empty or out of bounds.</summary>
    public ImageAugmentation Validate()
    {
        if (!(MinScale > 0f && MinScale <= MaxScale && MaxScale <= 1f))
            throw new ArgumentException($"Scale range must satisfy 0 < MinScale <= MaxScale <= 1, got [{MinScale}, {MaxScale}].", nameof(MinScale));
        if (!(MinRatio > 0f && MinRatio <= MaxRatio))
            throw new ArgumentException($"Ratio range must satisfy 0 < MinRatio <= MaxRatio, got [{MinRatio}, {MaxRatio}].", nameof(MinRatio));
        if (!(HorizontalFlipProbability >= 0f && HorizontalFlipProbability <= 1f))
            throw new ArgumentException("HorizontalFlipProbability must be in [0, 1].", nameof(HorizontalFlipProbability));
        if (Brightness < 0f) throw new ArgumentException("Brightness must be >= 0.", nameof(Brightness));
        if (Contrast < 0f) throw new ArgumentException("Contrast must be >= 0.", nameof(Contrast));
        if (Saturation < 0f) throw new ArgumentException("Saturation must be >= 0.", nameof(Saturation));
        return this;
    }

    /// <summary>Draws the augmentation for a <paramref name="width"/> x <paramref name="height"/> image.</summary>
    public AugmentationDraw Sample(int width, int height, Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (width < 1 || height < 1) throw new ArgumentException("The image must be at least 1x1 pixels.", nameof(width));
        var (x, y, w, h) = SampleCrop(width, height, rng);
        bool flip = rng.NextDouble() < HorizontalFlipProbability;
        float b = Factor(Brightness, rng), c = Factor(Contrast, rng), s = Factor(Saturation, rng);
        int[] order = [0, 1, 2];
        rng.Shuffle(order);
        return new AugmentationDraw(x, y, w, h, flip, b, c, s, order);
    }

    private static float Factor(float strength, Random rng) =>
        strength == 0f ? 1f : (float)(Math.Max(0.0, 1.0 - strength) + rng.NextDouble() * (1.0 + strength - Math.Max(0.0, 1.0 - strength)));

    // torchvision RandomResizedCrop.get_params: ten tries at a random area and log-uniform ratio, then a centre crop
    // clamped to the ratio range. Also the distiller's crop (one recipe for both).
    internal (int X, int Y, int W, int H) SampleCrop(int width, int height, Random rng)
    {
        double area = (double)width * height;
        double logMin = Math.Log(MinRatio), logMax = Math.Log(MaxRatio);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (MinScale + rng.NextDouble() * (MaxScale - MinScale));
            double ratio = Math.Exp(logMin + rng.NextDouble() * (logMax - logMin));
            int w = (int)Math.Round(Math.Sqrt(target * ratio));
            int h = (int)Math.Round(Math.Sqrt(target / ratio));
            if (w > 0 && w <= width && h > 0 && h <= height)
                return (rng.Next(0, width - w + 1), rng.Next(0, height - h + 1), w, h);
        }
        double inRatio = (double)width / height;
        int cw = width, ch = height;
        if (inRatio < MinRatio) ch = (int)Math.Round(cw / MinRatio);
        else if (inRatio > MaxRatio) cw = (int)Math.Round(ch * MaxRatio);
        return ((width - cw) / 2, (height - ch) / 2, cw, ch);
    }

    /// <summary>
    /// Applies brightness, contrast and saturation in the drawn order to an interleaved RGB float image in [0, 1],
    /// clamping after each step as torchvision does.
    /// </summary>
    internal static void ApplyColorJitter(Span<float> rgb, AugmentationDraw draw)
    {
        foreach (int op in draw.JitterOrder)
        {
            switch (op)
            {
                case 0 when draw.Brightness != 1f:
                    for (int i = 0; i < rgb.Length; i++) rgb[i] = Math.Clamp(rgb[i] * draw.Brightness, 0f, 1f);
                    break;
                case 1 when draw.Contrast != 1f:
                {
                    double sum = 0;
                    for (int i = 0; i < rgb.Length; i += 3) sum += Gray(rgb, i);
                    float mean = (float)(sum / (rgb.Length / 3));
                    for (int i = 0; i < rgb.Length; i += 3) Blend(rgb, i, draw.Contrast, mean);
                    break;
                }
                case 2 when draw.Saturation != 1f:
                    for (int i = 0; i < rgb.Length; i += 3) Blend(rgb, i, draw.Saturation, Gray(rgb, i));
                    break;
            }
        }
    }

    private static float Gray(ReadOnlySpan<float> rgb, int i) => 0.2989f * rgb[i] + 0.587f * rgb[i + 1] + 0.114f * rgb[i + 2];

    // torchvision's _blend: factor * pixel + (1 - factor) * other, clamped to [0, 1].
    private static void Blend(Span<float> rgb, int i, float factor, float other)
    {
        float o = other * (1f - factor);
        rgb[i] = Math.Clamp(factor * rgb[i] + o, 0f, 1f);
        rgb[i + 1] = Math.Clamp(factor * rgb[i + 1] + o, 0f, 1f);
        rgb[i + 2] = Math.Clamp(factor * rgb[i + 2] + o, 0f, 1f);
    }
}
