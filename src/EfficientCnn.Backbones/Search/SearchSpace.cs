using System.Globalization;
using EfficientCnn.Backbones.Blocks;

namespace EfficientCnn.Backbones.Search;

/// <summary>One discrete decision of a <see cref="SearchSpace"/>: which stage and property it sets, and its choices.</summary>
/// <param name="Stage">Stage index 0…6.</param>
/// <param name="Property">kernel, expansion, layers, se or width.</param>
/// <param name="Choices">Labels of the choices, in index order (e.g. "3", "5").</param>
public sealed record SearchDecision(int Stage, string Property, IReadOnlyList<string> Choices)
{
    /// <summary>e.g. <c>stage3.kernel</c>.</summary>
    public string Name => $"stage{Stage}.{Property}";
}

/// <summary>
/// MNASNet's factorized hierarchical search space (Tan et al. 2019, Section 4.1, Figure 4): the network is split into
/// seven stages ("blocks") around a skeleton; each stage searches its own layer and repeats it, so per stage there are
/// five independent decisions: depthwise kernel {3, 5}, expansion {1, 3, 6} (1 is a SepConv: without expansion the
/// 1x1 expand conv is dropped, as MobileNetV2's t = 1 block), layers relative to the skeleton {−1, 0, +1}, squeeze-
/// and-excitation {off, on}, and width relative to the skeleton {0.75, 1.0, 1.25} (rounded to a multiple of 8).
/// Strides, stem and head come from the skeleton (MobileNetV2 by default, as the paper).
/// </summary>
/// <remarks>
/// The space is factorized, so it maps an architecture to 35 decision indices and back. A stage of one layer cannot
/// lose it (−1 is clamped to 1 layer), and SE on a SepConv stage is ignored (MNASNet-A1's SepConv has none); these
/// decisions alias: <see cref="Encode"/> returns the choice whose unrounded value is nearest.
/// </remarks>
public sealed class SearchSpace
{
    /// <summary>Property names of the five decisions of a stage, in order.</summary>
    public static readonly IReadOnlyList<string> StageProperties = ["kernel", "expansion", "layers", "se", "width"];

    /// <summary>The paper's space around MobileNetV2 at 224 px.</summary>
    public static SearchSpace Paper { get; } = new(ArchitectureSpec.MobileNetV2Skeleton);

    /// <summary>Creates the space around <paramref name="skeleton"/>.</summary>
    /// <param name="skeleton">Strides, base layers and base widths of the seven stages, stem and head.</param>
    /// <param name="resolution">Input size of every decoded spec; default the skeleton's.</param>
    /// <param name="kernels">Kernel choices (paper: 3, 5).</param>
    /// <param name="expansions">Expansion choices (paper: 1, 3, 6 — MNASNet's search space lists 3 and 6, MobileNetV2's first block 1).</param>
    /// <param name="layerDeltas">Layer count relative to the skeleton (paper: −1, 0, +1).</param>
    /// <param name="widthMultipliers">Width relative to the skeleton (paper: 0.75, 1.0, 1.25).</param>
    public SearchSpace(ArchitectureSpec skeleton, int? resolution = null, IReadOnlyList<int>? kernels = null,
        IReadOnlyList<int>? expansions = null, IReadOnlyList<int>? layerDeltas = null, IReadOnlyList<double>? widthMultipliers = null)
    {
        ArgumentNullException.ThrowIfNull(skeleton);
        Skeleton = (skeleton with { Resolution = resolution ?? skeleton.Resolution }).Validate();
        Kernels = Require(kernels ?? [3, 5], nameof(kernels), k => k is 3 or 5);
        Expansions = Require(expansions ?? [1, 3, 6], nameof(expansions), e => e is 1 or 3 or 6);
        LayerDeltas = Require(layerDeltas ?? [-1, 0, 1], nameof(layerDeltas), _ => true);
        WidthMultipliers = Require(widthMultipliers ?? [0.75, 1.0, 1.25], nameof(widthMultipliers), w => double.IsFinite(w) && w > 0);
        var perStage = new[]
        {
            Kernels.Select(k => k.ToString(CultureInfo.InvariantCulture)).ToList(),
            Expansions.Select(e => e.ToString(CultureInfo.InvariantCulture)).ToList(),
            LayerDeltas.Select(d => d.ToString("+0;-0;0", CultureInfo.InvariantCulture)).ToList(),
            ["off", "on"],
            WidthMultipliers.Select(w => w.ToString("0.###", CultureInfo.InvariantCulture)).ToList(),
        };
        Decisions = Enumerable.Range(0, ArchitectureSpec.StageCount)
            .SelectMany(s => perStage.Select((choices, p) => new SearchDecision(s, StageProperties[p], choices)))
            .ToList();
    }

    private static IReadOnlyList<T> Require<T>(IReadOnlyList<T> values, string name, Func<T, bool> valid)
    {
        if (values.Count == 0) throw new ArgumentException($"{name} must hold at least one choice.", name);
        foreach (var value in values)
            if (!valid(value)) throw new ArgumentException($"{name}: {value} is not a valid choice.", name);
        if (values.Distinct().Count() != values.Count) throw new ArgumentException($"{name} holds a choice twice.", name);
        return values.ToArray();
    }

    /// <summary>The architecture the decisions are relative to.</summary>
    public ArchitectureSpec Skeleton { get; }

    /// <summary>Kernel choices.</summary>
    public IReadOnlyList<int> Kernels { get; }

    /// <summary>Expansion choices (1 builds a SepConv).</summary>
    public IReadOnlyList<int> Expansions { get; }

    /// <summary>Layer-count offsets from the skeleton.</summary>
    public IReadOnlyList<int> LayerDeltas { get; }

    /// <summary>Width multipliers relative to the skeleton.</summary>
    public IReadOnlyList<double> WidthMultipliers { get; }

    /// <summary>All decisions, stage by stage in the order of <see cref="StageProperties"/>.</summary>
    public IReadOnlyList<SearchDecision> Decisions { get; }

    /// <summary>Number of choices of each decision (what a controller samples from).</summary>
    public int[] ChoiceCounts => Decisions.Select(d => d.Choices.Count).ToArray();

    /// <summary>Number of decision vectors, Π choices (aliases counted), e.g. 108^7 ≈ 1.7·10^14 for the paper's choices.</summary>
    public double Size => Decisions.Aggregate(1.0, (a, d) => a * d.Choices.Count);

    /// <summary>The architecture of <paramref name="decisions"/> (one choice index per <see cref="Decisions"/> entry).</summary>
    /// <exception cref="ArgumentException">Wrong length or an index out of range (ParamName "decisions").</exception>
    public ArchitectureSpec Decode(IReadOnlyList<int> decisions)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        if (decisions.Count != Decisions.Count)
            throw new ArgumentException($"Expected {Decisions.Count} decisions, got {decisions.Count}.", nameof(decisions));
        for (int i = 0; i < decisions.Count; i++)
            if (decisions[i] < 0 || decisions[i] >= Decisions[i].Choices.Count)
                throw new ArgumentException($"Decision {Decisions[i].Name} = {decisions[i]} is outside 0…{Decisions[i].Choices.Count - 1}.", nameof(decisions));
        var stages = Skeleton.Stages.Select((baseStage, s) =>
        {
            int at = s * StageProperties.Count;
            int expansion = Expansions[decisions[at + 1]];
            var block = expansion == 1 ? BlockType.SepConv : BlockType.MBConv;
            return new StageSpec(block, Kernels[decisions[at]], expansion,
                Math.Max(1, baseStage.Layers + LayerDeltas[decisions[at + 2]]),
                block == BlockType.MBConv && decisions[at + 3] == 1,
                Multipliers.MakeDivisible(baseStage.Channels * WidthMultipliers[decisions[at + 4]], 8),
                baseStage.Stride);
        }).ToList();
        return (Skeleton with { Stages = stages }).Validate();
    }

    /// <summary>The decisions of <paramref name="spec"/>; the inverse of <see cref="Decode"/>.</summary>
    /// <exception cref="ArgumentException">The spec is not in this space (ParamName names the stage field).</exception>
    public int[] Encode(ArchitectureSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (spec.StemChannels != Skeleton.StemChannels || spec.HeadChannels != Skeleton.HeadChannels)
            throw new ArgumentException("The spec's stem or head width differs from the search space's skeleton.", nameof(spec));
        var decisions = new List<int>();
        for (int s = 0; s < spec.Stages.Count; s++)
        {
            var (stage, baseStage) = (spec.Stages[s], Skeleton.Stages[s]);
            if (stage.Stride != baseStage.Stride)
                throw new ArgumentException($"Stage {s} has stride {stage.Stride}, the skeleton {baseStage.Stride}.", $"Stages[{s}].Stride");
            // Choices can alias after clamping and rounding (−1 layer of a 1-layer stage; 0.75 × 24 rounds back to 24):
            // take the choice whose exact value is nearest, so the skeleton itself encodes as delta 0, width 1.0.
            int Nearest<T>(IReadOnlyList<T> choices, Func<T, int> build, Func<T, double> exact, int actual, string field)
            {
                var matches = choices.Select((c, i) => (c, i)).Where(x => build(x.c) == actual).ToList();
                if (matches.Count == 0) throw new ArgumentException($"Stage {s}: its {field} ({actual}) is not a choice of the search space.", $"Stages[{s}].{field}");
                return matches.MinBy(x => Math.Abs(exact(x.c) - actual)).i;
            }
            decisions.Add(Nearest(Kernels, k => k, k => k, stage.Kernel, nameof(StageSpec.Kernel)));
            decisions.Add(Nearest(Expansions, e => e == 1 == (stage.Block == BlockType.SepConv) ? e : -1, e => e, stage.Expansion, nameof(StageSpec.Expansion)));
            decisions.Add(Nearest(LayerDeltas, d => Math.Max(1, baseStage.Layers + d), d => baseStage.Layers + d, stage.Layers, nameof(StageSpec.Layers)));
            decisions.Add(stage.SqueezeExcite ? 1 : 0);
            decisions.Add(Nearest(WidthMultipliers, w => Multipliers.MakeDivisible(baseStage.Channels * w, 8), w => baseStage.Channels * w, stage.Channels, nameof(StageSpec.Channels)));
        }
        return decisions.ToArray();
    }

    /// <summary>Decisions as text, one group per stage: <c>k e l se w</c> indices, e.g. <c>0.2.1.0.1 1.1.1.1.1 …</c>.</summary>
    public static string Format(IReadOnlyList<int> decisions) =>
        string.Join(" ", decisions.Chunk(StageProperties.Count).Select(c => string.Join(".", c)));
}
