using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;

namespace EfficientCnn.Bench;

/// <summary>
/// The ResNet18 ONNX files of Microsoft.ML.DnnImageFeaturizer.ResNet18 (copied next to this program by the package), so
/// our featurizer and trainer can run the very network ML.NET's DnnFeaturizeImage runs.
/// </summary>
internal static class MlNetResNet18
{
    /// <summary>Shorthand accepted by --backbone for the package's ResNet18.onnx.</summary>
    public const string Alias = "mlnet-resnet18";

    /// <summary>Graph output holding the 512 pooled features (the one DnnFeaturizeImage returns).</summary>
    public const string PooledOutput = "Pooling395_Output_0";

    /// <summary>The zoo variant with this network's architecture (He et al.'s ResNet-18), for its MACs and parameter count.</summary>
    public const string ZooTwin = "resnet18";

    public static string OnnxPath => Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    private static string PreprocessPath => Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx");

    /// <summary>Whether an ONNX file is this network (it has no preprocessing metadata of ours).</summary>
    public static bool Is(string path) => OnnxModelInfo.Read(path).Outputs.Any(o => o.Name == PooledOutput);

    /// <summary>What ResNetPreprocess.onnx does before the network, as a spec (see <see cref="MeanImagePreprocessing"/>).</summary>
    public static PreprocessingSpec Preprocessing(int resolution) => MeanImagePreprocessing.Read(PreprocessPath, resolution);
}
