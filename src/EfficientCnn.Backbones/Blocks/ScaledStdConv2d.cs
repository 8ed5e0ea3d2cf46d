using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Profiling;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static EfficientCnn.Backbones.Onnx.OnnxTensors;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>
/// 2-D convolution with Scaled Weight Standardization (Brock et al. 2021, "Characterizing signal propagation to close
/// the performance gap in unnormalized ResNets", eq. 2; used by NFNets). Each output unit's kernel is standardised over
/// its fan-in and rescaled, <c>Ŵ = gain · γ · (W − mean) / (sqrt(fan_in) · sqrt(var + eps))</c>, so that a
/// unit-variance input gives a unit-variance output without any activation normalisation.
/// </summary>
/// <remarks>
/// Parameter names equal timm's <c>ScaledStdConv2d</c>: <c>weight</c> [out, in/groups, k, k], <c>bias</c> [out] and a
/// learnable per-output-channel <c>gain</c> [out, 1, 1, 1]. As in timm, the mean and the biased variance are taken per
/// output unit and <c>eps</c> is added to the variance (timm's NFNets use 1e-5).
/// With <c>tfSamePadding</c> a strided convolution pads like TensorFlow's "SAME" (extra row/column at the
/// bottom/right), which is what the DeepMind weights (timm <c>dm_nfnet_*</c>, <c>ScaledStdConv2dSame</c>) expect.
/// </remarks>
public sealed class ScaledStdConv2d : nn.Module<Tensor, Tensor>, IProfiledLayer, IOnnxExportable
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly Parameter gain;
    private readonly long stride, groups, kernelSize;
    private readonly long padding;
    private readonly bool dynamicSamePadding;
    private readonly double scale;
    private readonly double eps;

    /// <summary>Creates the layer; the weight is drawn from N(0, 1/fan_in) (timm's kaiming-normal, linear gain), bias 0, gain <paramref name="gainInit"/>.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels (= output units being standardised).</param>
    /// <param name="kernelSize">Square kernel size.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="groups">Channel groups; must divide both channel counts.</param>
    /// <param name="bias">Adds a learnable bias (timm's default: true).</param>
    /// <param name="gamma">Activation gain folded into the weight scale (1 when the activation applies it itself).</param>
    /// <param name="eps">Added to the per-unit variance before the square root.</param>
    /// <param name="gainInit">Initial value of <c>gain</c> (timm: 1, or 0 for a zero-initialised last conv of a residual branch).</param>
    /// <param name="tfSamePadding">TensorFlow "SAME" padding (asymmetric for strided convs) instead of symmetric (k−1)/2.</param>
    public ScaledStdConv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long groups = 1, bool bias = true,
        double gamma = 1.0, double eps = 1e-5, double gainInit = 1.0, bool tfSamePadding = false)
        : base(nameof(ScaledStdConv2d))
    {
        if (inChannels < 1) throw new ArgumentException($"inChannels must be >= 1, got {inChannels}.", nameof(inChannels));
        if (outChannels < 1) throw new ArgumentException($"outChannels must be >= 1, got {outChannels}.", nameof(outChannels));
        if (kernelSize < 1) throw new ArgumentException($"kernelSize must be >= 1, got {kernelSize}.", nameof(kernelSize));
        if (stride < 1) throw new ArgumentException($"stride must be >= 1, got {stride}.", nameof(stride));
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"groups must be >= 1 and divide inChannels ({inChannels}) and outChannels ({outChannels}), got {groups}.", nameof(groups));
        if (!(eps > 0)) throw new ArgumentException($"eps must be > 0, got {eps}.", nameof(eps));
        if (!(gamma > 0)) throw new ArgumentException($"gamma must be > 0, got {gamma}.", nameof(gamma));

        InChannels = inChannels;
        OutChannels = outChannels;
        this.kernelSize = kernelSize;
        this.stride = stride;
        this.groups = groups;
        this.eps = eps;
        FanIn = inChannels / groups * kernelSize * kernelSize;
        scale = gamma / Math.Sqrt(FanIn);
        // Stride 1 with an odd kernel: "SAME" is the symmetric (k-1)/2; otherwise TF pads per input size, in forward.
        padding = (kernelSize - 1) / 2;
        dynamicSamePadding = tfSamePadding && (stride > 1 || kernelSize % 2 == 0);

        // Initialise in place, once: N(0, 1/fan_in) is timm's kaiming_normal_(mode='fan_in', nonlinearity='linear').
        this.weight = new Parameter(empty(outChannels, inChannels / groups, kernelSize, kernelSize).normal_(0, 1.0 / Math.Sqrt(FanIn)));
        this.bias = bias ? new Parameter(zeros(outChannels)) : null;
        this.gain = new Parameter(full(new long[] { outChannels, 1, 1, 1 }, gainInit));
        RegisterComponents();
    }

    /// <summary>Input channels.</summary>
    public long InChannels { get; }

    /// <summary>Output channels.</summary>
    public long OutChannels { get; }

    /// <summary>Inputs seen by one output unit: in_channels / groups · k · k.</summary>
    public long FanIn { get; }

    /// <summary>The raw (unstandardised) kernel, timm's <c>weight</c>.</summary>
    public Parameter Weight => weight;

    /// <summary>The per-output-channel gain, timm's <c>gain</c> [out, 1, 1, 1].</summary>
    public Parameter Gain => gain;

    /// <summary>The bias, or null when built without one.</summary>
    public Parameter? Bias => bias;

    /// <summary>
    /// The kernel actually convolved: per output unit zero mean and variance gain²·γ²/fan_in (up to eps).
    /// Differentiable with respect to <c>weight</c> and <c>gain</c>.
    /// </summary>
    public Tensor StandardizedWeight()
    {
        // One fused op, as timm does it: batch norm over a [1, out, fan_in] view normalises each output unit over its
        // fan-in (biased variance + eps) and multiplies it by gain·γ/sqrt(fan_in). Fewer ops than mean/var/rsqrt
        // matters on CPU, where NFNet's many small layers are dominated by per-op overhead.
        var standardized = nn.functional.batch_norm(weight.view(1, OutChannels, -1), null, null,
            weight: (gain * scale).view(OutChannels), training: true, momentum: 0, eps: eps);
        return standardized.view_as(weight);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        long pad = padding;
        if (dynamicSamePadding)
        {
            input = PadSame(input);
            pad = 0;
        }
        return nn.functional.conv2d(input, StandardizedWeight(), bias,
            strides: new[] { stride, stride }, padding: new[] { pad, pad }, groups: groups);
    }

    /// <summary>TensorFlow "SAME": total padding max((⌈i/s⌉−1)·s + k − i, 0), the odd pixel going to the bottom/right.</summary>
    private Tensor PadSame(Tensor x)
    {
        long PadFor(long size) => Math.Max((((size + stride - 1) / stride) - 1) * stride + kernelSize - size, 0);
        long ph = PadFor(x.shape[^2]), pw = PadFor(x.shape[^1]);
        if (ph == 0 && pw == 0) return x;
        return nn.functional.pad(x, new[] { pw / 2, pw - pw / 2, ph / 2, ph - ph / 2 });
    }

    /// <summary>
    /// Writes a plain Conv whose weight is <see cref="StandardizedWeight"/> computed now (inference: the kernel is a
    /// constant once training is over). TF "SAME" padding becomes <c>auto_pad = SAME_UPPER</c>, which ONNX defines
    /// exactly like <see cref="PadSame"/> (total (⌈i/s⌉−1)·s + k − i, the odd pixel at the end) and which keeps H and W symbolic.
    /// </summary>
    /// <exception cref="NotSupportedException">TF "SAME" with a kernel smaller than the stride (ONNX runtimes disagree on its negative padding).</exception>
    public string ExportOnnx(OnnxGraphBuilder g, string input)
    {
        string path = g.PathOf(this);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // The exact float32 kernel forward convolves, so ONNX and TorchSharp see the same weights bit for bit.
        string w = g.AddInitializer(StandardizedWeight().detach().contiguous(), path + ".weight");
        var inputs = bias is null ? new[] { input, w } : [input, w, g.AddInitializer(bias, path + ".bias")];
        var attrs = new List<AttributeProto>
        {
            Attr("kernel_shape", new[] { kernelSize, kernelSize }), Attr("strides", new[] { stride, stride }),
            Attr("dilations", new[] { 1L, 1L }), Attr("group", groups),
        };
        if (dynamicSamePadding)
        {
            if (kernelSize < stride)
                throw new NotSupportedException($"{path}: TF \"SAME\" padding with kernel {kernelSize} < stride {stride} has no ONNX export.");
            attrs.Add(Attr("auto_pad", "SAME_UPPER"));
        }
        else attrs.Add(Attr("pads", new[] { padding, padding, padding, padding }));
        return g.Op("Conv", inputs, attrs.ToArray());
    }

    /// <inheritdoc />
    string IProfiledLayer.Kind => nameof(ScaledStdConv2d);

    /// <inheritdoc />
    long IProfiledLayer.MacsPerImage(Tensor output) => output.numel() / output.shape[0] * FanIn;
}
