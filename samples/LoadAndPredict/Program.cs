// Load and predict: a saved model.zip answers for one image at a time, as a business app would.
//   dotnet run --project samples/LoadAndPredict -c Release -- model.zip IMAGE.png
using System.Diagnostics;
using EfficientCnn.Samples;
using Microsoft.ML;

if (args.Length < 2) { Console.Error.WriteLine("usage: LoadAndPredict model.zip IMAGE"); return 2; }
var watch = Stopwatch.StartNew();
var ml = new MLContext();
var model = ml.Model.Load(args[0], out _);
var engine = ml.Model.CreatePredictionEngine<ImageRow, Prediction>(model);
var prediction = engine.Predict(new ImageRow { ImagePath = args[1] });
Console.WriteLine($"{args[1]}: {prediction.PredictedLabel} ({prediction.Score.Max():P1}); load + first prediction {watch.ElapsedMilliseconds} ms");
return 0;

/// <summary>A prediction.</summary>
public sealed class Prediction
{
    /// <summary>Class name.</summary>
    public string PredictedLabel { get; set; } = "";

    /// <summary>Class probabilities.</summary>
    public float[] Score { get; set; } = [];
}
