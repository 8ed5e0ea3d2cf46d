// Featurize-then-train: an efficient backbone turns each image into a feature vector once, and any ML.NET trainer learns
// on those vectors (here L-BFGS multinomial logistic regression). Fast, no deep learning in the loop.
//   dotnet run --project samples/FeaturizeThenTrain -c Release [-- DATA_DIR]
using System.Diagnostics;
using EfficientCnn.Backbones.Runtime;
using EfficientCnn.MLNet;
using EfficientCnn.Samples;
using Microsoft.ML;

TorchRuntime.Configure();
var ml = new MLContext(seed: 0);
string folder = SampleData.Folder(args);
var train = SampleData.Load(ml, folder, "train");
var test = SampleData.Load(ml, folder, "test");

var watch = Stopwatch.StartNew();
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.FeaturizeImages(outputColumnName: "Features", inputColumnName: "ImagePath"))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features"))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
var model = pipeline.Fit(train);
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
Console.WriteLine($"backbone {EfficientCnn.Backbones.Registry.BackboneSource.DefaultName}: test micro-accuracy {metrics.MicroAccuracy:P1}, " +
                  $"macro-accuracy {metrics.MacroAccuracy:P1}, log-loss {metrics.LogLoss:F3} ({watch.Elapsed.TotalSeconds:F0} s)");
Console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());
