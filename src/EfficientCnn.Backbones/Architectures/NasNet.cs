using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static EfficientCnn.Backbones.Onnx.OnnxTensors;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>An operation a NASNet cell can apply to one hidden state (the search space of Zoph et al. 2018, section 3).</summary>
public enum NasOperation
{
    /// <summary>The state itself (a factorized reduction when it must be downsampled in a reduction cell).</summary>
    Identity,
    /// <summary>ReLU → depthwise 3x3 → pointwise → BN, applied twice.</summary>
    SeparableConv3x3,
    /// <summary>ReLU → depthwise 5x5 → pointwise → BN, applied twice.</summary>
    SeparableConv5x5,
    /// <summary>ReLU → depthwise 7x7 → pointwise → BN, applied twice.</summary>
    SeparableConv7x7,
    /// <summary>3x3 average pooling (padding not counted).</summary>
    AvgPool3x3,
    /// <summary>3x3 max pooling.</summary>
    MaxPool3x3,
}

/// <summary>One input of a combination: <paramref name="Operation"/> applied to hidden state <paramref name="Input"/>.</summary>
/// <param name="Operation">What to apply.</param>
/// <param name="Input">Hidden state index: 0 = h(i-1), the cell before the previous one; 1 = h(i), the previous cell;
/// 2 + k = the output of combination k of this cell.</param>
public readonly record struct NasBranch(NasOperation Operation, int Input);

/// <summary>One block of a cell (paper Fig. 3): the element-wise sum of two operations on two hidden states.</summary>
/// <param name="Left">First branch; its module is named <c>comb_iter_k_left</c> (Cadene/timm naming).</param>
/// <param name="Right">Second branch; its module is named <c>comb_iter_k_right</c>.</param>
public sealed record NasCombination(NasBranch Left, NasBranch Right);

/// <summary>
/// A cell as data: the combinations in order, and which hidden states are concatenated into the cell's output.
/// Any cell of the NASNet search space can be written this way and built by <see cref="NasNet.Cell"/>.
/// </summary>
/// <param name="Combinations">The B blocks of the cell (B = 5 in NASNet-A).</param>
/// <param name="Concat">Hidden-state indices concatenated along channels (NASNet concatenates the states no block consumes).</param>
public sealed record CellGenotype(IReadOnlyList<NasCombination> Combinations, IReadOnlyList<int> Concat)
{
    /// <summary>Number of hidden states: the two cell inputs plus one per combination.</summary>
    public int StateCount => 2 + Combinations.Count;

    /// <summary>Throws an <see cref="ArgumentException"/> (parameter <paramref name="paramName"/>) when the genotype is not a valid cell.</summary>
    public void Validate(bool reduction, string paramName)
    {
        if (Combinations.Count == 0)
            throw new ArgumentException("a cell genotype needs at least one combination.", paramName);
        for (int k = 0; k < Combinations.Count; k++)
            foreach (var b in new[] { Combinations[k].Left, Combinations[k].Right })
                if (b.Input < 0 || b.Input >= 2 + k)
                    throw new ArgumentException(
                        $"combination {k} reads hidden state {b.Input}; it may only read states 0..{1 + k} (the two inputs and earlier combinations).", paramName);
        if (Concat.Count == 0)
            throw new ArgumentException("a cell genotype must concatenate at least one hidden state.", paramName);
        if (Concat.Distinct().Count() != Concat.Count || Concat.Any(i => i < 0 || i >= StateCount))
            throw new ArgumentException($"Concat must list distinct hidden states in 0..{StateCount - 1}, got [{string.Join(",", Concat)}].", paramName);
        if (reduction && Concat.Any(i => i < 2))
            throw new ArgumentException("a reduction cell can only concatenate combination outputs (states >= 2): its inputs are at twice the output resolution.", paramName);
    }
}

/// <summary>Normal and reduction cell of a NASNet network.</summary>
/// <param name="Normal">Cell that keeps the resolution.</param>
/// <param name="Reduction">Cell that halves the resolution (operations on its two inputs use stride 2).</param>
public sealed record NasNetGenotype(CellGenotype Normal, CellGenotype Reduction)
{
    private static NasBranch B(NasOperation op, int input) => new(op, input);

    /// <summary>
    /// NASNet-A (Zoph et al. 2018, Fig. 4), states 0 = h(i-1), 1 = h(i). Normal cell concatenates h(i-1) and all five
    /// combinations (6 × filters channels), the reduction cell combinations 1-4 (combination 0 is consumed by 3 and 4).
    /// </summary>
    public static NasNetGenotype NasNetA { get; } = new(
        Normal: new CellGenotype(
        [
            new(B(NasOperation.SeparableConv5x5, 1), B(NasOperation.SeparableConv3x3, 0)),
            new(B(NasOperation.SeparableConv5x5, 0), B(NasOperation.SeparableConv3x3, 0)),
            new(B(NasOperation.AvgPool3x3, 1), B(NasOperation.Identity, 0)),
            new(B(NasOperation.AvgPool3x3, 0), B(NasOperation.AvgPool3x3, 0)),
            new(B(NasOperation.SeparableConv3x3, 1), B(NasOperation.Identity, 1)),
        ], [0, 2, 3, 4, 5, 6]),
        Reduction: new CellGenotype(
        [
            new(B(NasOperation.SeparableConv5x5, 1), B(NasOperation.SeparableConv7x7, 0)),
            new(B(NasOperation.MaxPool3x3, 1), B(NasOperation.SeparableConv7x7, 0)),
            new(B(NasOperation.AvgPool3x3, 1), B(NasOperation.SeparableConv5x5, 0)),
            new(B(NasOperation.Identity, 3), B(NasOperation.AvgPool3x3, 2)),
            new(B(NasOperation.SeparableConv3x3, 2), B(NasOperation.MaxPool3x3, 1)),
        ], [3, 4, 5, 6]));
}

/// <summary>
/// NASNet (Zoph et al. 2018, "Learning Transferable Architectures for Scalable Image Recognition"), ImageNet layout
/// (Fig. 2): 3x3 stride-2 stem conv, two reduction "stem" cells, then three stacks of N normal cells separated by
/// reduction cells, ReLU, global average pooling, dropout and <c>last_linear</c>. The cells are built from a
/// <see cref="NasNetGenotype"/>, so the same code builds NASNet-A and any other cell of the search space.
/// Module names follow Cadene's pretrainedmodels <c>nasnetamobile</c> (conv0, cell_stem_0, cell_stem_1, cell_0…cell_3,
/// reduction_cell_0, cell_6…cell_9, reduction_cell_1, cell_12…cell_15, last_linear).
/// </summary>
/// <remarks>
/// <para>Filters: the paper's "N @ P" names N normal cells per stack and P penultimate filters. The first stack's cells
/// have f = P / (|normal concat| × 4) filters per branch (44 for 4 @ 1056), doubled at each reduction (2f, then 4f, whose
/// concatenation gives P); the stem cells have f/4 and f/2 (Cadene's <c>filters // 4</c>, <c>filters // 2</c>).</para>
/// <para>Stride-2 operations pad as TensorFlow's "SAME" (one pixel more at the bottom/right on even inputs), which is
/// what Cadene's ZeroPad2d-and-crop emulates; output sizes are ceil(H/2). Not implemented: ScheduledDropPath and the
/// auxiliary head (training regularisers with no effect on the inference network).</para>
/// </remarks>
public sealed class NasNet : Backbone, IBackboneFamily
{
    /// <summary>Filters of the stem convolution in NASNet-A Mobile (paper Table 2 / appendix).</summary>
    public const int MobileStemFilters = 32;

    private readonly Sequential conv0;
    private readonly List<(string Name, Cell Cell)> cells = [];
    private readonly ReLU relu;
    private readonly AdaptiveAvgPool2d avg_pool;
    private readonly Dropout dropout;
    private readonly Linear? last_linear;
    private readonly List<nn.Module> stages = [];

    /// <summary>Builds a NASNet.</summary>
    /// <param name="genotype">The cells; null means <see cref="NasNetGenotype.NasNetA"/>.</param>
    /// <param name="cellsPerStack">N: normal cells between reductions (4 in NASNet-A Mobile).</param>
    /// <param name="penultimateFilters">P: channels of the last cell's output (1056 in NASNet-A Mobile).</param>
    /// <param name="stemFilters">Channels of the 3x3 stride-2 stem convolution (32).</param>
    /// <param name="numClasses">Classes of <c>last_linear</c>; 0 builds the feature extractor only.</param>
    /// <param name="dropRate">Dropout before <c>last_linear</c>; the paper uses 0.5.</param>
    public NasNet(NasNetGenotype? genotype = null, int cellsPerStack = 4, int penultimateFilters = 1056, int stemFilters = MobileStemFilters,
        int numClasses = 1000, double dropRate = 0.5)
        : base("NASNet", numClasses)
    {
        genotype ??= NasNetGenotype.NasNetA;
        genotype.Normal.Validate(reduction: false, nameof(genotype));
        genotype.Reduction.Validate(reduction: true, nameof(genotype));
        if (cellsPerStack < 1) throw new ArgumentException($"cellsPerStack must be >= 1, got {cellsPerStack}.", nameof(cellsPerStack));
        if (stemFilters < 1) throw new ArgumentException($"stemFilters must be >= 1, got {stemFilters}.", nameof(stemFilters));
        if (dropRate < 0 || dropRate >= 1 || double.IsNaN(dropRate))
            throw new ArgumentException($"dropRate must be in [0, 1), got {dropRate}.", nameof(dropRate));
        int normalConcat = genotype.Normal.Concat.Count;
        int filters = penultimateFilters / (normalConcat * 4);
        if (filters < 4)
            throw new ArgumentException(
                $"penultimateFilters must be >= {4 * normalConcat * 4} for this genotype (the first stem cell gets penultimateFilters / {normalConcat * 4} / 4 filters, at least 1), got {penultimateFilters}.",
                nameof(penultimateFilters));

        // Stem (paper Fig. 2, ImageNet): 3x3 conv stride 2 without padding ("VALID"), then BN; the cells apply ReLU first.
        conv0 = nn.Sequential(
            ("conv", nn.Conv2d(3, stemFilters, 3, stride: 2, bias: false)),
            ("bn", nn.BatchNorm2d(stemFilters, eps: 0.001, momentum: 0.1)));
        register_module("conv0", conv0);

        // Track (channels, resolution level) of h(i-1) and h(i) to choose each cell's input adjustment.
        var prevPrev = (Channels: (long)stemFilters, Level: 1);
        var prev = prevPrev;
        var stage = new List<nn.Module> { conv0 };
        Cell Add(string name, CellGenotype g, bool reduction, long cellFilters, bool stem0 = false)
        {
            var adjust = stem0 ? Cell.PrevInput.Raw : prevPrev.Level != prev.Level ? Cell.PrevInput.FactorizedReduction : Cell.PrevInput.Conv1x1;
            var cell = new Cell(g, reduction, prevPrev.Channels, prev.Channels, cellFilters, adjust);
            register_module(name, cell);
            cells.Add((name, cell));
            stage.Add(cell);
            prevPrev = prev;
            prev = (cell.OutChannels, prev.Level + (reduction ? 1 : 0));
            return cell;
        }

        // cell_stem_0 reads conv0 twice: raw as h(i-1), squashed by its 1x1 conv as h(i).
        Add("cell_stem_0", genotype.Reduction, reduction: true, filters / 4, stem0: true);
        prevPrev = (stemFilters, 1);
        Add("cell_stem_1", genotype.Reduction, reduction: true, filters / 2);
        stages.Add(StageGroup.Of(stage));

        long stackFilters = filters;
        for (int s = 0; s < 3; s++)
        {
            stage = [];
            if (s > 0)
            {
                stackFilters *= 2;
                Add($"reduction_cell_{s - 1}", genotype.Reduction, reduction: true, stackFilters);
            }
            // Cadene numbers the normal cells of stack s from s * (N + 2): cell_0..3, cell_6..9, cell_12..15 for N = 4.
            for (int j = 0; j < cellsPerStack; j++)
                Add($"cell_{s * (cellsPerStack + 2) + j}", genotype.Normal, reduction: false, stackFilters);
            stages.Add(StageGroup.Of(stage));
        }

        relu = nn.ReLU();
        avg_pool = nn.AdaptiveAvgPool2d(1);
        dropout = nn.Dropout(dropRate);
        register_module("relu", relu);
        register_module("avg_pool", avg_pool);
        register_module("dropout", dropout);
        FeatureDim = (int)prev.Channels;
        if (numClasses > 0)
        {
            last_linear = nn.Linear(prev.Channels, numClasses);
            register_module("last_linear", last_linear);
        }
        Blocks.TorchvisionLayout.Initialize(this);
    }

    /// <inheritdoc />
    public override int FeatureDim { get; }

    /// <inheritdoc />
    /// <remarks>
    /// 32 px gives a 1x1 last feature map (32 → conv0 15 → 8 → 4 → 2 → 1). Every later downsampling is ceil(H/2), so the
    /// network would run down to 3 px (conv0's 3x3 "VALID" window), but below 32 px the last stacks see a single pixel.
    /// </remarks>
    public override int MinInputSize => 32;

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => last_linear;

    /// <inheritdoc />
    /// <remarks>Stem (conv0, cell_stem_0, cell_stem_1), then each stack (its reduction cell first, then its normal cells).</remarks>
    public override IReadOnlyList<nn.Module> Stages => stages;

    /// <summary>The cells in forward order with their state-dict names.</summary>
    public IReadOnlyList<(string Name, Cell Cell)> Cells => cells;

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input)
    {
        var x0 = conv0.call(input);
        Tensor prevPrev = x0, prev = x0;
        foreach (var (_, cell) in cells)
            (prevPrev, prev) = (prev, cell.call(prev, prevPrev));
        return avg_pool.call(relu.call(prev)).flatten(1);
    }

    /// <inheritdoc />
    /// <remarks>
    /// H and W stay symbolic: TensorFlow "SAME" padding of the stride-2 depthwise convolutions and pools is written as
    /// <c>auto_pad = SAME_UPPER</c> (ONNX's definition is the same formula, odd pixel at the end), and the shifted path
    /// of the factorized reduction as Pad + Slice with an open end, so the graph is exact for every input size.
    /// </remarks>
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input)
    {
        var x0 = g.Export(conv0, input);
        string prevPrev = x0, prev = x0;
        foreach (var (_, cell) in cells)
            (prevPrev, prev) = (prev, cell.ExportOnnx(g, prev, prevPrev));
        return g.Flatten(g.Export(avg_pool, g.Export(relu, prev)));
    }

    /// <inheritdoc />
    /// <remarks>As Cadene's <c>logits</c>: dropout, then the bare linear layer <c>last_linear</c>.</remarks>
    public override Tensor forward(Tensor input)
    {
        var features = ForwardFeatures(input);
        return last_linear is null ? features : last_linear.call(dropout.call(features));
    }

    /// <summary>
    /// A generic NASNet cell built from a <see cref="CellGenotype"/>: squashes its inputs to <c>filters</c> channels,
    /// runs each combination (two operations, summed) and concatenates the listed hidden states.
    /// Called as <c>cell.call(h_i, h_iMinus1)</c>, like Cadene's <c>cell(x, x_prev)</c>.
    /// </summary>
    public sealed class Cell : nn.Module<Tensor, Tensor, Tensor>
    {
        /// <summary>How h(i-1) is brought to the cell's filters and resolution.</summary>
        public enum PrevInput
        {
            /// <summary>Used as is (first stem cell: h(i-1) is conv0's output; separable ops map its channels).</summary>
            Raw,
            /// <summary>ReLU → 1x1 conv → BN (<c>conv_prev_1x1</c>), same resolution as h(i).</summary>
            Conv1x1,
            /// <summary>h(i-1) has twice h(i)'s resolution: factorized reduction (<c>path_1</c>, <c>path_2</c>, <c>final_path_bn</c>).</summary>
            FactorizedReduction,
        }

        private readonly CellGenotype genotype;
        private readonly bool reduction;
        private readonly PrevInput prevInput;
        private readonly Sequential conv_1x1;
        private readonly Sequential? conv_prev_1x1;
        private readonly FactorizedReduction? prevReduction;
        private readonly nn.Module<Tensor, Tensor>?[] left, right;

        /// <summary>Builds the cell.</summary>
        /// <param name="genotype">The cell's structure.</param>
        /// <param name="reduction">True for a reduction cell: operations on the two inputs use stride 2.</param>
        /// <param name="prevPrevChannels">Channels of h(i-1).</param>
        /// <param name="prevChannels">Channels of h(i).</param>
        /// <param name="filters">Channels of every operation's output.</param>
        /// <param name="prevInput">How h(i-1) is adjusted.</param>
        public Cell(CellGenotype genotype, bool reduction, long prevPrevChannels, long prevChannels, long filters, PrevInput prevInput)
            : base(reduction ? "ReductionCell" : "NormalCell")
        {
            genotype.Validate(reduction, nameof(genotype));
            if (filters < 1) throw new ArgumentException($"filters must be >= 1, got {filters}.", nameof(filters));
            this.genotype = genotype;
            this.reduction = reduction;
            this.prevInput = prevInput;

            conv_1x1 = ReluConvBn(prevChannels, filters);
            register_module("conv_1x1", conv_1x1);
            switch (prevInput)
            {
                case PrevInput.Conv1x1:
                    conv_prev_1x1 = ReluConvBn(prevPrevChannels, filters);
                    register_module("conv_prev_1x1", conv_prev_1x1);
                    break;
                case PrevInput.FactorizedReduction:
                    // Registered under the cell itself (relu, path_1, path_2, final_path_bn), as Cadene names them.
                    prevReduction = new FactorizedReduction(prevPrevChannels, filters);
                    foreach (var (name, child) in prevReduction.named_children()) register_module(name, child);
                    break;
            }

            long StateChannels(int state) => state == 0 && prevInput == PrevInput.Raw ? prevPrevChannels : filters;
            int n = genotype.Combinations.Count;
            left = new nn.Module<Tensor, Tensor>?[n];
            right = new nn.Module<Tensor, Tensor>?[n];
            for (int k = 0; k < n; k++)
            {
                var (l, r) = (genotype.Combinations[k].Left, genotype.Combinations[k].Right);
                left[k] = CreateOperation(l.Operation, StateChannels(l.Input), filters, Stride(l.Input));
                right[k] = CreateOperation(r.Operation, StateChannels(r.Input), filters, Stride(r.Input));
                if (left[k] is { } lm) register_module($"comb_iter_{k}_left", lm);
                if (right[k] is { } rm) register_module($"comb_iter_{k}_right", rm);
            }
            if (prevInput == PrevInput.Raw && genotype.Concat.Contains(0) && prevPrevChannels != filters)
                throw new ArgumentException($"the raw input has {prevPrevChannels} channels, so it cannot be concatenated with {filters}-channel states.", nameof(genotype));
            OutChannels = genotype.Concat.Count * filters;
        }

        /// <summary>Channels of the concatenated output.</summary>
        public long OutChannels { get; }

        /// <summary>Number of operation modules the cell built (identities without downsampling need none).</summary>
        public int OperationModuleCount => left.Count(m => m is not null) + right.Count(m => m is not null);

        private long Stride(int state) => reduction && state < 2 ? 2 : 1;

        /// <summary>Runs the cell on h(i) (<paramref name="x"/>) and h(i-1) (<paramref name="xPrev"/>).</summary>
        public override Tensor forward(Tensor x, Tensor xPrev)
        {
            var states = new List<Tensor>(genotype.StateCount)
            {
                prevInput switch
                {
                    PrevInput.Conv1x1 => conv_prev_1x1!.call(xPrev),
                    PrevInput.FactorizedReduction => prevReduction!.call(xPrev),
                    _ => xPrev,
                },
                conv_1x1.call(x),
            };
            for (int k = 0; k < genotype.Combinations.Count; k++)
            {
                var c = genotype.Combinations[k];
                var a = left[k] is { } lm ? lm.call(states[c.Left.Input]) : states[c.Left.Input];
                var b = right[k] is { } rm ? rm.call(states[c.Right.Input]) : states[c.Right.Input];
                states.Add(a + b);
            }
            return cat(genotype.Concat.Select(i => states[i]).ToList(), 1);
        }

        /// <summary>
        /// Writes the cell into an ONNX graph, mirroring <see cref="forward"/>: h(i) is <paramref name="x"/>, h(i-1) is
        /// <paramref name="xPrev"/>. Not <see cref="IOnnxExportable"/> because the cell has two inputs.
        /// </summary>
        /// <returns>The name of the concatenated output.</returns>
        public string ExportOnnx(OnnxGraphBuilder g, string x, string xPrev)
        {
            var states = new List<string>(genotype.StateCount)
            {
                prevInput switch
                {
                    PrevInput.Conv1x1 => g.Export(conv_prev_1x1!, xPrev),
                    PrevInput.FactorizedReduction => g.Export(prevReduction!, xPrev),
                    _ => xPrev,
                },
                g.Export(conv_1x1, x),
            };
            for (int k = 0; k < genotype.Combinations.Count; k++)
            {
                var c = genotype.Combinations[k];
                var a = left[k] is { } lm ? g.Export(lm, states[c.Left.Input]) : states[c.Left.Input];
                var b = right[k] is { } rm ? g.Export(rm, states[c.Right.Input]) : states[c.Right.Input];
                states.Add(g.Op("Add", a, b));
            }
            return g.Op("Concat", genotype.Concat.Select(i => states[i]).ToArray(), Attr("axis", 1L));
        }

        /// <summary>The module for one branch, or null for an identity that needs no module.</summary>
        private static nn.Module<Tensor, Tensor>? CreateOperation(NasOperation op, long inChannels, long outChannels, long stride)
        {
            bool poolOrIdentity = op is NasOperation.Identity or NasOperation.AvgPool3x3 or NasOperation.MaxPool3x3;
            if (poolOrIdentity && inChannels != outChannels && !(op == NasOperation.Identity && stride == 2))
                throw new ArgumentException(
                    $"{op} cannot map {inChannels} to {outChannels} channels: in the first stem cell only separable convolutions may read the raw stem output (state 0).",
                    "genotype");
            return op switch
            {
                NasOperation.Identity => stride == 1 ? null : new FactorizedReduction(inChannels, outChannels),
                NasOperation.SeparableConv3x3 => new BranchSeparables(inChannels, outChannels, 3, stride),
                NasOperation.SeparableConv5x5 => new BranchSeparables(inChannels, outChannels, 5, stride),
                NasOperation.SeparableConv7x7 => new BranchSeparables(inChannels, outChannels, 7, stride),
                NasOperation.AvgPool3x3 => new SamePool(max: false, stride),
                NasOperation.MaxPool3x3 => new SamePool(max: true, stride),
                _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
            };
        }
    }

    /// <summary>ReLU → 1x1 conv → BN (eps 0.001), Cadene's <c>conv_1x1</c> / <c>conv_prev_1x1</c> Sequential (relu, conv, bn).</summary>
    private static Sequential ReluConvBn(long inChannels, long outChannels) => nn.Sequential(
        ("relu", nn.ReLU()),
        ("conv", nn.Conv2d(inChannels, outChannels, 1, bias: false)),
        ("bn", nn.BatchNorm2d(outChannels, eps: 0.001, momentum: 0.1)));

    /// <summary>
    /// TensorFlow "SAME" padding (left, right) for one dimension: output ceil(size / stride), with the odd pixel of
    /// padding at the end.
    /// </summary>
    private static (long Before, long After) SamePadding(long size, long kernel, long stride)
    {
        long outSize = (size + stride - 1) / stride;
        long total = Math.Max((outSize - 1) * stride + kernel - size, 0);
        return (total / 2, total - total / 2);
    }

    private static Tensor PadSame(Tensor x, long kernel, long stride, double value = 0)
    {
        var (top, bottom) = SamePadding(x.shape[2], kernel, stride);
        var (leftPad, rightPad) = SamePadding(x.shape[3], kernel, stride);
        return nn.functional.pad(x, [leftPad, rightPad, top, bottom], PaddingModes.Constant, value);
    }

    /// <summary>Depthwise k×k convolution (stride here) followed by a pointwise 1x1 convolution, no bias.</summary>
    public sealed class SeparableConv2d : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Conv2d depthwise_conv2d, pointwise_conv2d;
        private readonly long kernel, stride;

        /// <summary>Creates the layer.</summary>
        public SeparableConv2d(long inChannels, long outChannels, long kernelSize, long stride) : base(nameof(SeparableConv2d))
        {
            (kernel, this.stride) = (kernelSize, stride);
            // Stride 1: symmetric padding equals "SAME"; stride 2 pads explicitly in forward.
            depthwise_conv2d = nn.Conv2d(inChannels, inChannels, kernelSize, stride: stride, padding: stride == 1 ? kernelSize / 2 : 0,
                groups: inChannels, bias: false);
            pointwise_conv2d = nn.Conv2d(inChannels, outChannels, 1, bias: false);
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x) =>
            pointwise_conv2d.call(depthwise_conv2d.call(stride == 1 ? x : PadSame(x, kernel, stride)));

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input) => ExportOnnx(g, input, null);

        /// <summary>
        /// Writes the depthwise and pointwise convolutions, <paramref name="bn"/> (the BN that follows in the branch)
        /// folded into the pointwise one when the builder folds. Stride 2 uses <c>auto_pad = SAME_UPPER</c>, ONNX's
        /// form of <see cref="PadSame"/>, which stays exact with symbolic H and W.
        /// </summary>
        public string ExportOnnx(OnnxGraphBuilder g, string input, BatchNorm2d? bn)
        {
            string y;
            if (stride == 1) y = g.ExportConvBn(depthwise_conv2d, null, input);
            else
            {
                string path = g.PathOf(depthwise_conv2d);
                y = g.Op("Conv", [input, g.AddInitializer(depthwise_conv2d.weight, path + ".weight")],
                    Attr("kernel_shape", new[] { kernel, kernel }), Attr("strides", new[] { stride, stride }),
                    Attr("dilations", new[] { 1L, 1L }), Attr("group", depthwise_conv2d.groups), Attr("auto_pad", "SAME_UPPER"));
            }
            return g.ExportConvBn(pointwise_conv2d, bn, y);
        }
    }

    /// <summary>
    /// The paper's separable operation (appendix A.4: "applied twice"): ReLU → separable conv (stride) → BN → ReLU →
    /// separable conv → BN. Cadene's <c>BranchSeparables</c>; when channels change (first stem cell) the first
    /// separable conv already maps to the output channels, as <c>BranchSeparablesStem</c>.
    /// </summary>
    public sealed class BranchSeparables : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly ReLU relu, relu1;
        private readonly SeparableConv2d separable_1, separable_2;
        private readonly BatchNorm2d bn_sep_1, bn_sep_2;

        /// <summary>Creates the branch.</summary>
        public BranchSeparables(long inChannels, long outChannels, long kernelSize, long stride) : base(nameof(BranchSeparables))
        {
            // Not in place: the input state also feeds other branches.
            relu = nn.ReLU();
            separable_1 = new SeparableConv2d(inChannels, outChannels, kernelSize, stride);
            bn_sep_1 = nn.BatchNorm2d(outChannels, eps: 0.001, momentum: 0.1);
            relu1 = nn.ReLU();
            separable_2 = new SeparableConv2d(outChannels, outChannels, kernelSize, 1);
            bn_sep_2 = nn.BatchNorm2d(outChannels, eps: 0.001, momentum: 0.1);
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            x = bn_sep_1.call(separable_1.call(relu.call(x)));
            return bn_sep_2.call(separable_2.call(relu1.call(x)));
        }

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            var x = separable_1.ExportOnnx(g, g.Export(relu, input), bn_sep_1);
            return separable_2.ExportOnnx(g, g.Export(relu1, x), bn_sep_2);
        }
    }

    /// <summary>3x3 max or average pooling (average excludes padding) with TensorFlow "SAME" padding.</summary>
    public sealed class SamePool : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly bool max;
        private readonly long stride;

        /// <summary>Creates the pool.</summary>
        public SamePool(bool max, long stride) : base(max ? "MaxPool" : "AvgPool") => (this.max, this.stride) = (max, stride);

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            if (stride == 1)
                return max
                    ? nn.functional.max_pool2d(x, 3, 1, 1)
                    : nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad: false);
            if (max) return nn.functional.max_pool2d(PadSame(x, 3, stride, double.NegativeInfinity), 3, stride);
            // Asymmetric padding with padding excluded from the mean: window sums over the count of real pixels.
            var sums = nn.functional.avg_pool2d(PadSame(x, 3, stride), 3, stride);
            var counts = nn.functional.avg_pool2d(PadSame(ones(1, 1, x.shape[2], x.shape[3], dtype: x.dtype, device: x.device), 3, stride), 3, stride);
            return sums / counts;
        }

        /// <inheritdoc />
        /// <remarks>Stride 1: symmetric pads 1. Stride 2: <c>auto_pad = SAME_UPPER</c>; the average excludes the padding
        /// (<c>count_include_pad = 0</c>), as <see cref="forward"/>.</remarks>
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            var attrs = new List<AttributeProto> { Attr("kernel_shape", new[] { 3L, 3L }), Attr("strides", new[] { stride, stride }) };
            attrs.Add(stride == 1 ? Attr("pads", new[] { 1L, 1L, 1L, 1L }) : Attr("auto_pad", "SAME_UPPER"));
            if (!max) attrs.Add(Attr("count_include_pad", 0L));
            return g.Op(max ? "MaxPool" : "AveragePool", [input], attrs.ToArray());
        }
    }

    /// <summary>
    /// Factorized reduction (paper appendix A.1; Cadene's path_1/path_2): ReLU, then two strided 1x1 convs, one on the
    /// input and one on the input shifted by one pixel, each giving half the channels, concatenated and batch-normalised.
    /// Halves the resolution without discarding every other pixel.
    /// </summary>
    public sealed class FactorizedReduction : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly ReLU relu;
        private readonly Sequential path_1;
        private readonly ShiftedPath path_2;
        private readonly BatchNorm2d final_path_bn;

        /// <summary>Creates the reduction to <paramref name="outChannels"/> channels.</summary>
        public FactorizedReduction(long inChannels, long outChannels) : base(nameof(FactorizedReduction))
        {
            if (outChannels < 2) throw new ArgumentException($"a factorized reduction needs >= 2 output channels, got {outChannels}.", nameof(outChannels));
            relu = nn.ReLU();
            path_1 = nn.Sequential(
                ("avgpool", nn.AvgPool2d(1, stride: 2, count_include_pad: false)),
                ("conv", nn.Conv2d(inChannels, outChannels / 2, 1, bias: false)));
            path_2 = new ShiftedPath(inChannels, outChannels - outChannels / 2);
            final_path_bn = nn.BatchNorm2d(outChannels, eps: 0.001, momentum: 0.1);
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            x = relu.call(x);
            return final_path_bn.call(cat([path_1.call(x), path_2.call(x)], 1));
        }

        /// <inheritdoc />
        /// <remarks>final_path_bn follows a Concat, not one conv, so it stays a BatchNormalization node.</remarks>
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            var x = g.Export(relu, input);
            return g.Export(final_path_bn, g.Op("Concat", [g.Export(path_1, x), g.Export(path_2, x)], Attr("axis", 1L)));
        }
    }

    /// <summary>Second path of the factorized reduction: shift by one pixel (zero-pad bottom/right, drop top/left), subsample, 1x1 conv.</summary>
    public sealed class ShiftedPath : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly AvgPool2d avgpool;
        private readonly Conv2d conv;

        /// <summary>Creates the path.</summary>
        public ShiftedPath(long inChannels, long outChannels) : base(nameof(ShiftedPath))
        {
            avgpool = nn.AvgPool2d(1, stride: 2, count_include_pad: false);
            conv = nn.Conv2d(inChannels, outChannels, 1, bias: false);
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            long h = x.shape[2], w = x.shape[3];
            var shifted = nn.functional.pad(x, [0, 1, 0, 1]).slice(2, 1, h + 1, 1).slice(3, 1, w + 1, 1);
            return conv.call(avgpool.call(shifted));
        }

        /// <inheritdoc />
        /// <remarks>Pad bottom/right by one, then Slice from 1 to an open end (INT64_MAX clamps to the padded size), so the
        /// shift is exact for any H and W.</remarks>
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            string path = g.PathOf(this);
            var padded = g.Op("Pad", input, g.AddConstant(new long[] { 0, 0, 0, 0, 0, 0, 1, 1 }, path + ".pads"));
            var shifted = g.Op("Slice", padded, g.AddConstant(new long[] { 1, 1 }, path + ".starts"),
                g.AddConstant(new long[] { long.MaxValue, long.MaxValue }, path + ".ends"), g.AddConstant(new long[] { 2, 3 }, path + ".axes"));
            return g.Export(conv, g.Export(avgpool, shifted));
        }
    }

    static int IBackboneFamily.ListingOrder => 10; // reference point: NASNet

    /// <summary>Registered variant. Reference: Zoph et al. 2018 Table 2, NASNet-A (4 @ 1056): 5.3M params, 564M mult-adds at 224.</summary>
    static IEnumerable<BackboneVariant> IBackboneFamily.Variants()
    {
        yield return new("nasnet_a_mobile", "NASNet", 224,
            o => new NasNet(numClasses: o.NumClasses, dropRate: o.DropRate ?? 0.5),
            new PaperReference(5_300_000, 564_000_000, 224,
                "Zoph et al. 2018 Table 2, NASNet-A (4 @ 1056): 5.3M params, 564M mult-adds. Ours: 5,289,978 params (= Keras NASNetMobile's "
                + "trainable count), 576,471,328 MACs (+2.2%, within the 3% the issue accepts for NASNet; the stem conv (10.6M) and classifier "
                + "(1.1M) account for 11.7M of the 12.5M gap, the paper does not state what it counts)", ExactParams: false, MacsTolerancePercent: 3));
    }
}
