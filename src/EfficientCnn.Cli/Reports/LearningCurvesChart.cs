using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace EfficientCnn.Cli.Reports;

/// <summary>learning_curves.png: loss and accuracy per epoch, train and validation, as two panels.</summary>
internal static class LearningCurvesChart
{
    public static byte[] Render(IReadOnlyList<EpochRecord> history)
    {
        // Both panels span the same epochs, half an epoch beyond the first and last so their markers stay off the frame.
        double first = history.Min(e => e.Epoch) - 0.5, last = history.Max(e => e.Epoch) + 0.5;
        var (loss, lossAxis) = Panel("Loss", "loss", LegendPosition.RightTop, first, last);
        lossAxis.Minimum = 0; // losses are never negative; a zero baseline shows how far training got
        AddSeries(loss, history, e => e.TrainLoss, "train", ChartImage.Primary);
        AddSeries(loss, history, e => e.ValidationLoss, "validation", ChartImage.Secondary);

        var (accuracy, accuracyAxis) = Panel("Accuracy", "accuracy (%)", LegendPosition.RightBottom, first, last);
        accuracyAxis.Minimum = 0;
        accuracyAxis.Maximum = 102;
        accuracyAxis.MajorStep = 20;
        AddSeries(accuracy, history, e => e.TrainAccuracy * 100, "train", ChartImage.Primary);
        AddSeries(accuracy, history, e => e.ValidationAccuracy * 100, "validation", ChartImage.Secondary);

        foreach (var panel in new[] { loss, accuracy })
            if (panel.Series.Count == 0) panel.Subtitle = "no finite values";
        return ChartImage.ToPng([loss, accuracy], 600, 440);
    }

    /// <summary>A panel with an epoch axis and a value axis, returned for its caller to bound.</summary>
    private static (PlotModel Model, LinearAxis Values) Panel(string title, string yTitle, LegendPosition legend, double first, double last)
    {
        var model = ChartImage.NewModel(title);
        var epochs = ChartImage.ValueAxis(AxisPosition.Bottom, "epoch");
        // Epochs are whole numbers: fractional ticks would suggest measurements between them.
        epochs.MinimumMajorStep = 1;
        epochs.MinimumMinorStep = 1;
        epochs.Minimum = first;
        epochs.Maximum = last;
        model.Axes.Add(epochs);
        var values = ChartImage.ValueAxis(AxisPosition.Left, yTitle);
        values.MaximumPadding = 0.05;
        model.Axes.Add(values);
        model.Legends.Add(ChartImage.LegendInside(legend));
        return (model, values);
    }

    /// <summary>Adds the finite points of one series (a diverged run's NaN loss is left out, not plotted as a gap-filler).</summary>
    private static void AddSeries(PlotModel model, IReadOnlyList<EpochRecord> history, Func<EpochRecord, double?> value, string name, OxyColor color)
    {
        var points = history
            .Select(e => (x: (double)e.Epoch, y: value(e)))
            .Where(p => p.y is { } y && double.IsFinite(y))
            .Select(p => new DataPoint(p.x, p.y!.Value))
            .ToArray();
        if (points.Length == 0) return;
        var series = new LineSeries
        {
            Title = name,
            Color = color,
            StrokeThickness = 2,
            MarkerType = MarkerType.Circle,
            MarkerSize = 3.5,
            MarkerFill = color,
        };
        series.Points.AddRange(points);
        model.Series.Add(series);
    }
}
