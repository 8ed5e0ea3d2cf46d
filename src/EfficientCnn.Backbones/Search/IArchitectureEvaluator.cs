namespace EfficientCnn.Backbones.Search;

/// <summary>
/// Scores one architecture for the search: its accuracy (e.g. after a short proxy training on the user's data) and its
/// latency on the target machine (e.g. ONNX Runtime, <c>EfficientCnn.MLNet.Search.OnnxLatency</c>).
/// </summary>
public interface IArchitectureEvaluator
{
    /// <summary>Evaluates <paramref name="spec"/>; honours <paramref name="cancellationToken"/> (the search's time budget).</summary>
    /// <returns>Accuracy (a fraction, higher is better) and latency in milliseconds (&gt; 0).</returns>
    (double Accuracy, double LatencyMs) Evaluate(ArchitectureSpec spec, CancellationToken cancellationToken);
}

/// <summary>
/// The accuracy half of an evaluator: how well an architecture learns the user's task, normally measured by a short
/// proxy training (MNASNet trains each sampled model for 5 epochs on a proxy task, Section 5). The training engine
/// implements it; <see cref="CompositeEvaluator"/> pairs it with a latency measurement.
/// </summary>
public interface IProxyAccuracy
{
    /// <summary>Trains <paramref name="spec"/> briefly and returns its held-out accuracy in [0, 1].</summary>
    double Accuracy(ArchitectureSpec spec, CancellationToken cancellationToken);
}

/// <summary>An evaluator made of a proxy accuracy and a latency function.</summary>
/// <param name="AccuracyProxy">Accuracy of an architecture.</param>
/// <param name="LatencyMs">Latency of an architecture in milliseconds.</param>
public sealed record CompositeEvaluator(IProxyAccuracy AccuracyProxy, Func<ArchitectureSpec, CancellationToken, double> LatencyMs) : IArchitectureEvaluator
{
    /// <inheritdoc />
    public (double Accuracy, double LatencyMs) Evaluate(ArchitectureSpec spec, CancellationToken cancellationToken)
    {
        // Latency first: it is cheap, and a cancelled budget then does not waste a training run.
        double latency = LatencyMs(spec, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        return (AccuracyProxy.Accuracy(spec, cancellationToken), latency);
    }
}
