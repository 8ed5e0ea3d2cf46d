using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static EfficientCnn.Bench.Measure;

namespace EfficientCnn.Bench;

/// <summary>
/// Where the time of image scoring goes on this machine, stage by stage, so that the speed targets can be held
/// against what the hardware allows: ONNX Runtime alone on in-memory tensors (MobileNetV2-1.0 at batch 1 and 32,
/// ML.NET's ResNet18 at batch 1), and preprocessing alone (our decode + resize + normalise, one thread and all cores,
/// against ML.NET's LoadImages → ResizeImages → ExtractPixels). Everything runs in this one process, stages in turn.
/// </summary>
internal static class CeilingBench
{
    private const int Resolution = 224;

    public static int Run(BenchArgs a)
    {
        var rows = Images.Pick(a.Required("images"), a.Int("count", 100));
        int runs = a.Int("runs", 40), threads = a.Int("threads", Environment.ProcessorCount);
        string mobileNet = Path.Combine(Path.GetTempPath(), $"ecnn-ceiling-{Environment.ProcessId}-mobilenet_v2_1.0.onnx");
        ScoreBench.ExportClassifier(mobileNet);
        var table = new List<string[]>();
        void Add(string stage, double imagesPerSecond) => table.Add([stage, F(imagesPerSecond), F(1000 / imagesPerSecond, 2)]);
        try
        {
            double mbv2Batch1 = OrtImagesPerSecond(mobileNet, 1, runs, threads);
            double mbv2Batch32 = OrtImagesPerSecond(mobileNet, 32, Math.Max(2, runs / 16), threads);
            double resnet18 = OrtImagesPerSecond(MlNetResNet18.OnnxPath, 1, runs, threads);
            Add($"ONNX Runtime alone, mobilenet_v2_1.0 classifier, batch 1, {threads} threads", mbv2Batch1);
            Add($"ONNX Runtime alone, mobilenet_v2_1.0 classifier, batch 32, {threads} threads", mbv2Batch32);
            Add($"ONNX Runtime alone, ML.NET ResNet18, batch 1, {threads} threads", resnet18);

            // Files read once first: every timed pass below then decodes from the page cache, whichever runs first.
            foreach (var r in rows) File.ReadAllBytes(r.ImagePath);
            var preprocessor = new ImagePreprocessor(PreprocessingSpec.ImageNet(Resolution));
            var inputs = rows.Select(r => ImageInput.FromFile(r.ImagePath)).ToArray();
            var buffer = new float[inputs.Length * preprocessor.TensorLength];
            double oursOne = rows.Length / Seconds(() => preprocessor.PreprocessBatch(inputs, buffer, maxDegreeOfParallelism: 1));
            double oursAll = rows.Length / Seconds(() => preprocessor.PreprocessBatch(inputs, buffer));
            Add("our preprocessing (decode, resize, centre crop, normalise), 1 thread", oursOne);
            Add($"our preprocessing, {Environment.ProcessorCount} threads", oursAll);

            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(rows);
            var pixels = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(ImageRow.ImagePath))
                .Append(ml.Transforms.ResizeImages("Image", Resolution, Resolution))
                .Append(ml.Transforms.ExtractPixels("Pixels", "Image", interleavePixelColors: false)).Fit(data);
            double mlnet = rows.Length / Seconds(() => Drain(pixels.Transform(data), "Pixels"));
            Add("ML.NET LoadImages → ResizeImages → ExtractPixels, 1 thread (as ApplyOnnxModel runs it)", mlnet);

            Table.Print($"Cost of each stage alone, {rows.Length} images, {Resolution} px, {Environment.ProcessorCount} cores", ["stage", "images/s", "ms/image"], table);
            // Work per image in core-milliseconds: ONNX Runtime keeps `threads` cores busy, parallel decoding all cores.
            double ortCoreMs = 1000.0 * threads / mbv2Batch32, prepCoreMs = 1000.0 / oursOne, mlnetCoreMs = 1000.0 / mlnet;
            double bound = 1000.0 * Environment.ProcessorCount / (ortCoreMs + prepCoreMs);
            Console.WriteLine($"scorer ceiling on {Environment.ProcessorCount} cores (all cores busy, no overhead): {F(bound)} img/s " +
                              $"= {F(1000.0 / (1000.0 / mbv2Batch1 + mlnetCoreMs))} img/s for row-by-row ML.NET x {F(bound / (1000.0 / (1000.0 / mbv2Batch1 + mlnetCoreMs)), 2)}");
            Console.WriteLine($"featurizer compute ratio, ResNet18 batch 1 / MobileNetV2-1.0 batch 32 (ONNX Runtime alone): {F(mbv2Batch32 / resnet18, 2)}x");
        }
        finally
        {
            File.Delete(mobileNet);
        }
        return 0;
    }

    /// <summary>Images per second of one session on random input (the speed does not depend on the pixel values).</summary>
    private static double OrtImagesPerSecond(string onnx, int batch, int runs, int threads)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
        using var session = new InferenceSession(onnx, options);
        var (name, meta) = session.InputMetadata.First();
        var shape = meta.Dimensions.Select((d, i) => i == 0 ? batch : d > 0 ? d : Resolution).ToArray();
        var input = new DenseTensor<float>(shape);
        var random = new Random(1);
        for (int i = 0; i < input.Length; i++) input.SetValue(i, (float)random.NextDouble());
        var feeds = new[] { NamedOnnxValue.CreateFromTensor(name, input) };
        for (int i = 0; i < 3; i++) session.Run(feeds).Dispose();
        return (double)batch * runs / Seconds(() =>
        {
            for (int i = 0; i < runs; i++) session.Run(feeds).Dispose();
        });
    }
}
