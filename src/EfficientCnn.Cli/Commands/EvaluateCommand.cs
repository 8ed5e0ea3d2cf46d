using System.ComponentModel;
using System.Text.Json;
using EfficientCnn.Backbones.Imaging;
using Microsoft.ML;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary><c>efficientcnn evaluate</c>: accuracy, log-loss, per-class precision/recall, confusion matrix and throughput of a model zip.</summary>
public sealed class EvaluateCommand : Command<EvaluateCommand.Settings>
{
    /// <summary>Options of the evaluate command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Model zip.</summary>
        [CommandOption("--model <ZIP>")]
        [Description("Model zip written by efficientcnn train.")]
        public string? Model { get; init; }

        /// <summary>Labelled images.</summary>
        [CommandOption("--data <DIR|CSV>")]
        [Description("Folder of class folders, or a CSV path,label[[,split]].")]
        public string? Data { get; init; }

        /// <summary>CSV split.</summary>
        [CommandOption("--split <NAME>")]
        [Description("Rows of this split when the CSV has a split column (default test).")]
        [DefaultValue("test")]
        public string Split { get; init; } = "test";

        /// <summary>Batch size.</summary>
        [CommandOption("--batch-size <N>")]
        [Description("Images per ONNX Runtime run (default: the model's).")]
        public int? BatchSize { get; init; }

        /// <summary>JSON output.</summary>
        [CommandOption("--json")]
        [Description("Print only one JSON object: microAccuracy, macroAccuracy, logLoss, imagesPerSecond, perClass, confusionMatrix, ...")]
        public bool Json { get; init; }

        /// <summary>Report folder.</summary>
        [CommandOption("--report <DIR>")]
        [Description("Write a visual report (confusion matrix, per-class bars, misclassified images) to DIR.")]
        public string? Report { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required.");
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required.");
            if (BatchSize is < 1) return ValidationResult.Error($"--batch-size must be >= 1, got {BatchSize}.");
            if (ImageLimits.AboveLimit("--batch-size", BatchSize, ImageLimits.MaxBatchSize) is { } batchsizeLimit) return ValidationResult.Error(batchsizeLimit);
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(settings.Json, () =>
        {
            if (settings.Report is not null) ModelFiles.CheckWritableFolder(settings.Report, "report");
            var ml = new MLContext(0);
            var model = ModelFiles.Load(ml, settings.Model!);
            var data = ImageData.Load(settings.Data!, settings.Split);
            var e = ClassificationEvaluation.Run(ml, model, data, settings.BatchSize);
            if (settings.Json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    model = Path.GetFullPath(settings.Model!), data = data.Source, images = e.Images, classes = e.Classes,
                    microAccuracy = e.MicroAccuracy, macroAccuracy = e.MacroAccuracy, logLoss = e.LogLoss, imagesPerSecond = e.ImagesPerSecond,
                    perClass = e.PerClass, confusionMatrix = e.ConfusionMatrix,
                    badImages = e.BadImages.Select(b => new { image = b.Image, reason = b.Reason }),
                }, OnnxCommandHelpers.Json));
            }
            else Print(e, data.Source);
            if (settings.Report is not null)
                ReportBuilder.Write(settings.Report, $"efficientcnn evaluate: {Path.GetFileName(settings.Model)}", [], e, []);
            return 0;
        });

    private static void Print(ClassificationEvaluation e, string source)
    {
        AnsiConsole.WriteLine($"{source}: {e.Images} images, {e.Classes.Count} classes");
        AnsiConsole.WriteLine($"Micro accuracy {e.MicroAccuracy:P2}  macro accuracy {e.MacroAccuracy:P2}  log-loss {e.LogLoss:F4}  {e.ImagesPerSecond:F1} images/s");
        var perClass = new Table().AddColumns("class", "precision", "recall", "support");
        foreach (var c in e.PerClass) perClass.AddRow(Markup.Escape(c.Label), $"{c.Precision:P1}", $"{c.Recall:P1}", $"{c.Support}");
        AnsiConsole.Write(perClass);
        var matrix = new Table().Title("Confusion matrix (rows: true, columns: predicted)").AddColumn("");
        foreach (var c in e.Classes) matrix.AddColumn(Markup.Escape(c));
        for (int i = 0; i < e.Classes.Count; i++)
            matrix.AddRow([Markup.Escape(e.Classes[i]), .. e.ConfusionMatrix[i].Select(n => n.ToString())]);
        AnsiConsole.Write(matrix);
        foreach (var bad in e.BadImages) AnsiConsole.MarkupLineInterpolated($"[yellow]skipped[/] {bad.Image}: {bad.Reason}");
    }
}
