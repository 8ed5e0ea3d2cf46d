using ScottPlot;

namespace EfficientCnn.Cli.Reports;

/// <summary>learning_curves.png: loss and accuracy per epoch, train and validation, as two panels.</summary>
internal static class LearningCurvesChart
{
    public static byte[] Render(IReadOnlyList<EpochRecord> history)
    {
        var loss = ChartImage.NewPlot("Loss", "epoch", "loss");
        AddSeries(loss, history, e => e.TrainLoss, "train", ChartImage.Primary);
        AddSeries(loss, history, e => e.ValidationLoss, "validation", ChartImage.Secondary);

        var accuracy = ChartImage.NewPlot("Accuracy", "epoch", "accuracy (%)");
        AddSeries(accuracy, history, e => e.TrainAccuracy * 100, "train", ChartImage.Primary);
        AddSeries(accuracy, history, e => e.ValidationAccuracy * 100, "validation", ChartImage.Secondary);
        accuracy.Axes.SetLimitsY(0, 102);

        foreach (var plot in new[] { loss, accuracy })
        {
            // Epochs are whole numbers: fractional ticks would suggest measurements between them.
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            plot.Legend.FontSize = 13;
            plot.ShowLegend(Alignment.UpperRight);
        }
        accuracy.ShowLegend(Alignment.LowerRight);
        return ChartImage.ToPng([loss, accuracy], 600, 440);
    }

    /// <summary>Adds the finite points of one series (a diverged run's NaN loss is left out, not plotted as a gap-filler).</summary>
    private static void AddSeries(Plot plot, IReadOnlyList<EpochRecord> history, Func<EpochRecord, double?> value, string name, Color color)
    {
        var points = history
            .Select(e => (x: (double)e.Epoch, y: value(e)))
            .Where(p => p.y is { } y && double.IsFinite(y))
            .ToArray();
        if (points.Length == 0) return;
        var scatter = plot.Add.Scatter(points.Select(p => p.x).ToArray(), points.Select(p => p.y!.Value).ToArray(), color);
        scatter.LegendText = name;
        scatter.LineWidth = 2;
        scatter.MarkerSize = 6;
    }
}
