using System.Diagnostics;
using EfficientCnn.Backbones.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientCnn.MLNet.Scoring;

/// <summary>One scored image.</summary>
/// <param name="Path">The image file.</param>
/// <param name="PredictedLabel">The class with the highest probability.</param>
/// <param name="Scores">Class probabilities in the model's class order.</param>
public sealed record ScoredImage(string Path, string PredictedLabel, float[] Scores)
{
    /// <summary>The top probability.</summary>
    public float TopScore => Scores.Length == 0 ? 0 : Scores.Max();
}

/// <summary>The images a model scored, the ones it could not read, and how long it took.</summary>
/// <param name="Classes">Class names in score order (the Score column's slot names).</param>
/// <param name="Images">Scored images, in input order.</param>
/// <param name="BadImages">Unreadable images, left out.</param>
/// <param name="Seconds">Wall time of scoring (decoding included).</param>
public sealed record ScoringRun(IReadOnlyList<string> Classes, IReadOnlyList<ScoredImage> Images, IReadOnlyList<BadImage> BadImages, double Seconds)
{
    /// <summary>Images scored per second of wall time.</summary>
    public double ImagesPerSecond => Images.Count / Math.Max(Seconds, 1e-9);
}

/// <summary>Runs a loaded model over image files, reading back the columns a user of the zip sees.</summary>
public static class ImageScoring
{
    /// <summary>Scores <paramref name="paths"/> in one streaming pass; unreadable images are skipped and listed.</summary>
    public static ScoringRun Score(MLContext ml, LoadedModel model, IReadOnlyList<string> paths, int? batchSize = null) =>
        Score(ml, model.WithScoring(batchSize), model.Classes, paths);

    /// <summary>
    /// Scores with a pipeline already prepared by <see cref="LoadedModel.WithScoring"/> (a long-lived worker keeps one,
    /// so its ONNX Runtime session is created once per process, not once per call).
    /// </summary>
    public static ScoringRun Score(MLContext ml, (ITransformer Pipeline, OnnxImageTransformer Scorer) scoring, IReadOnlyList<string> classes, IReadOnlyList<string> paths)
    {
        var (pipeline, scorer) = scoring;
        var badBefore = scorer.BadImages.Images.ToHashSet();
        var watch = Stopwatch.StartNew();
        var scored = pipeline.Transform(ModelZip.ToDataView(ml, paths));
        var slotNames = SlotNames(scored.Schema["Score"]) ?? classes;
        var pathColumn = scored.Schema["ImagePath"];
        var scoreColumn = scored.Schema["Score"];
        var labelColumn = scored.Schema["PredictedLabel"];
        var images = new List<ScoredImage>(paths.Count);
        using (var cursor = scored.GetRowCursor([pathColumn, scoreColumn, labelColumn]))
        {
            var getPath = cursor.GetGetter<ReadOnlyMemory<char>>(pathColumn);
            var getScore = cursor.GetGetter<VBuffer<float>>(scoreColumn);
            var getLabel = cursor.GetGetter<ReadOnlyMemory<char>>(labelColumn);
            ReadOnlyMemory<char> path = default, label = default;
            VBuffer<float> score = default;
            while (cursor.MoveNext())
            {
                getPath(ref path);
                getScore(ref score);
                getLabel(ref label);
                images.Add(new ScoredImage(path.ToString(), label.ToString(), score.DenseValues().ToArray()));
            }
        }
        // A reused scorer keeps the bad images of earlier calls (ordered by row, which restarts at 0 each call): report
        // this call's only.
        var bad = scorer.BadImages.Images.Where(b => !badBefore.Contains(b)).ToArray();
        return new ScoringRun(slotNames, images, bad, watch.Elapsed.TotalSeconds);
    }

    private static string[]? SlotNames(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull("SlotNames") is null) return null;
        VBuffer<ReadOnlyMemory<char>> names = default;
        column.GetSlotNames(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }
}
