using System.ComponentModel;
using System.Text;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
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
        [Description("An image file, a folder whose images (in sub-folders too) are classified, or a .txt list of image paths (one a line).")]
        public string? Input { get; init; }

        /// <summary>CSV to write.</summary>
        [CommandOption("--output <CSV>")]
        [Description("CSV to write: path,predictedLabel,score (score = the top probability).")]
        public string? Output { get; init; }

        /// <summary>Batch size.</summary>
        [CommandOption("--batch-size <N>")]
        [Description("Images per ONNX Runtime run (default: the model's).")]
        public int? BatchSize { get; init; }

        /// <summary>Cluster to score on.</summary>
        [CommandOption("--cluster <REDIS>")]
        [Description("Score on a cluster of `efficientcnn silo` workers: redis://HOST:PORT. Input and output must be on storage every worker sees; running the same command again re-attaches to an unfinished job. See docs/scale-out.md.")]
        public string? Cluster { get; init; }

        /// <summary>Images per shard.</summary>
        [CommandOption("--shard-size <N>")]
        [Description("With --cluster: images per shard, the unit of leasing and retry (default 64).")]
        public int ShardSize { get; init; } = 64;

        /// <summary>Lease timeout.</summary>
        [CommandOption("--lease-timeout <SECONDS>")]
        [Description("With --cluster: a shard whose worker gave no word for this long is leased again (default 30).")]
        public double LeaseTimeoutSeconds { get; init; } = 30;

        /// <summary>Attempts per shard.</summary>
        [CommandOption("--max-attempts <N>")]
        [Description("With --cluster: failures or expired leases after which a shard is reported failed, not retried (default 3).")]
        public int MaxAttempts { get; init; } = 3;

        /// <summary>How long to wait for a silo.</summary>
        [CommandOption("--connect-timeout <SECONDS>")]
        [Description("With --cluster: how long to wait for a silo to answer (default 60).")]
        public double ConnectTimeoutSeconds { get; init; } = 60;

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required.");
            if (string.IsNullOrWhiteSpace(Input)) return ValidationResult.Error("--input is required.");
            if (string.IsNullOrWhiteSpace(Output)) return ValidationResult.Error("--output is required.");
            if (BatchSize is < 1) return ValidationResult.Error($"--batch-size must be >= 1, got {BatchSize}.");
            if (ImageLimits.AboveLimit("--batch-size", BatchSize, ImageLimits.MaxBatchSize) is { } batchsizeLimit) return ValidationResult.Error(batchsizeLimit);
            if (ShardSize < 1) return ValidationResult.Error($"--shard-size must be >= 1, got {ShardSize}.");
            if (LeaseTimeoutSeconds < 1) return ValidationResult.Error($"--lease-timeout must be >= 1 s, got {LeaseTimeoutSeconds}.");
            if (MaxAttempts < 1) return ValidationResult.Error($"--max-attempts must be >= 1, got {MaxAttempts}.");
            if (ConnectTimeoutSeconds <= 0) return ValidationResult.Error($"--connect-timeout must be > 0 s, got {ConnectTimeoutSeconds}.");
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            string output = ModelFiles.CheckWritableFile(settings.Output!, "output");
            var paths = ImageInputs.List(settings.Input!);
            InputOutputOverlap.Refuse(output, "output", [(settings.Model, "the --model"), (settings.Input, "the --input"), .. paths.Select(p => ((string?)p, "the input image"))]);
            var ml = new MLContext(0);
            var model = ModelFiles.Load(ml, settings.Model!);
            if (settings.Cluster is not null) return ClusterPredict.Run(settings, paths, output, cancellationToken);
            var run = ImageScoring.Score(ml, model, paths, settings.BatchSize);
            if (run.Images.Count == 0)
                throw new InvalidDataException($"--input '{settings.Input}': none of its {paths.Length} images could be read, e.g. {run.BadImages[0].Image}: {run.BadImages[0].Reason}; nothing written.");
            var csv = new StringBuilder(PredictionCsv.Header + "\n");
            foreach (var image in run.Images) csv.Append(PredictionCsv.Row(image)).Append('\n');
            OnnxExporter.WriteAtomically(output, Encoding.UTF8.GetBytes(csv.ToString()));
            foreach (var bad in run.BadImages) AnsiConsole.MarkupLineInterpolated($"[yellow]skipped[/] {bad.Image}: {bad.Reason}");
            AnsiConsole.WriteLine($"Classified {run.Images.Count} images in {run.Seconds:F2} s ({run.ImagesPerSecond:F1} images/s), " +
                                  $"{run.BadImages.Count} unreadable; wrote {output}");
            return 0;
        });
}
