using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>torchvision's classifier head and initialisation, shared by the families that follow its layout.</summary>
public static class TorchvisionLayout
{
    /// <summary>torchvision's classifier head: Sequential("0": Dropout, "1": Linear).</summary>
    public static Sequential DropoutLinear(long inFeatures, long numClasses, double dropRate) =>
        nn.Sequential(("0", nn.Dropout(dropRate)), ("1", nn.Linear(inFeatures, numClasses)));

    /// <summary>
    /// torchvision's initialisation for efficient CNNs: Kaiming-normal (fan-out) convs, BN weight 1 / bias 0,
    /// Linear N(0, 0.01) with zero bias.
    /// </summary>
    public static void Initialize(nn.Module root)
    {
        using var _ = no_grad();
        foreach (var (_, m) in root.named_modules())
        {
            switch (m)
            {
                case Conv2d conv:
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut);
                    if (conv.bias is not null) nn.init.zeros_(conv.bias);
                    break;
                case BatchNorm2d bn:
                    if (bn.weight is not null) nn.init.ones_(bn.weight);
                    if (bn.bias is not null) nn.init.zeros_(bn.bias);
                    break;
                case Linear linear:
                    nn.init.normal_(linear.weight, 0, 0.01);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                    break;
            }
        }
    }
}
