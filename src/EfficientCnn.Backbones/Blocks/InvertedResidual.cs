using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>The shape of one <see cref="InvertedResidual"/> block.</summary>
/// <param name="InChannels">Input width.</param>
/// <param name="HiddenChannels">Width after the expansion (the depthwise conv's width).</param>
/// <param name="OutChannels">Output width.</param>
/// <param name="Kernel">Depthwise kernel size (odd).</param>
/// <param name="Stride">Depthwise stride, 1 or 2.</param>
/// <param name="Activation">Activation after the expansion and the depthwise conv (and inside the squeeze-and-excitation).</param>
public sealed record InvertedResidualConfig(long InChannels, long HiddenChannels, long OutChannels, int Kernel, int Stride, Activation Activation)
{
    /// <summary>Whether the block has a 1x1 expansion; torchvision omits it when the width is kept, timm never does.</summary>
    public bool Expands { get; init; } = HiddenChannels != InChannels;

    /// <summary>Squeezed width of the squeeze-and-excitation after the depthwise conv; 0 for none.</summary>
    public long SqueezeChannels { get; init; }

    /// <summary>Stochastic-depth drop probability of the residual branch (torchvision's EfficientNet); null for no such module.</summary>
    public double? StochasticDepthProb { get; init; }

    /// <summary>BatchNorm momentum of every norm.</summary>
    public double BnMomentum { get; init; } = 0.1;

    /// <summary>BatchNorm epsilon of every norm.</summary>
    public double BnEps { get; init; } = 1e-5;
}

/// <summary>
/// Inverted residual with linear bottleneck (Sandler et al. 2018, MobileNetV2's block; MNASNet's and EfficientNet's
/// MBConv): [1x1 expansion → BN → activation] → kxk depthwise → BN → activation → [squeeze-and-excitation] → linear 1x1
/// projection → BN (no activation: section 3.2, ReLU would destroy information), plus the input when the block keeps
/// resolution and width. One block for every family; <see cref="InvertedResidualNames"/> gives each part the state-dict
/// path of the family's reference checkpoints.
/// </summary>
public sealed class InvertedResidual : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    // Held in a plain record, not in module-typed fields: TorchSharp's field registration would add the parts a second
    // time under the field names; they are registered under the layout's paths instead.
    private readonly Parts parts;
    private readonly bool inputFirstInSum;

    private sealed record Parts(
        (Conv2d Conv, BatchNorm2d Norm, nn.Module<Tensor, Tensor> Activation)? Expand,
        (Conv2d Conv, BatchNorm2d Norm, nn.Module<Tensor, Tensor> Activation) Depthwise,
        SqueezeExcitation? SqueezeExcitation,
        (Conv2d Conv, BatchNorm2d Norm) Project,
        StochasticDepth? StochasticDepth);

    /// <summary>Creates the block with its parts at the paths <paramref name="names"/> gives.</summary>
    /// <exception cref="ArgumentException">A channel count is below 1, the stride is not 1 or 2, or a block without expansion changes the width.</exception>
    public InvertedResidual(InvertedResidualConfig config, InvertedResidualNames names) : base(nameof(InvertedResidual))
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(names);
        var c = config;
        if (c.InChannels < 1) throw new ArgumentException($"inChannels must be >= 1, got {c.InChannels}.", "inChannels");
        if (c.OutChannels < 1) throw new ArgumentException($"outChannels must be >= 1, got {c.OutChannels}.", "outChannels");
        if (c.HiddenChannels < 1) throw new ArgumentException($"hidden channels must be >= 1, got {c.HiddenChannels}.", "hiddenChannels");
        if (c.Stride is not (1 or 2)) throw new ArgumentException($"stride must be 1 or 2, got {c.Stride}.", "stride");
        if (!c.Expands && c.HiddenChannels != c.InChannels)
            throw new ArgumentException($"a block without expansion keeps its width: hidden {c.HiddenChannels} != input {c.InChannels}.", nameof(config));
        UsesResidual = c.Stride == 1 && c.InChannels == c.OutChannels;
        inputFirstInSum = names.InputFirstInSum;

        // Created in forward order (the order torch's random initialisation draws in); a path named twice is one module
        // (timm's single `act`).
        var paths = new List<(string Path, nn.Module<Tensor, Tensor> Module)>();
        T Part<T>(InvertedResidualPart part, Func<T> create) where T : nn.Module<Tensor, Tensor>
        {
            string path = names.PathOf(part, c.Expands);
            if (paths.FirstOrDefault(p => p.Path == path).Module is T existing) return existing;
            var module = create();
            paths.Add((path, module));
            return module;
        }
        BatchNorm2d Norm(long channels) => nn.BatchNorm2d(channels, eps: c.BnEps, momentum: c.BnMomentum);
        nn.Module<Tensor, Tensor> Act() => Activations.Create(c.Activation) ?? nn.Identity();

        var expand = c.Expands
            ? (Part(InvertedResidualPart.ExpandConv, () => nn.Conv2d(c.InChannels, c.HiddenChannels, 1, bias: false)),
                Part(InvertedResidualPart.ExpandNorm, () => Norm(c.HiddenChannels)),
                Part(InvertedResidualPart.ExpandActivation, Act))
            : ((Conv2d, BatchNorm2d, nn.Module<Tensor, Tensor>)?)null;
        var depthwise = (Part(InvertedResidualPart.DepthwiseConv, () => nn.Conv2d(c.HiddenChannels, c.HiddenChannels, c.Kernel, stride: c.Stride,
                padding: c.Kernel / 2, groups: c.HiddenChannels, bias: false)),
            Part(InvertedResidualPart.DepthwiseNorm, () => Norm(c.HiddenChannels)),
            Part(InvertedResidualPart.DepthwiseActivation, Act));
        var squeezeExcitation = c.SqueezeChannels > 0
            ? Part(InvertedResidualPart.SqueezeExcitation, () => new SqueezeExcitation(c.HiddenChannels, c.SqueezeChannels, c.Activation, names.SqueezeExcitation))
            : null;
        var project = (Part(InvertedResidualPart.ProjectConv, () => nn.Conv2d(c.HiddenChannels, c.OutChannels, 1, bias: false)),
            Part(InvertedResidualPart.ProjectNorm, () => Norm(c.OutChannels)));
        // torchvision's EfficientNet name; no other family has the module.
        var stochasticDepth = c.StochasticDepthProb is { } p ? new StochasticDepth(p) : null;
        if (stochasticDepth is not null) paths.Add(("stochastic_depth", stochasticDepth));
        this.parts = new Parts(expand, depthwise, squeezeExcitation, project, stochasticDepth);

        foreach (var (name, module) in Nest(paths.Select(part => (part.Path.Split('.'), part.Module)).ToList(), 0))
            register_module(name, module);
    }

    /// <summary>True when the block adds its input to its output (stride 1, same width).</summary>
    public bool UsesResidual { get; }

    /// <summary>The projection's BatchNorm (zeroing it silences the residual branch).</summary>
    public BatchNorm2d ProjectionNorm => parts.Project.Norm;

    /// <summary>The squeeze-and-excitation part, or null when the block has none.</summary>
    public SqueezeExcitation? SqueezeExcitation => parts.SqueezeExcitation;

    /// <summary>The residual branch's stochastic-depth drop probability, or null when the block has no such module.</summary>
    public double? StochasticDepthProb => parts.StochasticDepth?.P;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var y = input;
        if (parts.Expand is (var expandConv, var expandNorm, var expandActivation)) y = expandActivation.call(expandNorm.call(expandConv.call(y)));
        var (depthwiseConv, depthwiseNorm, depthwiseActivation) = parts.Depthwise;
        y = depthwiseActivation.call(depthwiseNorm.call(depthwiseConv.call(y)));
        if (parts.SqueezeExcitation is { } squeezeExcitation) y = squeezeExcitation.call(y);
        y = parts.Project.Norm.call(parts.Project.Conv.call(y));
        if (!UsesResidual) return y;
        if (parts.StochasticDepth is { } stochasticDepth) y = stochasticDepth.call(y);
        return y + input;
    }

    /// <inheritdoc />
    public string ExportOnnx(OnnxGraphBuilder g, string input)
    {
        string y = input;
        if (parts.Expand is (var expandConv, var expandNorm, var expandActivation)) y = g.Export(expandActivation, g.ExportConvBn(expandConv, expandNorm, y));
        var (depthwiseConv, depthwiseNorm, depthwiseActivation) = parts.Depthwise;
        y = g.Export(depthwiseActivation, g.ExportConvBn(depthwiseConv, depthwiseNorm, y));
        if (parts.SqueezeExcitation is { } squeezeExcitation) y = g.Export(squeezeExcitation, y);
        y = g.ExportConvBn(parts.Project.Conv, parts.Project.Norm, y);
        if (!UsesResidual) return y;
        if (parts.StochasticDepth is { } stochasticDepth) y = g.Export(stochasticDepth, y);
        return inputFirstInSum ? g.Op("Add", input, y) : g.Op("Add", y, input);
    }

    /// <summary>The parts as a tree by path: a shared prefix becomes a Sequential with children in first-seen order.</summary>
    private static List<(string Name, nn.Module<Tensor, Tensor> Module)> Nest(List<(string[] Path, nn.Module<Tensor, Tensor> Module)> parts, int depth)
    {
        var tree = new List<(string, nn.Module<Tensor, Tensor>)>();
        foreach (var group in parts.GroupBy(p => p.Path[depth]))
        {
            var members = group.ToList();
            tree.Add(members is [var leaf] && leaf.Path.Length == depth + 1
                ? (group.Key, leaf.Module)
                : (group.Key, nn.Sequential(Nest(members, depth + 1))));
        }
        return tree;
    }
}
