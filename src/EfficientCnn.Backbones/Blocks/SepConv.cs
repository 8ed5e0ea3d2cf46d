using EfficientCnn.Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>
/// The paper's "SepConv": depthwise kxk → BN → ReLU → linear 1x1 → BN (timm's DepthwiseSeparableConv:
/// <c>conv_dw</c>, <c>bn1</c>, <c>conv_pw</c>, <c>bn2</c>). MNASNet-A1 uses it without skip ("noskip").
/// </summary>
public sealed class SepConv : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv2d conv_dw;
    private readonly BatchNorm2d bn1;
    private readonly ReLU act;
    private readonly Conv2d conv_pw;
    private readonly BatchNorm2d bn2;

    /// <summary>Creates the block.</summary>
    public SepConv(long inChannels, long outChannels, int kernelSize, int stride) : base(nameof(SepConv))
    {
        conv_dw = nn.Conv2d(inChannels, inChannels, kernelSize, stride: stride, padding: kernelSize / 2, groups: inChannels, bias: false);
        bn1 = nn.BatchNorm2d(inChannels);
        act = nn.ReLU(inplace: true);
        conv_pw = nn.Conv2d(inChannels, outChannels, 1, bias: false);
        bn2 = nn.BatchNorm2d(outChannels);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => bn2.call(conv_pw.call(act.call(bn1.call(conv_dw.call(x)))));

    /// <inheritdoc />
    public string ExportOnnx(OnnxGraphBuilder g, string input) =>
        g.ExportConvBn(conv_pw, bn2, g.Export(act, g.ExportConvBn(conv_dw, bn1, input)));
}
