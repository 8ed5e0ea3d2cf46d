using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

/// <summary>
/// Adaptive Gradient Clipping, AGC (Brock et al. 2021, "High-Performance Large-Scale Image Recognition Without
/// Normalization", section 4.1, eq. 3). Works unit-wise: for every unit i of a parameter (a row of the weight — one
/// output unit's fan-in — or the whole tensor for a scalar or vector), when
/// <c>‖G_i‖ / max(‖W_i‖, ε) &gt; λ</c> the gradient is rescaled to <c>G_i ← λ · max(‖W_i‖, ε) / ‖G_i‖ · G_i</c>;
/// other units are left untouched. Frobenius norms, as in the paper's reference code (<c>unitwise_norm</c>).
/// </summary>
/// <remarks>
/// Call it between <c>loss.backward()</c> and <c>optimizer.step()</c>; it edits <c>.grad</c> in place, so any
/// TorchSharp optimizer and any module can be used. The paper does not clip the final linear layer: use
/// <see cref="Apply(IEnumerable{ValueTuple{string, Parameter}}, Func{string, bool}, double, double)"/> with a name
/// predicate, or <see cref="ApplyExceptHead"/> for a <see cref="Backbone"/>. λ = 0.01 is the paper's value for
/// NFNet-F0..F6 at batch size 4096 (Figure 3: smaller batches tolerate larger λ).
/// </remarks>
public static class AdaptiveGradientClipping
{
    /// <summary>Default clipping threshold λ (paper: 0.01 at batch size 4096).</summary>
    public const double DefaultClipping = 0.01;

    /// <summary>Default ε, the floor on ‖W_i‖ that lets zero-initialised parameters receive gradient (paper: 1e-3).</summary>
    public const double DefaultEps = 1e-3;

    /// <summary>Clips the gradients of all <paramref name="parameters"/> that have one.</summary>
    /// <param name="parameters">Parameters whose <c>.grad</c> is clipped in place; those without a gradient are skipped.</param>
    /// <param name="clipping">λ, the largest allowed ratio ‖G_i‖ / max(‖W_i‖, ε); must be &gt; 0.</param>
    /// <param name="eps">ε; must be &gt; 0.</param>
    /// <returns>Number of units whose gradient was rescaled.</returns>
    /// <exception cref="ArgumentException"><paramref name="clipping"/> or <paramref name="eps"/> is not a positive finite number.</exception>
    public static long Apply(IEnumerable<Parameter> parameters, double clipping = DefaultClipping, double eps = DefaultEps)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Validate(clipping, eps);
        long clipped = 0;
        using var _ = no_grad();
        foreach (var p in parameters) clipped += ClipOne(p, clipping, eps);
        return clipped;
    }

    /// <summary>Clips the gradients of the named parameters for which <paramref name="shouldClip"/> returns true.</summary>
    /// <param name="namedParameters">E.g. <c>model.named_parameters()</c>.</param>
    /// <param name="shouldClip">Receives the parameter name; return false to leave it alone (e.g. <c>n =&gt; !n.StartsWith("head.")</c>).</param>
    /// <param name="clipping">λ; must be &gt; 0.</param>
    /// <param name="eps">ε; must be &gt; 0.</param>
    /// <returns>Number of units whose gradient was rescaled.</returns>
    public static long Apply(IEnumerable<(string name, Parameter parameter)> namedParameters, Func<string, bool> shouldClip,
        double clipping = DefaultClipping, double eps = DefaultEps)
    {
        ArgumentNullException.ThrowIfNull(namedParameters);
        ArgumentNullException.ThrowIfNull(shouldClip);
        Validate(clipping, eps);
        return Apply(namedParameters.Where(np => shouldClip(np.name)).Select(np => np.parameter), clipping, eps);
    }

    /// <summary>Clips every parameter of <paramref name="model"/> except those of its classifier <see cref="Backbone.Head"/>, as the paper does.</summary>
    /// <param name="model">Any backbone of the zoo.</param>
    /// <param name="clipping">λ; must be &gt; 0.</param>
    /// <param name="eps">ε; must be &gt; 0.</param>
    /// <returns>Number of units whose gradient was rescaled.</returns>
    public static long ApplyExceptHead(Backbone model, double clipping = DefaultClipping, double eps = DefaultEps)
    {
        ArgumentNullException.ThrowIfNull(model);
        Validate(clipping, eps);
        if (model.Head is null) return Apply(model.parameters(), clipping, eps);
        // Find the head's registered name (e.g. "head", "fc", "classifier") and skip the parameters under it.
        string headName = model.named_modules().First(nm => ReferenceEquals(nm.module, model.Head)).name;
        return Apply(model.named_parameters(), name => name != headName && !name.StartsWith(headName + ".", StringComparison.Ordinal),
            clipping, eps);
    }

    /// <summary>
    /// Unit-wise Frobenius norm as in the reference code: over everything for tensors of rank ≤ 1, otherwise over all
    /// dimensions but the first (kept with size 1, so it broadcasts against the tensor).
    /// </summary>
    public static Tensor UnitwiseNorm(Tensor x)
    {
        if (x.dim() <= 1) return x.norm();
        var dims = Enumerable.Range(1, (int)x.dim() - 1).Select(d => (long)d).ToArray();
        return x.pow(2).sum(dims, keepdim: true).sqrt();
    }

    private static long ClipOne(Parameter p, double clipping, double eps)
    {
        var grad = p.grad;
        if (grad is null) return 0;
        using var scope = NewDisposeScope();
        var maxNorm = UnitwiseNorm(p.detach()).clamp_min(eps) * clipping;
        var gradNorm = UnitwiseNorm(grad);
        var trigger = gradNorm > maxNorm;
        // Only triggered units are rescaled; gradNorm > maxNorm >= λε > 0 there, so the division is safe.
        var factor = where(trigger, maxNorm / gradNorm.clamp_min(1e-12), ones_like(gradNorm));
        grad.mul_(factor);
        return trigger.sum().item<long>();
    }

    private static void Validate(double clipping, double eps)
    {
        if (!(clipping > 0) || double.IsInfinity(clipping))
            throw new ArgumentException($"clipping (λ) must be a finite number > 0, got {clipping}.", nameof(clipping));
        if (!(eps > 0) || double.IsInfinity(eps))
            throw new ArgumentException($"eps (ε) must be a finite number > 0, got {eps}.", nameof(eps));
    }
}
