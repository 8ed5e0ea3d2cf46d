using System.Text.Json;
using System.Text.Json.Serialization;
using EfficientCnn.Backbones.Architectures;
using EfficientCnn.Backbones.Blocks;

namespace EfficientCnn.Backbones.Search;

/// <summary>The convolution of a stage's blocks (MNASNet, Tan et al. 2019, Section 4.1 "ConvOp").</summary>
public enum BlockType
{
    /// <summary>Depthwise separable conv: depthwise kxk → BN → ReLU → linear 1x1 → BN, no skip (<see cref="Blocks.SepConv"/>).</summary>
    SepConv,

    /// <summary>Inverted residual (MobileNetV2): 1x1 expand → depthwise kxk → [SE] → linear 1x1, skip when the shape is kept (<see cref="Blocks.InvertedResidual"/>, timm names).</summary>
    MBConv,
}

/// <summary>
/// One stage ("block" in MNASNet's Figure 4) of an <see cref="ArchitectureSpec"/>: <see cref="Layers"/> identical
/// layers, the first with <see cref="Stride"/> and the width change.
/// </summary>
/// <param name="Block">SepConv or MBConv.</param>
/// <param name="Kernel">Depthwise kernel size, 3 or 5.</param>
/// <param name="Expansion">MBConv expansion ratio 1, 3 or 6 (1 for SepConv).</param>
/// <param name="Layers">Number of layers (blocks) in the stage, ≥ 1.</param>
/// <param name="SqueezeExcite">Squeeze-and-excitation after the depthwise conv (MBConv only), ratio <see cref="ArchitectureSpec.SqueezeRatio"/>.</param>
/// <param name="Channels">Output width of the stage.</param>
/// <param name="Stride">Stride of the first layer, 1 or 2.</param>
public sealed record StageSpec(BlockType Block, int Kernel, int Expansion, int Layers, bool SqueezeExcite, int Channels, int Stride);

/// <summary>
/// A network of MNASNet's factorized hierarchical search space (Tan et al. 2019, Section 4.1 and Figure 4): a 3x3
/// stride-2 stem conv, seven stages whose layers repeat one block, a 1x1 head conv and global pooling. The stage layout
/// (strides, and so the feature-map resolutions 112 → 7 at 224 px) is MobileNetV2's (Sandler et al. 2018, Table 2),
/// which MNASNet's Figure 7 keeps. Human-readable JSON (<see cref="ToJson"/>); <see cref="SearchedNetwork"/> builds it.
/// </summary>
/// <param name="StemChannels">Width of the stem conv.</param>
/// <param name="Stages">The seven stages, input side first.</param>
/// <param name="HeadChannels">Width of the 1x1 head conv (1280 in MobileNetV2 and MNASNet).</param>
/// <param name="Resolution">Input size the network is meant to run at (profiling, latency, proxy training).</param>
public sealed record ArchitectureSpec(int StemChannels, IReadOnlyList<StageSpec> Stages, int HeadChannels = ArchitectureSpec.DefaultHeadChannels, int Resolution = 224)
{
    /// <summary>Number of stages of the skeleton (MNASNet Figure 4: blocks 1…7).</summary>
    public const int StageCount = 7;

    /// <summary>Width of the head conv in MobileNetV2 and MNASNet.</summary>
    public const int DefaultHeadChannels = 1280;

    /// <summary>Squeeze-and-excitation ratio relative to the block input, as MNASNet-A1 uses it (Figure 7, "SE 0.25").</summary>
    public const double SqueezeRatio = 0.25;

    /// <summary>Total number of layers (blocks) over all stages.</summary>
    [JsonIgnore]
    public int TotalLayers => Stages.Sum(s => s.Layers);

    /// <summary>Smallest input size the strides accept: 2 to the number of stride-2 layers, stem included.</summary>
    [JsonIgnore]
    public int MinInputSize => 1 << (1 + Stages.Count(s => s.Stride == 2));

    /// <summary>
    /// MNASNet-A1 (Figure 7(a)) in this space, from <see cref="MnasNetA1.Architecture"/>: built by
    /// <see cref="SearchedNetwork"/> it has exactly the parameters and MACs of the zoo's <c>mnasnet_a1</c>.
    /// </summary>
    public static ArchitectureSpec MnasNetA1 { get; } = new(32,
        Architectures.MnasNetA1.Architecture.Select(s => new StageSpec(
            s.Kind == "SepConv" ? BlockType.SepConv : BlockType.MBConv, s.Kernel, s.Expansion, s.Repeats, s.SeRatio > 0, s.Channels, s.Stride)).ToList(),
        Architectures.MnasNetA1.HeadChannels);

    /// <summary>
    /// MobileNetV2's layout (Sandler et al. 2018, Table 2) as a spec: the skeleton MNASNet searches around
    /// (Section 4.1). Its t = 1 first block is a SepConv (a 1x1 expansion by 1 is not built, as in timm); ReLU rather
    /// than ReLU6, so it is the skeleton, not a copy of the zoo's <c>mobilenet_v2_1.0</c>.
    /// </summary>
    public static ArchitectureSpec MobileNetV2Skeleton { get; } = new(32,
    [
        new(BlockType.SepConv, 3, 1, 1, false, 16, 1),  // 112x112
        new(BlockType.MBConv, 3, 6, 2, false, 24, 2),   // 112 → 56
        new(BlockType.MBConv, 3, 6, 3, false, 32, 2),   // 56 → 28
        new(BlockType.MBConv, 3, 6, 4, false, 64, 2),   // 28 → 14
        new(BlockType.MBConv, 3, 6, 3, false, 96, 1),   // 14 → 14
        new(BlockType.MBConv, 3, 6, 3, false, 160, 2),  // 14 → 7
        new(BlockType.MBConv, 3, 6, 1, false, 320, 1),  // 7 → 7
    ]);

    /// <summary>Throws an <see cref="ArgumentException"/> whose ParamName is the field at fault (e.g. <c>Stages[2].Kernel</c>).</summary>
    /// <returns>This spec, for chaining.</returns>
    public ArchitectureSpec Validate()
    {
        if (StemChannels < 1) throw Error(nameof(StemChannels), $"must be >= 1, got {StemChannels}");
        if (Stages is null || Stages.Count != StageCount)
            throw Error(nameof(Stages), $"must hold exactly {StageCount} stages (MNASNet's skeleton), got {Stages?.Count ?? 0}");
        for (int i = 0; i < Stages.Count; i++)
        {
            var s = Stages[i] ?? throw Error($"Stages[{i}]", "is missing");
            string at = $"Stages[{i}]";
            if (!Enum.IsDefined(s.Block)) throw Error($"{at}.Block", $"must be SepConv or MBConv, got {(int)s.Block}");
            if (s.Kernel is not (3 or 5)) throw Error($"{at}.Kernel", $"must be 3 or 5, got {s.Kernel}");
            if (s.Expansion is not (1 or 3 or 6)) throw Error($"{at}.Expansion", $"must be 1, 3 or 6, got {s.Expansion}");
            if (s.Block == BlockType.SepConv && s.Expansion != 1) throw Error($"{at}.Expansion", $"must be 1 for a SepConv stage, got {s.Expansion}");
            if (s.Block == BlockType.SepConv && s.SqueezeExcite) throw Error($"{at}.SqueezeExcite", "is only available on MBConv stages");
            if (s.Layers < 1) throw Error($"{at}.Layers", $"must be >= 1, got {s.Layers}");
            if (s.Channels < 1) throw Error($"{at}.Channels", $"must be >= 1, got {s.Channels}");
            if (s.Stride is not (1 or 2)) throw Error($"{at}.Stride", $"must be 1 or 2, got {s.Stride}");
        }
        if (HeadChannels < 1) throw Error(nameof(HeadChannels), $"must be >= 1, got {HeadChannels}");
        if (Resolution < MinInputSize)
            throw Error(nameof(Resolution), $"must be >= {MinInputSize} (the strides halve it {Stages.Count(s => s.Stride == 2) + 1} times), got {Resolution}");
        return this;
    }

    private static ArgumentException Error(string field, string what) =>
        new($"Architecture spec: {field} {what}.", field);

    /// <summary>
    /// Compound scaling of this spec (EfficientNet, Tan &amp; Le 2019, eq. 3): layers per stage ceil(n·depth), every
    /// width (stem, stages, head, as EfficientNet scales its head) rounded to a multiple of 8, and the given resolution.
    /// </summary>
    public ArchitectureSpec Scale(double depthMultiplier, double widthMultiplier, int resolution)
    {
        Multipliers.RequirePositive(depthMultiplier, nameof(depthMultiplier));
        Multipliers.RequirePositive(widthMultiplier, nameof(widthMultiplier));
        int Width(int channels) => Multipliers.MakeDivisible(channels * widthMultiplier, 8);
        return new ArchitectureSpec(Width(StemChannels),
            Stages.Select(s => s with
            {
                Layers = EfficientNet.ScaleDepth(s.Layers, depthMultiplier),
                Channels = Width(s.Channels),
            }).ToList(),
            Width(HeadChannels), resolution).Validate();
    }

    /// <summary>A short text form, one token per stage, e.g. <c>SC k3 e1 x1 c16 | MB k5 e3 x3 SE c40 s2 | …</c>.</summary>
    public override string ToString() =>
        $"stem {StemChannels} | " + string.Join(" | ", Stages.Select(s =>
            $"{(s.Block == BlockType.SepConv ? "SC" : "MB")} k{s.Kernel} e{s.Expansion} x{s.Layers}{(s.SqueezeExcite ? " SE" : "")} c{s.Channels}{(s.Stride == 2 ? " s2" : "")}"))
        + $" | head {HeadChannels} @ {Resolution}px";

    /// <summary>Value equality including the stage list (records compare lists by reference).</summary>
    public bool Equals(ArchitectureSpec? other) =>
        other is not null && StemChannels == other.StemChannels && HeadChannels == other.HeadChannels
        && Resolution == other.Resolution && Stages.SequenceEqual(other.Stages);

    /// <inheritdoc />
    public override int GetHashCode() =>
        Stages.Aggregate(HashCode.Combine(StemChannels, HeadChannels, Resolution), HashCode.Combine);

    /// <summary>Indented JSON with enum names as strings (camelCase fields).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads and validates a spec written by <see cref="ToJson"/>.</summary>
    /// <exception cref="ArgumentException">The JSON is malformed or the spec is invalid (ParamName names the field).</exception>
    public static ArchitectureSpec FromJson(string json)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(json);
        ArchitectureSpec? spec;
        try { spec = JsonSerializer.Deserialize<ArchitectureSpec>(json, Json); }
        catch (JsonException e) { throw new ArgumentException($"Architecture spec is not valid JSON: {e.Message}", nameof(json), e); }
        return (spec ?? throw new ArgumentException("The JSON holds no architecture spec.", nameof(json))).Validate();
    }

    /// <summary>Reads a spec file (<see cref="FromJson"/>); errors name the file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static ArchitectureSpec Load(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"Architecture spec not found: {full}", full);
        try { return FromJson(File.ReadAllText(full)); }
        catch (ArgumentException e) { throw new ArgumentException($"{full}: {e.Message}", e.ParamName, e); }
    }

    /// <summary>Writes the spec as JSON (atomically).</summary>
    public void Save(string path) => Onnx.OnnxExporter.WriteAtomically(path, System.Text.Encoding.UTF8.GetBytes(ToJson()));

    /// <summary>JSON options of specs and search checkpoints: camelCase, indented, enums as names.</summary>
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };
}
