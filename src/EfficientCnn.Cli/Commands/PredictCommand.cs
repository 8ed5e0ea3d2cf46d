using System.ComponentModel;
using System.Globalization;
using System.Text;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Training;
using Microsoft.ML;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary><c>efficientcnn predict</c>: classifies image files with a model zip and writes a CSV path,predictedLabel,score.</summary>
public sealed class PredictCommand : Command<PredictCommand.Settings>
{
    /// <summary>Options of the predict command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Model zip.</summary>
        [CommandOption("--model <ZIP>")]
        [Description("Model zip written by efficientcnn train.")]
        public string? Model { get; init; }

        /// <summary>Images.</summary>
        [CommandOption("--input <DIR|FILE>")]
        [Description("An image file, or a folder whose images (in sub-folders too) are classified.")]
        public string? Input { get; init; }

        /// <summary>CSV to write.</summary>
        [CommandOption("--output <CSV>")]
        [Description("CSV to write: path,predictedLabel,score (score = the top probability).")]
        public string? Output { get; init; }

        /// <summary>Batch size.</summary>
        [CommandOption("--batch-size <N>")]
        [Description("Images per ONNX Runtime run (default: the model's).")]
        public int? BatchSize { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required.");
            if (string.IsNullOrWhiteSpace(Input)) return ValidationResult.Error("--input is required.");
            if (string.IsNullOrWhiteSpace(Output)) return ValidationResult.Error("--output is required.");
            if (BatchSize is < 1) return ValidationResult.Error($"--batch-size must be >= 1, got {BatchSize}.");
            if (ImageLimits.AboveLimit("--batch-size", BatchSize, ImageLimits.MaxBatchSize) is { } batchsizeLimit) return ValidationResult.Error(batchsizeLimit);
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            string output = ModelFiles.CheckWritableFile(settings.Output!, "output");
            var paths = Images(settings.Input!);
            InputOutputOverlap.Refuse(output, "output", [(settings.Model, "the --model"), (settings.Input, "the --input"), .. paths.Select(p => ((string?)p, "the input image"))]);
            var ml = new MLContext(0);
            var model = ModelFiles.Load(ml, settings.Model!);
            var run = ImageScoring.Score(ml, model, paths, settings.BatchSize);
            if (run.Images.Count == 0)
                throw new InvalidDataException($"--input '{settings.Input}': none of its {paths.Length} images could be read, e.g. {run.BadImages[0].Image}: {run.BadImages[0].Reason}; nothing written.");
            var csv = new StringBuilder("path,predictedLabel,score\n");
            foreach (var image in run.Images)
                csv.Append(CultureInfo.InvariantCulture, $"{CsvField(image.Path)},{CsvField(image.PredictedLabel)},{image.TopScore:R}\n");
            OnnxExporter.WriteAtomically(output, Encoding.UTF8.GetBytes(csv.ToString()));
            foreach (var bad in run.BadImages) AnsiConsole.MarkupLineInterpolated($"[yellow]skipped[/] {bad.Image}: {bad.Reason}");
            AnsiConsole.WriteLine($"Classified {run.Images.Count} images in {run.Seconds:F2} s ({run.ImagesPerSecond:F1} images/s), " +
                                  $"{run.BadImages.Count} unreadable; wrote {output}");
            return 0;
        });

    /// <summary>The image files of a folder (recursively, sorted) or the single file given.</summary>
    private static string[] Images(string input)
    {
        if (File.Exists(input)) return [input];
        if (!Directory.Exists(input)) throw new ArgumentException($"--input '{input}' is neither an image file nor a folder.", "input");
        var files = ImageFiles.Under(input);
        if (files.Length == 0)
            throw new ArgumentException($"--input '{input}' holds no images ({string.Join(", ", ImageDataset.ImageExtensions)}).", "input");
        return files;
    }

    private static string CsvField(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) < 0 ? value : $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}
