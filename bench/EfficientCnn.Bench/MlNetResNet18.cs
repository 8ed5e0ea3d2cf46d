using System.Runtime.InteropServices;
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

    public static string OnnxPath => Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    private static string PreprocessPath => Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx");

    /// <summary>Whether an ONNX file is this network (it has no preprocessing metadata of ours).</summary>
    public static bool Is(string path) => OnnxModelInfo.Read(path).Outputs.Any(o => o.Name == PooledOutput);

    /// <summary>
    /// What ResNetPreprocess.onnx does before the network: 0-255 pixels, channels reordered to BGR, minus a mean image.
    /// Our spec subtracts one mean per channel (the mean image's average) from x/255 and divides by 1/255.
    /// </summary>
    public static PreprocessingSpec Preprocessing(int resolution)
    {
        var model = OnnxModelReader.Read(PreprocessPath);
        var init = model.Graph.Initializer.Single(t => t.Name == "MeanImage");
        float[] mean = init.FloatData.Count > 0 ? init.FloatData.ToArray() : MemoryMarshal.Cast<byte, float>(init.RawData.Span).ToArray();
        int plane = mean.Length / 3;
        double[] bgr = Enumerable.Range(0, 3).Select(c => mean.AsSpan(c * plane, plane).ToArray().Average(v => (double)v)).ToArray();
        return new PreprocessingSpec
        {
            Resolution = resolution, ResizeMode = ResizeMode.ShorterSideCenterCrop, CropFraction = 1f, ChannelOrder = ChannelOrder.Bgr,
            Mean = [(float)(bgr[2] / 255), (float)(bgr[1] / 255), (float)(bgr[0] / 255)], Std = [1 / 255f, 1 / 255f, 1 / 255f],
        };
    }
}
