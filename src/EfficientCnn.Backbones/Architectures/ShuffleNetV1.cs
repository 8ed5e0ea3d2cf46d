using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static EfficientCnn.Backbones.Onnx.OnnxTensors;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// ShuffleNet (V1) (Zhang et al. 2018, "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile
/// Devices", Table 1, Figure 2): bottleneck units whose 1x1 convolutions are group convolutions, with a channel shuffle
/// so information crosses the groups. Neither torchvision nor timm has it; module names follow the authors' PyTorch
/// code (megvii-model/ShuffleNet-Series, ShuffleNetV1): <c>first_conv</c>, <c>maxpool</c>, <c>features.0…15</c>
/// (units with <c>branch_main_1</c>, <c>branch_main_2</c>), <c>classifier.0</c> (bias-free Linear).
/// </summary>
/// <remarks>
/// The unit follows the paper's Figure 2: the shuffle comes right after the first 1x1 GConv → BN → ReLU. The authors'
/// code shuffles after the depthwise BN instead and transposes (n, g) rather than (g, n); both are channel
/// permutations that a depthwise conv commutes with, so the function class is the same, but their checkpoints would
/// need their depthwise/BN weights permuted to load here.
/// </remarks>
public sealed class ShuffleNetV1 : Backbone, IBackboneFamily
{
    /// <summary>Group counts of paper Table 1.</summary>
    public static readonly IReadOnlyList<int> AllowedGroups = [1, 2, 3, 4, 8];

    /// <summary>Units per stage (Stage2, Stage3, Stage4), paper Table 1: one stride-2 unit, then 3, 7, 3 stride-1 units.</summary>
    public static readonly int[] StageRepeats = [4, 8, 4];

    /// <summary>Conv1 output channels at 1x (paper Table 1).</summary>
    public const int StemChannels = 24;

    /// <summary>Stage2 output channels at 1x per group count (paper Table 1); Stage3 and Stage4 double each time.</summary>
    public static readonly IReadOnlyDictionary<int, int> Stage2Channels = new Dictionary<int, int>
    {
        [1] = 144, [2] = 200, [3] = 240, [4] = 272, [8] = 384,
    };

    private readonly Sequential first_conv;
    private readonly MaxPool2d maxpool;
    private readonly Sequential features;
    private readonly Sequential? classifier;
    private readonly ShuffleUnit[] units;
    private readonly double dropRate;

    /// <summary>
    /// Builds ShuffleNet s× with <paramref name="groups"/> groups: every channel count of Table 1 times
    /// <paramref name="scale"/>; bottleneck channels are 1/4 of each unit's output channels.
    /// </summary>
    /// <param name="groups">Groups g of the pointwise convolutions, one of 1, 2, 3, 4, 8.</param>
    /// <param name="scale">Channel multiplier s (paper: 0.25, 0.5, 1, 1.5, 2).</param>
    /// <param name="numClasses">Classes of the head; 0 for none.</param>
    /// <param name="dropRate">Dropout before the classifier.</param>
    /// <param name="stemChannels">Conv1 channels; default round(24·s), raised to the next count that keeps the
    /// first unit's GConv output (Stage2 − Conv1) divisible by g (the authors' code does the same for 0.5x g=8: 16).</param>
    /// <exception cref="ArgumentException">g is not in Table 1, s &lt;= 0, or a grouped layer's channels are not divisible by g.</exception>
    public ShuffleNetV1(int groups = 3, double scale = 1.0, int numClasses = 1000, double dropRate = 0.0, int? stemChannels = null)
        : base("ShuffleNetV1", numClasses)
    {
        if (!AllowedGroups.Contains(groups))
            throw new ArgumentException($"groups must be one of {string.Join(", ", AllowedGroups)} (paper Table 1), got {groups}.", nameof(groups));
        if (!(scale > 0) || double.IsInfinity(scale))
            throw new ArgumentException($"scale must be a finite number > 0, got {scale}.", nameof(scale));
        int[] stageChannels = [.. Enumerable.Range(0, 3).Select(i => (int)Math.Round(Stage2Channels[groups] * scale) << i)];
        if (stageChannels[0] < 8 * groups)
            throw new ArgumentException(
                $"scale {scale} is too small for groups={groups}: Stage2 would have {stageChannels[0]} channels, at least {8 * groups} are needed " +
                "(a bottleneck of 1/4 of them split into g groups, plus Conv1).", nameof(scale));
        int stem = stemChannels ?? DefaultStem(stageChannels[0], groups, scale);
        if (stem < 1 || stem >= stageChannels[0])
            throw new ArgumentException($"stemChannels must be in 1..{stageChannels[0] - 1} (below Stage2's channels), got {stem}.", nameof(stemChannels));
        this.dropRate = dropRate;

        first_conv = ConvNormActivation.Create(3, stem, 3, stride: 2);
        maxpool = nn.MaxPool2d(3, stride: 2, padding: 1);
        var list = new List<ShuffleUnit>();
        int input = stem;
        for (int s = 0; s < 3; s++)
        {
            for (int i = 0; i < StageRepeats[s]; i++)
            {
                // Paper Section 3.3: no group convolution on Stage2's first pointwise layer (its input is only Conv1's 24 channels).
                bool groupedInput = !(s == 0 && i == 0);
                list.Add(new ShuffleUnit(input, stageChannels[s], groups, i == 0 ? 2 : 1, groupedInput));
                input = stageChannels[s];
            }
        }
        units = [.. list];
        features = nn.Sequential(units.Select((u, i) => (i.ToString(), (nn.Module<Tensor, Tensor>)u)));
        FeatureDim = input;
        if (numClasses > 0) classifier = nn.Sequential(("0", nn.Linear(FeatureDim, numClasses, hasBias: false)));
        RegisterComponents();
        TorchvisionLayout.Initialize(this);
    }

    /// <summary>Groups g of the pointwise group convolutions.</summary>
    public int Groups => units[^1].Groups;

    /// <inheritdoc />
    public override int FeatureDim { get; }

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => classifier;

    /// <inheritdoc />
    public override IReadOnlyList<nn.Module> Stages
    {
        get
        {
            var stages = new List<nn.Module> { first_conv };
            int start = 0;
            foreach (int repeats in StageRepeats)
            {
                stages.Add(StageGroup.Of(units[start..(start + repeats)]));
                start += repeats;
            }
            return stages;
        }
    }

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input)
    {
        var x = features.call(maxpool.call(first_conv.call(input)));
        return x.mean([2, 3]);
    }

    /// <inheritdoc />
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input)
    {
        var x = g.Export(features, g.Export(maxpool, g.Export(first_conv, input)));
        return g.Flatten(g.Op("GlobalAveragePool", x));
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var pooled = ForwardFeatures(input);
        if (classifier is null) return pooled;
        return classifier.call(nn.functional.dropout(pooled, dropRate, training));
    }

    private static int DefaultStem(int stage2, int groups, double scale)
    {
        int stem = Math.Max(1, (int)Math.Round(StemChannels * scale));
        while (stem < stage2 && (stage2 - stem) % groups != 0) stem++;
        return stem;
    }

    /// <summary>
    /// The ShuffleNet unit (paper Figure 2b/c): 1x1 GConv → BN → ReLU → channel shuffle → 3x3 depthwise (stride) → BN
    /// → 1x1 GConv → BN; stride 1 adds the input then ReLU, stride 2 concatenates a 3x3 average-pooled input
    /// (so the 1x1 GConv only produces output − input channels) then ReLU.
    /// </summary>
    public sealed class ShuffleUnit : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential branch_main_1;
        private readonly Sequential branch_main_2;
        private readonly AvgPool2d? branch_proj;
        // The layers of branch_main_1, kept to run the shuffle between ReLU and the depthwise conv (not registered twice).
        private readonly nn.Module<Tensor, Tensor>[] main1;
        private readonly Blocks.ChannelShuffle shuffle;

        /// <summary>Creates the unit.</summary>
        /// <param name="inputChannels">Channels entering the unit.</param>
        /// <param name="outputChannels">Channels leaving the unit (bottleneck = outputChannels / 4).</param>
        /// <param name="groups">Groups of the pointwise convolutions.</param>
        /// <param name="stride">1 (residual add) or 2 (average-pool shortcut, concatenation).</param>
        /// <param name="groupedInput">False for Stage2's first unit, whose first 1x1 conv is dense.</param>
        public ShuffleUnit(int inputChannels, int outputChannels, int groups, int stride, bool groupedInput = true)
            : base(nameof(ShuffleUnit))
        {
            if (stride is not (1 or 2)) throw new ArgumentException($"stride must be 1 or 2, got {stride}.", nameof(stride));
            if (stride == 1 && inputChannels != outputChannels)
                throw new ArgumentException($"a stride-1 unit needs inputChannels == outputChannels, got {inputChannels} and {outputChannels}.", nameof(inputChannels));
            int mid = outputChannels / 4;
            int mainOut = stride == 2 ? outputChannels - inputChannels : outputChannels;
            if (mainOut < 1)
                throw new ArgumentException($"a stride-2 unit needs outputChannels > inputChannels, got {outputChannels} <= {inputChannels}.", nameof(outputChannels));
            var grouped = new List<(string What, int Channels)> { ("bottleneck", mid), ("GConv output", mainOut) };
            if (groupedInput) grouped.Add(("GConv input", inputChannels));
            foreach (var (what, channels) in grouped)
                if (channels < 1 || channels % groups != 0)
                    throw new ArgumentException(
                        $"groups ({groups}) must divide every grouped layer's channels, but the {what} has {channels} " +
                        $"(unit {inputChannels}->{outputChannels}); choose a scale whose channels are multiples of 4·groups.", nameof(groups));
            Groups = groups;
            main1 =
            [
                nn.Conv2d(inputChannels, mid, 1, groups: groupedInput ? groups : 1, bias: false),
                nn.BatchNorm2d(mid),
                nn.ReLU(inplace: true),
                nn.Conv2d(mid, mid, 3, stride: stride, padding: 1, groups: mid, bias: false),
                nn.BatchNorm2d(mid),
            ];
            branch_main_1 = nn.Sequential(main1.Select((m, i) => (i.ToString(), m)));
            branch_main_2 = nn.Sequential(
                ("0", nn.Conv2d(mid, mainOut, 1, groups: groups, bias: false)),
                ("1", nn.BatchNorm2d(mainOut)));
            if (stride == 2) branch_proj = nn.AvgPool2d(3, stride: 2, padding: 1);
            shuffle = new Blocks.ChannelShuffle(groups);
            RegisterComponents();
        }

        /// <summary>Groups of the pointwise convolutions (and of the shuffle).</summary>
        public int Groups { get; }

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            var y = main1[2].call(main1[1].call(main1[0].call(x)));
            y = shuffle.call(y);
            y = main1[4].call(main1[3].call(y));
            y = branch_main_2.call(y);
            // Stride 1: residual add. Stride 2: the pooled input is already >= 0 (it follows a ReLU), so ReLU after
            // the concatenation equals ReLU on the main branch alone.
            return branch_proj is null
                ? nn.functional.relu(x + y)
                : cat([branch_proj.call(x), nn.functional.relu(y)], 1);
        }

        /// <inheritdoc />
        /// <remarks>
        /// branch_main_1 is written layer by layer so the shuffle lands between its ReLU and the depthwise conv; each
        /// conv's BN is folded by the builder. The stride-2 shortcut is the AvgPool2d module itself (count_include_pad
        /// as in forward: PyTorch's default, true).
        /// </remarks>
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            string y = g.Export(main1[2], g.ExportConvBn((Conv2d)main1[0], (BatchNorm2d)main1[1], input));
            y = g.Export(shuffle, y);
            y = g.ExportConvBn((Conv2d)main1[3], (BatchNorm2d)main1[4], y);
            y = g.Export(branch_main_2, y);
            return branch_proj is null
                ? g.Op("Relu", g.Op("Add", input, y))
                : g.Op("Concat", [g.Export(branch_proj, input), g.Op("Relu", y)], Attr("axis", 1L));
        }
    }

    static int IBackboneFamily.ListingOrder => 2; // ShuffleNetV1 (Zhang et al. 2017)

    /// <summary>
    /// Registered variants. MACs: paper Table 1 (1x, per g) and the authors' README (megvii-model/ShuffleNet-Series,
    /// ShuffleNetV1/README.md: 0.5x/1.0x/1.5x/2.0x for g=3 and g=8) which also gives params rounded to 0.1M
    /// (hence ExactParams = false). g=1, 2, 4 and 0.25x have no published parameter count, so they carry no
    /// <see cref="PaperReference"/>; their MACs are checked against Table 1 / Table 2 in ShuffleNetTests instead.
    /// </summary>
    static IEnumerable<BackboneVariant> IBackboneFamily.Variants()
    {
        // 1x, Table 1 (complexity row, MFLOPs = mult-adds): g=1 143M, g=2 140M, g=3 137M, g=4 133M, g=8 137M.
        yield return Variant(1, 1.0, null);
        yield return Variant(2, 1.0, null);
        yield return Variant(3, 1.0, Reference(1_900_000, 137_000_000, "paper Table 1: 137M (g=3, 1x); megvii README: 138M FLOPs, 1.9M params"));
        yield return Variant(4, 1.0, null);
        yield return Variant(8, 1.0, Reference(2_400_000, 137_000_000, "paper Table 1: 137M (g=8, 1x); megvii README: 138M FLOPs, 2.4M params"));
        // Other scales: the authors' README (Table 2 of the paper gives 38M for 0.5x and 13M for 0.25x, averaged over g).
        yield return Variant(3, 0.5, Reference(700_000, 38_000_000, "megvii README ShuffleNetV1 0.5x (group=3): 38M FLOPs, 0.7M params; paper Table 2: 0.5x 38M"));
        // 0.25x: paper Table 2 says 13 MFLOPs but does not give Conv1's width; with 24·0.25 = 6 channels we count 11.0M,
        // so no reference is claimed (a 12-channel Conv1 would come near 13M, but the paper does not say so).
        yield return Variant(3, 0.25, null);
        // The authors' code keeps Conv1 at 24 channels for 1.5x (network.py); with 36 the count would be 300M, not 292M.
        yield return Variant(3, 1.5, Reference(3_400_000, 292_000_000, "megvii README ShuffleNetV1 1.5x (group=3): 292M FLOPs, 3.4M params (Conv1 24 ch, megvii network.py)"), stem: 24);
        yield return Variant(3, 2.0, Reference(5_400_000, 524_000_000, "megvii README ShuffleNetV1 2.0x (group=3): 524M FLOPs, 5.4M params; paper Table 5: 524M"));
        yield return Variant(8, 0.5, Reference(1_000_000, 40_000_000, "megvii README ShuffleNetV1 0.5x (group=8): 40M FLOPs, 1.0M params (Conv1 16 ch, megvii network.py)"));
        yield return Variant(8, 1.5, Reference(4_300_000, 290_000_000, "megvii README ShuffleNetV1 1.5x (group=8): 290M FLOPs, 4.3M params (Conv1 24 ch, megvii network.py)"), stem: 24);
        yield return Variant(8, 2.0, Reference(6_500_000, 522_000_000, "megvii README ShuffleNetV1 2.0x (group=8): 522M FLOPs, 6.5M params"));
    }

    private static PaperReference Reference(long parameters, long macs, string source) =>
        new(parameters, macs, 224, source, ExactParams: false);

    private static BackboneVariant Variant(int groups, double scale, PaperReference? reference, int? stem = null) =>
        new($"shufflenet_v1_g{groups}_{scale.ToString("0.0#", System.Globalization.CultureInfo.InvariantCulture)}", "ShuffleNetV1", 224,
            o => new ShuffleNetV1(groups, scale, o.NumClasses, o.DropRate ?? 0.0, stem),
            reference);
}
