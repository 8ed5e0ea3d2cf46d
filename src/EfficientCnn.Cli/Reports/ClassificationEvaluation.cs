using EfficientCnn.Backbones.Training;

namespace EfficientCnn.Cli.Reports;

/// <summary>Precision, recall and support of one class.</summary>
/// <param name="Label">Class name.</param>
/// <param name="Precision">Share of the images predicted as this class that are (0 when none was predicted).</param>
/// <param name="Recall">Share of this class's images predicted correctly (0 when it has none).</param>
/// <param name="Support">Images of this class evaluated.</param>
internal sealed record ClassScore(string Label, double Precision, double Recall, int Support);

/// <summary>An image the model got wrong.</summary>
/// <param name="Path">The image file.</param>
/// <param name="TrueLabel">Its class.</param>
/// <param name="PredictedLabel">The model's class.</param>
/// <param name="Score">Probability of the predicted class.</param>
internal sealed record WrongPrediction(string Path, string TrueLabel, string PredictedLabel, double Score);

/// <summary>Metrics of a model on labelled images, computed from the scored columns (as ML.NET's multiclass evaluator defines them).</summary>
/// <param name="Classes">Class names (confusion matrix order).</param>
/// <param name="Images">Images evaluated.</param>
/// <param name="MicroAccuracy">Correct / all.</param>
/// <param name="MacroAccuracy">Mean recall over the classes that occur.</param>
/// <param name="LogLoss">Mean −ln p(true class), p clamped at 1e-15.</param>
/// <param name="ImagesPerSecond">Scoring throughput (wall time).</param>
/// <param name="PerClass">Per-class precision/recall/support.</param>
/// <param name="ConfusionMatrix">Rows true class, columns predicted class.</param>
/// <param name="Misclassified">Wrong predictions, most confident first.</param>
/// <param name="BadImages">Unreadable images left out.</param>
internal sealed record ClassificationEvaluation(IReadOnlyList<string> Classes, int Images, double MicroAccuracy, double MacroAccuracy, double LogLoss,
    double ImagesPerSecond, IReadOnlyList<ClassScore> PerClass, long[][] ConfusionMatrix, IReadOnlyList<WrongPrediction> Misclassified,
    IReadOnlyList<BadImage> BadImages)
{
    private const double Epsilon = 1e-15;

    /// <summary>Scores <paramref name="data"/> with <paramref name="model"/> and compares with its labels.</summary>
    /// <exception cref="ArgumentException">The data has classes the model does not know (named).</exception>
    public static ClassificationEvaluation Run(Microsoft.ML.MLContext ml, LoadedModel model, ImageDataset data, int? batchSize = null)
    {
        var unknown = data.Classes.Except(model.Classes).ToArray();
        if (unknown.Length > 0)
            throw new ArgumentException($"--data has classes the model was not trained on: {string.Join(", ", unknown)} (model classes: {string.Join(", ", model.Classes)}).", "data");
        var truth = data.Items.GroupBy(ImageData.PathOf).ToDictionary(g => g.Key, g => data.Classes[g.First().Label]);
        var run = ImageScoring.Score(ml, model, data.Items.Select(ImageData.PathOf).ToArray(), batchSize);
        if (run.Images.Count == 0)
            throw new InvalidDataException($"None of the {data.Count} images of '{data.Source}' could be read.");
        return Compute(run, truth);
    }

    /// <summary>The metrics of scored images against their true classes.</summary>
    public static ClassificationEvaluation Compute(ScoringRun run, IReadOnlyDictionary<string, string> truth)
    {
        var classes = run.Classes;
        int k = classes.Count;
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        var matrix = Enumerable.Range(0, k).Select(_ => new long[k]).ToArray();
        var wrong = new List<WrongPrediction>();
        double logLoss = 0;
        foreach (var image in run.Images)
        {
            int t = index[truth[image.Path]], p = index[image.PredictedLabel];
            matrix[t][p]++;
            logLoss -= Math.Log(Math.Max(image.Scores[t], Epsilon));
            if (t != p) wrong.Add(new WrongPrediction(image.Path, classes[t], classes[p], image.Scores[p]));
        }
        int n = run.Images.Count;
        var perClass = Enumerable.Range(0, k).Select(c =>
        {
            long tp = matrix[c][c], support = matrix[c].Sum(), predicted = matrix.Sum(row => row[c]);
            return new ClassScore(classes[c], predicted == 0 ? 0 : (double)tp / predicted, support == 0 ? 0 : (double)tp / support, (int)support);
        }).ToArray();
        double micro = (double)Enumerable.Range(0, k).Sum(c => matrix[c][c]) / n;
        double macro = perClass.Where(c => c.Support > 0).Average(c => c.Recall);
        return new ClassificationEvaluation(classes, n, micro, macro, logLoss / n, run.ImagesPerSecond, perClass, matrix,
            wrong.OrderByDescending(w => w.Score).ToArray(), run.BadImages);
    }
}
