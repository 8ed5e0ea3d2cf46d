// Fine-tune: a folder of labelled images -> an efficient CNN trained end to end -> metrics -> one saved model.zip.
//   dotnet run --project samples/FineTune -c Release [-- DATA_DIR [model.zip]]
using System.Diagnostics;
using EfficientCnn.Backbones.Runtime;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using EfficientCnn.Samples;
using Microsoft.ML;

TorchRuntime.Configure();
var ml = new MLContext(seed: 0);
string folder = SampleData.Folder(args);
string output = args.Length > 1 ? args[1] : "model.zip";
var train = SampleData.Load(ml, folder, "train");
var test = SampleData.Load(ml, folder, "test");

var watch = Stopwatch.StartNew();
var trainer = ml.MulticlassClassification.Trainers.FineTuneImageClassifier(new ImageClassifierTrainerOptions
{
    ValidationFraction = 0.15, Seed = 0,
    Training = new()
    {
        Epochs = 8, Scope = TrainScope.LastStages, TrainLastStages = 3, EarlyStoppingPatience = 3,
        OnEpoch = m => Console.WriteLine($"epoch {m.Epoch}: train loss {m.TrainLoss:F3}, validation accuracy {m.ValidationAccuracy:P1} ({m.ImagesPerSecond:F0} img/s)"),
    },
});
var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Append(trainer).Fit(train);
var metrics = ml.MulticlassClassification.Evaluate(keyed.Transform(test)); // Label and PredictedLabel are keys here
// The saved model returns the class name: PredictedLabel mapped from key to text.
var model = keyed.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(keyed.Transform(train)));
Console.WriteLine($"test micro-accuracy {metrics.MicroAccuracy:P1}, macro-accuracy {metrics.MacroAccuracy:P1} ({watch.Elapsed.TotalSeconds:F0} s)");
ml.Model.Save(model, train.Schema, output);
Console.WriteLine($"saved {Path.GetFullPath(output)} ({new FileInfo(output).Length / 1e6:F1} MB): input column ImagePath, outputs PredictedLabel and Score");
