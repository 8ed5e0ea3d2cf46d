using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static EfficientCnn.Backbones.Onnx.OnnxTensors;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// ShuffleNet V2 (Ma et al. 2018, "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
/// Table 5, Figure 3c/d): units that split the channels in two halves, leave one half untouched, run the other through
/// 1x1 → 3x3 depthwise → 1x1, concatenate and shuffle. Module names and the state dict equal torchvision's
/// <c>shufflenet_v2_x*</c> (conv1, maxpool, stage2…stage4, conv5, fc; units with <c>branch1</c>/<c>branch2</c>).
/// </summary>
public sealed class ShuffleNetV2 : Backbone, IBackboneFamily
{
    /// <summary>Units per stage (Stage2, Stage3, Stage4), paper Table 5: 1 down-sampling unit + 3, 7, 3 basic units.</summary>
    public static readonly int[] StageRepeats = [4, 8, 4];

    /// <summary>
    /// Output channels of Conv1, Stage2, Stage3, Stage4, Conv5 per width multiplier (paper Table 5; torchvision's
    /// <c>stages_out_channels</c>).
    /// </summary>
    public static readonly IReadOnlyDictionary<double, int[]> OutputChannels = new Dictionary<double, int[]>
    {
        [0.5] = [24, 48, 96, 192, 1024],
        [1.0] = [24, 116, 232, 464, 1024],
        [1.5] = [24, 176, 352, 704, 1024],
        [2.0] = [24, 244, 488, 976, 2048],
    };

    private readonly Sequential conv1;
    private readonly MaxPool2d maxpool;
    private readonly Sequential stage2, stage3, stage4;
    private readonly Sequential conv5;
    private readonly Linear? fc;
    private readonly double dropRate;

    /// <summary>Builds the paper's network for width multiplier <paramref name="scale"/> (0.5, 1.0, 1.5 or 2.0).</summary>
    /// <exception cref="ArgumentException"><paramref name="scale"/> is not one of Table 5's multipliers.</exception>
    public ShuffleNetV2(double scale = 1.0, int numClasses = 1000, double dropRate = 0.0)
        : this(StageRepeats, ChannelsFor(scale), numClasses, dropRate)
    {
    }

    /// <summary>
    /// Builds a ShuffleNet V2 with <paramref name="stagesRepeats"/> units in Stage2–4 and
    /// <paramref name="stagesOutChannels"/> channels for Conv1, Stage2–4 and Conv5 (torchvision's constructor).
    /// </summary>
    /// <exception cref="ArgumentException">Wrong lengths, non-positive values, or odd stage channels (the split needs halves).</exception>
    public ShuffleNetV2(int[] stagesRepeats, int[] stagesOutChannels, int numClasses = 1000, double dropRate = 0.0)
        : base("ShuffleNetV2", numClasses)
    {
        if (stagesRepeats.Length != 3 || stagesRepeats.Any(r => r < 1))
            throw new ArgumentException($"stagesRepeats must hold 3 stage depths >= 1, got [{string.Join(",", stagesRepeats)}].", nameof(stagesRepeats));
        if (stagesOutChannels.Length != 5 || stagesOutChannels.Any(c => c < 1))
            throw new ArgumentException($"stagesOutChannels must hold 5 channel counts >= 1, got [{string.Join(",", stagesOutChannels)}].", nameof(stagesOutChannels));
        if (stagesOutChannels.Skip(1).Take(3).Any(c => c % 2 != 0))
            throw new ArgumentException(
                $"stage channels must be even (each unit splits them into two halves), got [{string.Join(",", stagesOutChannels)}].", nameof(stagesOutChannels));
        this.dropRate = dropRate;

        long input = stagesOutChannels[0];
        conv1 = ConvNormActivation.Create(3, input, 3, stride: 2);
        maxpool = nn.MaxPool2d(3, stride: 2, padding: 1);
        var stages = new Sequential[3];
        for (int s = 0; s < 3; s++)
        {
            long output = stagesOutChannels[s + 1];
            var units = new List<(string, nn.Module<Tensor, Tensor>)> { ("0", new InvertedResidual(input, output, 2)) };
            for (int i = 1; i < stagesRepeats[s]; i++) units.Add((i.ToString(), new InvertedResidual(output, output, 1)));
            stages[s] = nn.Sequential(units);
            input = output;
        }
        (stage2, stage3, stage4) = (stages[0], stages[1], stages[2]);
        conv5 = ConvNormActivation.Create(input, stagesOutChannels[4], 1);
        FeatureDim = stagesOutChannels[4];
        if (numClasses > 0) fc = nn.Linear(FeatureDim, numClasses);
        RegisterComponents();
        // torchvision keeps PyTorch's default initialisation for ShuffleNetV2; TorchSharp's defaults are the same.
    }

    /// <inheritdoc />
    public override int FeatureDim { get; }

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => fc;

    /// <inheritdoc />
    public override IReadOnlyList<nn.Module> Stages => [conv1, stage2, stage3, stage4, conv5];

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input)
    {
        var x = maxpool.call(conv1.call(input));
        x = conv5.call(stage4.call(stage3.call(stage2.call(x))));
        return x.mean([2, 3]);
    }

    /// <inheritdoc />
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input)
    {
        var x = g.Export(maxpool, g.Export(conv1, input));
        foreach (var stage in new[] { stage2, stage3, stage4 }) x = g.Export(stage, x);
        return g.Flatten(g.Op("GlobalAveragePool", g.Export(conv5, x)));
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var features = ForwardFeatures(input);
        if (fc is null) return features;
        return fc.call(nn.functional.dropout(features, dropRate, training));
    }

    private static int[] ChannelsFor(double scale) =>
        OutputChannels.TryGetValue(scale, out var channels)
            ? channels
            : throw new ArgumentException(
                $"scale must be one of the paper's width multipliers ({string.Join(", ", OutputChannels.Keys)}), got {scale}.", nameof(scale));

    /// <summary>
    /// The ShuffleNet V2 unit (paper Figure 3c: stride 1, Figure 3d: stride 2), torchvision's <c>InvertedResidual</c>.
    /// Stride 1: split the channels in halves, keep the first, transform the second with <c>branch2</c>.
    /// Stride 2: both branches see all channels; <c>branch1</c> is 3x3 depthwise (stride 2) → 1x1.
    /// Then concatenate and shuffle with 2 groups.
    /// </summary>
    public sealed class InvertedResidual : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential? branch1;
        private readonly Sequential branch2;
        private readonly long stride;
        private readonly long branchChannels;

        /// <summary>Creates the unit from <paramref name="inputChannels"/> to <paramref name="outputChannels"/> (even) channels.</summary>
        public InvertedResidual(long inputChannels, long outputChannels, long stride) : base(nameof(InvertedResidual))
        {
            if (stride is < 1 or > 3) throw new ArgumentException($"stride must be in 1..3, got {stride}.", nameof(stride));
            long branchChannels = outputChannels / 2;
            if (stride == 1 && inputChannels != branchChannels * 2)
                throw new ArgumentException(
                    $"a stride-1 unit needs inputChannels == outputChannels (even), got {inputChannels} and {outputChannels}.", nameof(inputChannels));
            this.stride = stride;
            this.branchChannels = branchChannels;
            if (stride > 1)
                branch1 = nn.Sequential(
                    ("0", nn.Conv2d(inputChannels, inputChannels, 3, stride: stride, padding: 1, groups: inputChannels, bias: false)),
                    ("1", nn.BatchNorm2d(inputChannels)),
                    ("2", nn.Conv2d(inputChannels, branchChannels, 1, bias: false)),
                    ("3", nn.BatchNorm2d(branchChannels)),
                    ("4", nn.ReLU(inplace: true)));
            branch2 = nn.Sequential(
                ("0", nn.Conv2d(stride > 1 ? inputChannels : branchChannels, branchChannels, 1, bias: false)),
                ("1", nn.BatchNorm2d(branchChannels)),
                ("2", nn.ReLU(inplace: true)),
                ("3", nn.Conv2d(branchChannels, branchChannels, 3, stride: stride, padding: 1, groups: branchChannels, bias: false)),
                ("4", nn.BatchNorm2d(branchChannels)),
                ("5", nn.Conv2d(branchChannels, branchChannels, 1, bias: false)),
                ("6", nn.BatchNorm2d(branchChannels)),
                ("7", nn.ReLU(inplace: true)));
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            Tensor output;
            if (branch1 is null)
            {
                // Channel split (guideline G1: equal widths; G4: the identity half costs no element-wise add).
                var halves = x.chunk(2, 1);
                output = cat([halves[0], branch2.call(halves[1])], 1);
            }
            else
            {
                output = cat([branch1.call(x), branch2.call(x)], 1);
            }
            return Blocks.ChannelShuffle.Shuffle(output, 2);
        }

        /// <inheritdoc />
        /// <remarks>The channel split is an opset-17 Split with sizes [C/2, C/2] as its second input (C is even by construction).</remarks>
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            string[] parts;
            if (branch1 is null)
            {
                var halves = g.OpMulti("Split", [input, g.AddConstant([branchChannels, branchChannels], g.PathOf(this) + ".split")], 2, Attr("axis", 1L));
                parts = [halves[0], g.Export(branch2, halves[1])];
            }
            else
            {
                parts = [g.Export(branch1, input), g.Export(branch2, input)];
            }
            return Blocks.ChannelShuffle.ExportShuffle(g, g.Op("Concat", parts, Attr("axis", 1L)), 2);
        }
    }

    static int IBackboneFamily.ListingOrder => 4; // ShuffleNetV2 (Ma et al. 2018)

    /// <summary>
    /// Registered variants. Params: torchvision's exact counts. MACs: torchvision's GFLOPS where they have three
    /// digits (0.145, 0.296, 0.583); for x0.5 torchvision's 0.04 is too rounded, so the paper's Table 5 figure (41M).
    /// Paper Table 5 FLOPs: 41M, 146M, 299M, 591M; our exact counts: 40.5M, 144.9M, 295.8M, 583.3M.
    /// </summary>
    static IEnumerable<BackboneVariant> IBackboneFamily.Variants()
    {
        yield return Variant("0.5", 0.5, 1_366_792, 41_000_000,
            "torchvision shufflenet_v2_x0_5 (1,366,792 params, 0.04 GFLOPS); Ma et al. 2018 Table 5: 41M FLOPs (used)");
        yield return Variant("1.0", 1.0, 2_278_604, 145_000_000,
            "torchvision shufflenet_v2_x1_0 (2,278,604 params, 0.145 GFLOPS, used); Ma et al. 2018 Table 5: 146M FLOPs");
        yield return Variant("1.5", 1.5, 3_503_624, 296_000_000,
            "torchvision shufflenet_v2_x1_5 (3,503,624 params, 0.296 GFLOPS, used); Ma et al. 2018 Table 5: 299M FLOPs");
        yield return Variant("2.0", 2.0, 7_393_996, 583_000_000,
            "torchvision shufflenet_v2_x2_0 (7,393,996 params, 0.583 GFLOPS, used); Ma et al. 2018 Table 5: 591M FLOPs");
    }

    private static BackboneVariant Variant(string suffix, double scale, long parameters, long macs, string source) =>
        new("shufflenet_v2_" + suffix, "ShuffleNetV2", 224,
            o => new ShuffleNetV2(scale, o.NumClasses, o.DropRate ?? 0.0),
            new PaperReference(parameters, macs, 224, source));
}
