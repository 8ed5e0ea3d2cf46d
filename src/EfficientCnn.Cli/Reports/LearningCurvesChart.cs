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
        var loss = Panel("Loss", "loss", LegendPosition.RightTop);
        AddSeries(loss, history, e => e.TrainLoss, "train", ChartImage.Primary);
        AddSeries(loss, history, e => e.ValidationLoss, "validation", ChartImage.Secondary);

        var accuracy = Panel("Accuracy", "accuracy (%)", LegendPosition.RightBottom);
        accuracy.Axes[1].Minimum = 0;
        accuracy.Axes[1].Maximum = 102;
        accuracy.Axes[1].MajorStep = 20;
        AddSeries(accuracy, history, e => e.TrainAccuracy * 100, "train", ChartImage.Primary);
        AddSeries(accuracy, history, e => e.ValidationAccuracy * 100, "validation", ChartImage.Secondary);

        return ChartImage.ToPng([loss, accuracy], 600, 440);
    }

    private static PlotModel Panel(string title, string yTitle, LegendPosition legend)
    {
        var model = ChartImage.NewModel(title);
        var epochs = ChartImage.ValueAxis(AxisPosition.Bottom, "epoch");
        // Epochs are whole numbers: fractional ticks would suggest measurements between them.
        epochs.MinimumMajorStep = 1;
        epochs.MinimumMinorStep = 1;
        model.Axes.Add(epochs);
        model.Axes.Add(ChartImage.ValueAxis(AxisPosition.Left, yTitle));
        model.Legends.Add(ChartImage.LegendInside(legend));
        return model;
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
