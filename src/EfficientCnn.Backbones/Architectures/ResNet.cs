using EfficientCnn.Backbones.Blocks;
using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// ResNet (He et al. 2016, "Deep Residual Learning for Image Recognition", Table 1), the classic baseline.
/// Module names equal torchvision's <c>resnet18</c>/<c>resnet50</c> state dict (conv1, bn1, layer1…layer4, fc).
/// </summary>
public sealed class ResNet : Backbone, IBackboneFamily
{
    /// <summary>Residual block type: two 3x3 convs (ResNet-18/34) or 1x1-3x3-1x1 bottleneck (ResNet-50+).</summary>
    public enum BlockKind
    {
        /// <summary>Two 3x3 convolutions, expansion 1.</summary>
        Basic,
        /// <summary>1x1 reduce, 3x3, 1x1 expand (x4).</summary>
        Bottleneck,
    }

    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly ReLU relu;
    private readonly MaxPool2d maxpool;
    private readonly Sequential layer1, layer2, layer3, layer4;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Linear? fc;
    private readonly double dropRate;
    private readonly List<nn.Module> stages;

    /// <summary>Builds a ResNet with <paramref name="layers"/> blocks per stage and base width <paramref name="width"/> (64 in the paper).</summary>
    /// <param name="block">Residual block type.</param>
    /// <param name="layers">Blocks per stage (4 stages).</param>
    /// <param name="numClasses">Classes of the head; 0 for none.</param>
    /// <param name="dropRate">Dropout before the head.</param>
    /// <param name="width">Base width (64 in the paper).</param>
    /// <param name="tuckerRanks">
    /// Per stage, the fraction of channels kept as Tucker-2 ranks of its 3x3 convolutions (<see cref="Tucker2Conv"/>), or 0
    /// to keep them whole; null keeps every stage whole (the paper's network). Basic blocks only.
    /// </param>
    public ResNet(BlockKind block, int[] layers, int numClasses = 1000, double dropRate = 0.0, int width = 64, double[]? tuckerRanks = null)
        : base("ResNet", numClasses)
    {
        if (layers.Length != 4 || layers.Any(n => n < 1))
            throw new ArgumentException($"layers must hold 4 stage depths >= 1, got [{string.Join(",", layers)}].", nameof(layers));
        if (width < 1) throw new ArgumentException($"width must be >= 1, got {width}.", nameof(width));
        tuckerRanks ??= [0, 0, 0, 0];
        if (tuckerRanks.Length != 4 || tuckerRanks.Any(r => r < 0 || r > 1))
            throw new ArgumentException($"tuckerRanks must hold 4 fractions in [0, 1], got [{string.Join(",", tuckerRanks)}].", nameof(tuckerRanks));
        if (block == BlockKind.Bottleneck && tuckerRanks.Any(r => r > 0))
            throw new ArgumentException("Tucker-2 factorization is implemented for basic blocks (ResNet-18/34) only.", nameof(tuckerRanks));
        int expansion = block == BlockKind.Basic ? 1 : 4;
        this.dropRate = dropRate;
        conv1 = nn.Conv2d(3, width, 7, stride: 2, padding: 3, bias: false);
        bn1 = nn.BatchNorm2d(width);
        relu = nn.ReLU(inplace: true);
        maxpool = nn.MaxPool2d(3, stride: 2, padding: 1);
        long inplanes = width;
        layer1 = MakeLayer(block, ref inplanes, width, layers[0], 1, expansion, tuckerRanks[0]);
        layer2 = MakeLayer(block, ref inplanes, width * 2, layers[1], 2, expansion, tuckerRanks[1]);
        layer3 = MakeLayer(block, ref inplanes, width * 4, layers[2], 2, expansion, tuckerRanks[2]);
        layer4 = MakeLayer(block, ref inplanes, width * 8, layers[3], 2, expansion, tuckerRanks[3]);
        avgpool = nn.AdaptiveAvgPool2d(1);
        FeatureDim = (int)inplanes;
        if (numClasses > 0) fc = nn.Linear(inplanes, numClasses);
        RegisterComponents();
        // Built after registration so the stem wrapper does not add "stem.*" names to the state dict.
        stages = [nn.Sequential(("conv1", conv1), ("bn1", bn1)), layer1, layer2, layer3, layer4];

        using var _ = no_grad();
        foreach (var (_, m) in named_modules())
        {
            if (m is Conv2d c) nn.init.kaiming_normal_(c.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
            else if (m is BatchNorm2d b) { nn.init.ones_(b.weight!); nn.init.zeros_(b.bias!); }
        }
    }

    /// <inheritdoc />
    public override int FeatureDim { get; }

    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor>? Head => fc;

    /// <inheritdoc />
    public override IReadOnlyList<nn.Module> Stages => stages;

    /// <inheritdoc />
    protected override Tensor ExtractFeatures(Tensor input)
    {
        var x = maxpool.call(relu.call(bn1.call(conv1.call(input))));
        x = layer4.call(layer3.call(layer2.call(layer1.call(x))));
        return avgpool.call(x).flatten(1);
    }

    /// <inheritdoc />
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input)
    {
        var x = g.Export(maxpool, g.Export(relu, g.ExportConvBn(conv1, bn1, input)));
        foreach (var layer in new[] { layer1, layer2, layer3, layer4 }) x = g.Export(layer, x);
        return g.Flatten(g.Export(avgpool, x));
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var features = ForwardFeatures(input);
        if (fc is null) return features;
        return fc.call(nn.functional.dropout(features, dropRate, training));
    }

    private static Sequential MakeLayer(BlockKind kind, ref long inplanes, long planes, int blocks, long stride, int expansion, double tuckerRank)
    {
        var list = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i < blocks; i++)
        {
            long s = i == 0 ? stride : 1;
            Sequential? downsample = null;
            if (i == 0 && (stride != 1 || inplanes != planes * expansion))
                downsample = nn.Sequential(
                    ("0", nn.Conv2d(inplanes, planes * expansion, 1, stride: stride, bias: false)),
                    ("1", nn.BatchNorm2d(planes * expansion)));
            list.Add((i.ToString(), kind == BlockKind.Basic
                ? new BasicBlock(inplanes, planes, s, downsample, tuckerRank)
                : new Bottleneck(inplanes, planes, s, downsample)));
            inplanes = planes * expansion;
        }
        return nn.Sequential(list);
    }

    /// <summary>Two 3x3 convolutions with an identity (or projection) shortcut.</summary>
    public sealed class BasicBlock : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly nn.Module<Tensor, Tensor> conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        private readonly ReLU relu;
        private readonly Sequential? downsample;

        /// <summary>Creates the block; with <paramref name="tuckerRank"/> &gt; 0 its 3x3 convolutions are <see cref="Tucker2Conv"/>s keeping that fraction of channels as ranks.</summary>
        public BasicBlock(long inplanes, long planes, long stride, Sequential? downsample, double tuckerRank = 0) : base(nameof(BasicBlock))
        {
            conv1 = Conv3x3(inplanes, planes, stride, tuckerRank);
            bn1 = nn.BatchNorm2d(planes);
            relu = nn.ReLU(inplace: true);
            conv2 = Conv3x3(planes, planes, 1, tuckerRank);
            bn2 = nn.BatchNorm2d(planes);
            this.downsample = downsample;
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            var identity = downsample is null ? x : downsample.call(x);
            var y = relu.call(bn1.call(conv1.call(x)));
            y = bn2.call(conv2.call(y));
            return relu.call(y + identity);
        }

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            var identity = downsample is null ? input : g.Export(downsample, input);
            var y = g.Export(relu, ExportConvBn(g, conv1, bn1, input));
            y = ExportConvBn(g, conv2, bn2, y);
            return g.Export(relu, g.Op("Add", y, identity));
        }

        private static nn.Module<Tensor, Tensor> Conv3x3(long inChannels, long outChannels, long stride, double tuckerRank) =>
            tuckerRank > 0
                ? new Tucker2Conv(inChannels, outChannels, 3, stride, 1, Rank(inChannels, tuckerRank), Rank(outChannels, tuckerRank))
                : nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);

        private static int Rank(long channels, double fraction) => (int)Math.Max(1, Math.Round(channels * fraction));

        private static string ExportConvBn(OnnxGraphBuilder g, nn.Module<Tensor, Tensor> conv, BatchNorm2d bn, string input) => conv switch
        {
            Conv2d plain => g.ExportConvBn(plain, bn, input),
            Tucker2Conv factorized => factorized.ExportWithNorm(g, bn, input),
            _ => throw new NotSupportedException($"{conv.GetType().Name} in a basic block has no ONNX export."),
        };
    }

    /// <summary>1x1 reduce → 3x3 (stride here, as torchvision's "ResNet v1.5") → 1x1 expand ×4, with shortcut.</summary>
    public sealed class Bottleneck : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Conv2d conv1, conv2, conv3;
        private readonly BatchNorm2d bn1, bn2, bn3;
        private readonly ReLU relu;
        private readonly Sequential? downsample;

        /// <summary>Creates the block.</summary>
        public Bottleneck(long inplanes, long planes, long stride, Sequential? downsample) : base(nameof(Bottleneck))
        {
            conv1 = nn.Conv2d(inplanes, planes, 1, bias: false);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = nn.Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(planes);
            conv3 = nn.Conv2d(planes, planes * 4, 1, bias: false);
            bn3 = nn.BatchNorm2d(planes * 4);
            relu = nn.ReLU(inplace: true);
            this.downsample = downsample;
            RegisterComponents();
        }

        /// <inheritdoc />
        public override Tensor forward(Tensor x)
        {
            var identity = downsample is null ? x : downsample.call(x);
            var y = relu.call(bn1.call(conv1.call(x)));
            y = relu.call(bn2.call(conv2.call(y)));
            y = bn3.call(conv3.call(y));
            return relu.call(y + identity);
        }

        /// <inheritdoc />
        public string ExportOnnx(OnnxGraphBuilder g, string input)
        {
            var identity = downsample is null ? input : g.Export(downsample, input);
            var y = g.Export(relu, g.ExportConvBn(conv1, bn1, input));
            y = g.Export(relu, g.ExportConvBn(conv2, bn2, y));
            y = g.ExportConvBn(conv3, bn3, y);
            return g.Export(relu, g.Op("Add", y, identity));
        }
    }

    static int IBackboneFamily.ListingOrder => 8; // reference point: ResNet

    /// <summary>Registered variants. References: torchvision's model docs (params exact, GFLOPS = GMACs).</summary>
    static IEnumerable<BackboneVariant> IBackboneFamily.Variants()
    {
        yield return new("resnet18", "ResNet", 224,
            o => new ResNet(BlockKind.Basic, [2, 2, 2, 2], o.NumClasses, o.DropRate ?? 0.0),
            new PaperReference(11_689_512, 1_814_000_000, 224, "torchvision resnet18 (11,689,512 params, 1.81 GFLOPS); He et al. 2016 Table 1: 1.8e9 FLOPs"));
        yield return new("resnet50", "ResNet", 224,
            o => new ResNet(BlockKind.Bottleneck, [3, 4, 6, 3], o.NumClasses, o.DropRate ?? 0.0),
            new PaperReference(25_557_032, 4_089_000_000, 224, "torchvision resnet50 (25,557,032 params, 4.09 GFLOPS); He et al. 2016 Table 1: 3.8e9 FLOPs (v1, stride in 1x1)"));
    }
}
