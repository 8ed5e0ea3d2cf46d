namespace EfficientCnn.Backbones.Training;

/// <summary>
/// Linear warm-up from 0 to the base rate, then cosine decay to <see cref="MinFactor"/> of it (Loshchilov &amp; Hutter,
/// SGDR, without restarts; the schedule of timm's and torchvision's recipes). Evaluated per optimizer step.
/// </summary>
/// <param name="BaseRate">Peak learning rate.</param>
/// <param name="TotalSteps">Optimizer steps of the whole run.</param>
/// <param name="WarmupSteps">Steps of linear warm-up (0 for none).</param>
/// <param name="MinFactor">Final rate as a fraction of <paramref name="BaseRate"/>.</param>
public sealed record LearningRateSchedule(double BaseRate, long TotalSteps, long WarmupSteps, double MinFactor = 0.0)
{
    /// <summary>The learning rate for 0-based step <paramref name="step"/>.</summary>
    public double At(long step)
    {
        if (step < WarmupSteps) return BaseRate * (step + 1) / WarmupSteps;
        long decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Clamp((double)(step - WarmupSteps) / decaySteps, 0, 1);
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        return BaseRate * (MinFactor + (1 - MinFactor) * cosine);
    }
}
