using System.Runtime.InteropServices;
using EfficientCnn.Backbones.Imaging;

namespace EfficientCnn.Backbones.Onnx;

/// <summary>
/// Caffe-style preprocessing stored as a separate ONNX graph, as in ML.NET's DnnImageFeaturizer packages
/// (ResNetPreprocess.onnx: 0-255 pixels in BGR order minus a mean image held in the initializer <c>MeanImage</c>).
/// </summary>
public static class MeanImagePreprocessing
{
    /// <summary>
    /// The equivalent <see cref="PreprocessingSpec"/>: BGR, pixel/255 minus the mean image's per-channel average (divided
    /// by 255), divided by 1/255, so the network sees 0-255 values minus the channel means.
    /// </summary>
    /// <exception cref="InvalidDataException">The file has no float initializer <c>MeanImage</c> of 3 equal planes.</exception>
    public static PreprocessingSpec Read(string preprocessOnnxPath, int resolution)
    {
        var model = OnnxModelReader.Read(preprocessOnnxPath);
        var init = model.Graph.Initializer.FirstOrDefault(t => t.Name == "MeanImage")
                   ?? throw new InvalidDataException($"'{preprocessOnnxPath}' has no initializer 'MeanImage'.");
        float[] mean = init.FloatData.Count > 0 ? init.FloatData.ToArray() : MemoryMarshal.Cast<byte, float>(init.RawData.Span).ToArray();
        if (mean.Length == 0 || mean.Length % 3 != 0)
            throw new InvalidDataException($"'{preprocessOnnxPath}': MeanImage holds {mean.Length} values, not 3 planes.");
        int plane = mean.Length / 3;
        double[] bgr = Enumerable.Range(0, 3).Select(c => mean.AsSpan(c * plane, plane).ToArray().Average(v => (double)v)).ToArray();
        return new PreprocessingSpec
        {
            Resolution = resolution, ResizeMode = ResizeMode.ShorterSideCenterCrop, CropFraction = 1f, ChannelOrder = ChannelOrder.Bgr,
            Mean = [(float)(bgr[2] / 255), (float)(bgr[1] / 255), (float)(bgr[0] / 255)], Std = [1 / 255f, 1 / 255f, 1 / 255f],
        };
    }
}
