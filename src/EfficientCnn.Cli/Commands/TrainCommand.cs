using System.ComponentModel;
using System.Text.RegularExpressions;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Runtime;
using EfficientCnn.Backbones.Training;
using EfficientCnn.MLNet;
using EfficientCnn.MLNet.Experiments;
using EfficientCnn.Cli.Terminal;
using Microsoft.ML;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// <c>efficientcnn train</c>: fine-tunes a backbone on a folder of class folders (or a CSV) with the ML.NET trainer and
/// saves a model zip that <c>mlContext.Model.Load</c> restores (input <c>ImagePath</c>; outputs <c>PredictedLabel</c>
/// as the class name and <c>Score</c>).
/// </summary>
[NeedsScalarLifetimeWorkaround]
public sealed class TrainCommand : Command<TrainCommand.Settings>
{
    /// <summary>Options of the train command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Training images.</summary>
        [CommandOption("--data <DIR|CSV>")]
        [Description("Folder of class folders (DIR/cat/1.png), or a CSV path,label[[,split]] (with a split column only 'train' rows are used).")]
        public string? Data { get; init; }

        /// <summary>Model zip to write.</summary>
        [CommandOption("--output <ZIP>")]
        [Description("Model zip to write (replaced whole or not at all).")]
        public string? Output { get; init; }

        /// <summary>Backbone.</summary>
        [CommandOption("--backbone <NAME>")]
        [Description("Bundled model, zoo variant (efficientcnn zoo), .onnx file, architecture spec .json (from search or scale; trained from scratch), or auto (try several, keep the best). Default: the default bundled model.")]
        public string? Backbone { get; init; }

        /// <summary>Time budget.</summary>
        [CommandOption("--time <DURATION>")]
        [Description("Time budget, e.g. 10m, 90s, 1h: the number of epochs is set from the first epoch's duration.")]
        public string? Time { get; init; }

        /// <summary>Epochs.</summary>
        [CommandOption("--epochs <N>")]
        [Description("Epochs (default 10; with --time, the most epochs).")]
        public int? Epochs { get; init; }

        /// <summary>Validation fraction.</summary>
        [CommandOption("--validation-fraction <F>")]
        [Description("Share of each class held out to pick the best epoch and report accuracy (default 0.2; 0 for none).")]
        [DefaultValue(0.2)]
        public double ValidationFraction { get; init; } = 0.2;

        /// <summary>Group pattern.</summary>
        [CommandOption("--group-pattern <REGEX>")] // descriptions are Spectre markup: [[ and ]] print as brackets
        [Description("Keep images whose file names share this regex's match (its first capture group if it has one) on the same side of the validation split, e.g. '^[[^-+.]]+' for frames named unit-action-N.png; a CSV 'group' column does the same.")]
        public string? GroupPattern { get; init; }

        /// <summary>Resolution.</summary>
        [CommandOption("--resolution <R>")]
        [Description("Input size (default: the backbone's); smaller trains faster.")]
        public int? Resolution { get; init; }

        /// <summary>Scope.</summary>
        [CommandOption("--scope <SCOPE>")]
        [Description("What to train: all (default), last (the last stages), head (a head on cached features, fastest).")]
        [DefaultValue("all")]
        public string Scope { get; init; } = "all";

        /// <summary>Batch size.</summary>
        [CommandOption("--batch-size <N>")]
        [Description("Images per step (default 32).")]
        [DefaultValue(32)]
        public int BatchSize { get; init; } = 32;

        /// <summary>Latency limit.</summary>
        [CommandOption("--max-latency-ms <MS>")]
        [Description("With auto: keep only models at most this slow per image (ONNX Runtime, batch 1, one thread, this machine).")]
        public double? MaxLatencyMs { get; init; }

        /// <summary>Seed.</summary>
        [CommandOption("--seed <N>")]
        [Description("Seed of the split, initialisation and shuffling (default 0).")]
        [DefaultValue(0)]
        public int Seed { get; init; }

        /// <summary>Report folder.</summary>
        [CommandOption("--report <DIR>")]
        [Description("Write a visual report (learning curves, confusion matrix, per-class bars, misclassified images, leaderboard) to DIR.")]
        public string? Report { get; init; }

        /// <summary>Checkpoint folder.</summary>
        [CommandOption("--checkpoint <DIR>")]
        [Description("Save a checkpoint after every epoch in DIR and resume from it when present.")]
        public string? Checkpoint { get; init; }

        /// <summary>Training precision.</summary>
        [CommandOption("--precision <P>")]
        [Description(PrecisionOption.Help)]
        [DefaultValue("auto")]
        public string Precision { get; init; } = "auto";

        /// <summary>Whether the backbone is <c>auto</c>.</summary>
        public bool IsAuto => string.Equals(Backbone, "auto", StringComparison.OrdinalIgnoreCase);

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required.");
            if (string.IsNullOrWhiteSpace(Output)) return ValidationResult.Error("--output is required.");
            if (Time is not null && SearchCommand.ParseDuration(Time) is null) return ValidationResult.Error($"--time must look like 10m, 90s or 1h30m, got '{Time}'.");
            if (Epochs is < 1) return ValidationResult.Error($"--epochs must be >= 1, got {Epochs}.");
            if (ValidationFraction is < 0 or >= 1) return ValidationResult.Error($"--validation-fraction must be in [0, 1), got {ValidationFraction}.");
            if (IsAuto && ValidationFraction == 0) return ValidationResult.Error("--backbone auto compares candidates on held-out images: --validation-fraction must be > 0.");
            if (GroupPattern is not null && ParseGroupPattern(GroupPattern) is null) return ValidationResult.Error($"--group-pattern '{GroupPattern}' is not a valid regular expression.");
            if (GroupPattern is not null && ValidationFraction == 0) return ValidationResult.Error("--group-pattern groups the validation split: --validation-fraction must be > 0.");
            if (OptionChecks.Resolution(Resolution) is { } resolutionError) return ValidationResult.Error(resolutionError);
            if (ParseScope(Scope) is null) return ValidationResult.Error($"--scope must be all, last or head, got '{Scope}'.");
            if (OptionChecks.TrainingBatchSize(BatchSize) is { } batchSizeError) return ValidationResult.Error(batchSizeError);
            if (MaxLatencyMs is <= 0) return ValidationResult.Error($"--max-latency-ms must be > 0, got {MaxLatencyMs}.");
            if (Seed < 0) return ValidationResult.Error($"--seed must be >= 0, got {Seed}.");
            if (PrecisionOption.Error(Precision) is { } precision) return ValidationResult.Error(precision);
            return ValidationResult.Success();
        }
    }

    /// <summary>The --group-pattern regex; null when it does not parse.</summary>
    public static Regex? ParseGroupPattern(string pattern)
    {
        try { return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)); }
        catch (ArgumentException) { return null; }
    }

    /// <summary>all, last or head as a <see cref="TrainScope"/>; null when unknown.</summary>
    public static TrainScope? ParseScope(string scope) => scope.ToLowerInvariant() switch
    {
        "all" => TrainScope.All,
        "last" => TrainScope.LastStages,
        "head" => TrainScope.HeadOnly,
        _ => null,
    };

    /// <summary>Refuses to save a model when fewer than two training images could be read (the trainer skips unreadable ones).</summary>
    private static void EnsureSomethingWasLearned(ImageClassificationData training, TrainingResult result)
    {
        var bad = result.BadImages.Images.Select(b => b.Image).ToHashSet(StringComparer.Ordinal);
        int readable = training.Train.Items.Count(i => !bad.Contains(i.Image.Name));
        if (readable >= 2) return;
        var example = result.BadImages.Images.FirstOrDefault();
        throw new InvalidDataException($"Only {readable} of the {training.Train.Count} training images could be read" +
                                       (example is null ? "." : $", e.g. {example.Image}: {example.Reason}"));
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            // A killed run's scratch checkpoints go first, even when this run fails on its options.
            TemporaryFolders.DeleteOrphans(TemporaryFolders.TrainPrefix);
            // Everything that can be checked is checked before the first epoch: nothing is lost to a typo after an hour.
            string output = ModelFiles.CheckWritableFile(settings.Output!, "output");
            InputOutputOverlap.Refuse(output, "output", (settings.Data, "the --data"), (settings.Backbone, "the --backbone file"));
            if (settings.Report is not null) ModelFiles.CheckWritableFolder(settings.Report, "report");
            if (settings.Checkpoint is not null) ModelFiles.CheckWritableFolder(settings.Checkpoint, "checkpoint");
            // The one place the backbone string is parsed: everything below gets the resolved backbone.
            var backbone = settings.IsAuto ? null : BackboneSource.Resolve(settings.Backbone);
            var precision = PrecisionOption.Check(settings.Precision);
            var data = ImageData.Load(settings.Data!, "train").EnsureTrainable();
            if (settings.GroupPattern is not null) data = data.WithGroups(ParseGroupPattern(settings.GroupPattern)!, "--group-pattern");
            InputOutputOverlap.Refuse(output, "output", data.Items.Select(i => (i.Image.Path, "the training image")));
            var counts = data.ClassCounts();
            AnsiConsole.WriteLine($"Data: {data.Count} images, {data.Classes.Count} classes ({string.Join(", ", data.Classes.Select((c, i) => $"{c} {counts[i]}"))})");

            using var cancellation = new ConsoleCancellation(cancellationToken);
            TimeSpan? budget = settings.Time is null ? null : SearchCommand.ParseDuration(settings.Time)!.Value;
            var ml = new MLContext(settings.Seed);
            var training = new ImageClassificationData(ml, data, settings.ValidationFraction, settings.Seed);
            var experiment = new ImageClassificationExperiment(ml, new ImageClassificationExperimentOptions
            {
                TimeBudget = budget, Epochs = settings.Epochs, MaxLatencyMs = settings.MaxLatencyMs,
                Trainer = new ImageClassifierTrainerOptions
                {
                    Resolution = settings.Resolution, Seed = settings.Seed, CancellationToken = cancellation.Token,
                    Training = new ClassifierTrainingOptions
                    {
                        BatchSize = settings.BatchSize, CheckpointDirectory = settings.Checkpoint, Precision = precision, OnBadImage = BadImagePolicy.Skip,
                    },
                },
                OnMessage = AnsiConsole.WriteLine,
                RunTrial = TrainingConsole.Run,
            });
            TrainedImageClassifier final;
            IReadOnlyList<LeaderboardRow> leaderboard = [];
            if (backbone is null)
            {
                var heldOut = training.ValidationView
                              ?? throw new ArgumentException($"--backbone auto compares candidates on held-out images, but --validation-fraction {settings.ValidationFraction} held out none of the {data.Count}.", "validation-fraction");
                var outcome = experiment.Run(training.TrainView, heldOut);
                LeaderboardTable.Print(outcome);
                (final, leaderboard) = (outcome.Best, outcome.Leaderboard);
            }
            else
            {
                AnsiConsole.WriteLine($"Training {backbone.Path ?? backbone.Name} ({settings.Scope}) on {training.Train.Count} images, validating on {training.Validation?.Count ?? 0}");
                final = experiment.Train(training.TrainView, training.ValidationView, backbone, ParseScope(settings.Scope)!.Value, budget);
            }

            var result = final.Result;
            EnsureSomethingWasLearned(training, result);
            if (result.Cancelled) AnsiConsole.WriteLine("Stopped early (time budget, Ctrl-C or SIGTERM); keeping the best model so far.");
            if (result.BadImages.Count > 0)
                AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] skipped {result.BadImages.Count} unreadable images, e.g. {result.BadImages.Images[0].Image}: {result.BadImages.Images[0].Reason}");
            var pipeline = training.Pipeline(final.Scorer);
            ModelFiles.Save(ml, pipeline, output);
            AnsiConsole.WriteLine($"Saved {output} ({final.Backbone.Path ?? final.Backbone.Name}, epochs {result.History.Count}, best {result.BestEpoch}, {final.Seconds:F1} s)");

            ClassificationEvaluation? evaluation = null;
            if (training.Validation is { } validation)
            {
                evaluation = ClassificationEvaluation.Run(ml, new LoadedModel(output, pipeline, final.Scorer), validation);
                AnsiConsole.WriteLine($"Validation ({evaluation.Images} images): micro {evaluation.MicroAccuracy:P1}, macro {evaluation.MacroAccuracy:P1}, log-loss {evaluation.LogLoss:F3}");
            }
            if (settings.Report is not null)
                ReportBuilder.Write(settings.Report, $"efficientcnn train: {Path.GetFileName(output)}", result.History, evaluation, leaderboard);
            return 0;
        });
}
