using EfficientCnn.Backbones.Blocks;

namespace EfficientCnn.Backbones.Architectures;

/// <summary>
/// MNASNet-A1 (Tan et al. 2019, Figure 7(a)): the searched network with squeeze-and-excitation in three stages.
/// Module names follow timm's <c>semnasnet_100</c> (alias <c>mnasnet_a1</c>): <c>conv_stem</c>, <c>bn1</c>,
/// <c>blocks.i.j.*</c>, <c>conv_head</c>, <c>bn2</c>, <c>classifier</c> (built by <see cref="MbConvNetwork"/>).
/// </summary>
public sealed class MnasNetA1 : MbConvNetwork
{
    /// <summary>Figure 7(a) of the paper, top to bottom (after the 3x3 stem conv with 32 channels).</summary>
    public static readonly IReadOnlyList<MbConvStage> Architecture =
    [
        new("SepConv", 1, 3, 1, 1, 16, 0),     // ds_r1_k3_s1_e1_c16_noskip   112x112
        new("MBConv", 2, 3, 2, 6, 24, 0),      // ir_r2_k3_s2_e6_c24          112 → 56
        new("MBConv", 3, 5, 2, 3, 40, 0.25),   // ir_r3_k5_s2_e3_c40_se0.25   56 → 28
        new("MBConv", 4, 3, 2, 6, 80, 0),      // ir_r4_k3_s2_e6_c80          28 → 14
        new("MBConv", 2, 3, 1, 6, 112, 0.25),  // ir_r2_k3_s1_e6_c112_se0.25  14 → 14
        new("MBConv", 3, 5, 2, 6, 160, 0.25),  // ir_r3_k5_s2_e6_c160_se0.25  14 → 7
        new("MBConv", 1, 3, 1, 6, 320, 0),     // ir_r1_k3_s1_e6_c320         7 → 7
    ];

    /// <summary>Width of the 1x1 head conv; timm's MNASNet-A1 keeps 1280 for every width multiplier.</summary>
    public const int HeadChannels = 1280;

    /// <summary>Width of the 3x3 stem conv before the width multiplier.</summary>
    private const int StemChannels = 32;

    /// <summary>Builds MNASNet-A1 with timm's channel multiplier <paramref name="widthMultiplier"/> (1.0 in the paper).</summary>
    /// <param name="widthMultiplier">Channel multiplier, &gt; 0; channels are rounded to multiples of 8 (timm's round_channels).</param>
    /// <param name="numClasses">Classes of the head; 0 builds the feature extractor only.</param>
    /// <param name="dropRate">Dropout before the classifier (0.2 in the TF reference).</param>
    public MnasNetA1(double widthMultiplier = 1.0, int numClasses = 1000, double dropRate = 0.2)
        : base("MnasNetA1", Round(StemChannels, widthMultiplier),
            Architecture.Select(s => s with { Channels = Round(s.Channels, widthMultiplier) }).ToList(),
            HeadChannels, numClasses, dropRate)
    {
    }

    /// <summary>timm's round_channels: <paramref name="channels"/> times the multiplier, rounded to a multiple of 8.</summary>
    private static int Round(int channels, double widthMultiplier)
    {
        Multipliers.RequirePositive(widthMultiplier, nameof(widthMultiplier));
        return Multipliers.MakeDivisible(channels * widthMultiplier, 8);
    }
}
