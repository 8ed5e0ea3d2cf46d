using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using EfficientCnn.Backbones.Workflow;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// <c>efficientcnn pretrain</c>: supervised pretraining of a backbone on a labelled image collection, with a checkpoint
/// per epoch (<c>--resume</c> continues exactly), metrics as CSV and JSON, a progress bar with the remaining time, and the
/// feature extractor exported as an ONNX backbone (what models/ ships and the featurizer, trainer and CLI load by name).
/// </summary>
[NeedsScalarLifetimeWorkaround]
public sealed class PretrainCommand : Command<PretrainCommand.Settings>
{
    /// <summary>Options of the pretrain command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Training images.</summary>
        [CommandOption("--data <DIR|CSV>")]
        [Description("Folder of class folders, or a CSV path,label[,split] (only split=train rows are used).")]
        public string? Data { get; init; }

        /// <summary>Zoo variant to train.</summary>
        [CommandOption("--backbone <NAME>")]
        [Description("Zoo variant or architecture spec .json to pretrain from random initialisation (or an .onnx backbone to train further); its own preprocessing is used, at --resolution.")]
        [DefaultValue("mobilenet_v2_0.5")]
        public string Backbone { get; init; } = "mobilenet_v2_0.5";

        /// <summary>Input size.</summary>
        [CommandOption("--resolution <R>")]
        [DefaultValue(112)]
        public int Resolution { get; init; } = 112;

        /// <summary>Epochs.</summary>
        [CommandOption("--epochs <N>")]
        [DefaultValue(30)]
        public int Epochs { get; init; } = 30;

        /// <summary>Batch size.</summary>
        [CommandOption("--batch-size <N>")]
        [DefaultValue(64)]
        public int BatchSize { get; init; } = 64;

        /// <summary>Peak learning rate.</summary>
        [CommandOption("--lr <RATE>")]
        [DefaultValue(0.004)]
        public double LearningRate { get; init; } = 0.004;

        /// <summary>Seed.</summary>
        [CommandOption("--seed <N>")]
        public int Seed { get; init; }

        /// <summary>Checkpoint folder.</summary>
        [CommandOption("--checkpoint <DIR>")]
        [Description("Folder for the per-epoch checkpoint (killing the run loses at most the epoch in progress); continue it with --resume.")]
        public string? Checkpoint { get; init; }

        /// <summary>Continue the run in --checkpoint.</summary>
        [CommandOption("--resume")]
        [Description("Continue the run whose checkpoint is in --checkpoint (without it, an existing checkpoint is an error, so no run is continued by mistake).")]
        public bool Resume { get; init; }

        /// <summary>Training precision.</summary>
        [CommandOption("--precision <P>")]
        [Description(PrecisionOption.Help)]
        [DefaultValue("auto")]
        public string Precision { get; init; } = "auto";

        /// <summary>Output ONNX backbone.</summary>
        [CommandOption("-o|--output <FILE>")]
        [Description("The ONNX backbone to write (features output, preprocessing and provenance in its metadata).")]
        public string? Output { get; init; }

        /// <summary>Teacher ONNX for distillation.</summary>
        [CommandOption("--teacher <FILE.onnx>")]
        [Description("Distil the features of this ONNX image model (e.g. ML.NET's ResNet18.onnx) instead of training on the labels.")]
        public string? Teacher { get; init; }

        /// <summary>Teacher's preprocessing graph.</summary>
        [CommandOption("--teacher-mean-image <FILE.onnx>")]
        [Description("The teacher's Caffe-style preprocessing graph (ML.NET's ResNetPreprocess.onnx); default: the teacher's metadata, else ImageNet's.")]
        public string? TeacherMeanImage { get; init; }

        /// <summary>Base path of the metrics files.</summary>
        [CommandOption("--metrics <FILE>")]
        [Description("Base path of the per-epoch metrics, written as FILE.csv and FILE.json after every epoch (default: OUTPUT.metrics.csv/.json next to the output).")]
        public string? Metrics { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required.");
            if (string.IsNullOrWhiteSpace(Output)) return ValidationResult.Error("--output is required.");
            if (OptionChecks.Resolution(Resolution) is { } resolutionError) return ValidationResult.Error(resolutionError);
            if (OptionChecks.TrainingBatchSize(BatchSize) is { } batchSizeError) return ValidationResult.Error(batchSizeError);
            if (Epochs < 1) return ValidationResult.Error($"--epochs must be >= 1, got {Epochs}.");
            if (Resume && string.IsNullOrWhiteSpace(Checkpoint)) return ValidationResult.Error("--resume needs --checkpoint <DIR>: the folder of the run to continue.");
            if (PrecisionOption.Error(Precision) is { } precision) return ValidationResult.Error(precision);
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            // Everything that can be checked is checked before the data is read: nothing is lost to a typo after an hour.
            ModelFiles.CheckResume(settings.Checkpoint, settings.Resume);
            var precision = PrecisionOption.Check(settings.Precision);
            (string?, string)[] inputs = [(settings.Data, "the --data"), (settings.Backbone, "the --backbone file"), (settings.Teacher, "the --teacher"), (settings.TeacherMeanImage, "the --teacher-mean-image")];
            InputOutputOverlap.Refuse(settings.Output, "output", [.. inputs, (settings.Metrics, "the --metrics file")]);
            InputOutputOverlap.Refuse(settings.Metrics, "metrics", inputs);
            // The one place the backbone string is parsed; its own preprocessing (mean, std, resize) at --resolution.
            var source = BackboneSource.Resolve(settings.Backbone).WithPreprocessing(resolution: settings.Resolution);
            var data = ImageDataset.Load(settings.Data!, split: File.Exists(settings.Data) ? "train" : null).EnsureTrainable();
            InputOutputOverlap.Refuse(settings.Output, "output", data.Items.Select(i => (i.Image.Path, "the training image")));
            var (train, validation) = data.StratifiedSplit(0.1, settings.Seed);
            var metrics = new MetricsLog(settings.Metrics ?? MetricsLog.NextTo(settings.Output!),
                new MetricsRunInfo(settings.Teacher is null ? "pretrain" : "pretrain --teacher", settings.Backbone, settings.Resolution, data.Source, settings.Seed,
                    PrecisionOption.Describe(precision), settings.Teacher),
                settings.Resume);
            using var cancellation = new ConsoleCancellation(cancellationToken);
            var watch = Stopwatch.StartNew();
            AnsiConsole.MarkupLine($"pretraining [bold]{Markup.Escape(settings.Backbone)}[/] at {settings.Resolution} px in {PrecisionOption.Describe(precision)} on {train.Count} images " +
                                   $"({data.Classes.Count} classes, {validation.Count} held out) from {Markup.Escape(data.Source)}");
            if (settings.Teacher is not null) return Distill(settings, source, data, metrics, watch, cancellation.Token);
            var options = new ClassifierTrainingOptions
            {
                Epochs = settings.Epochs, BatchSize = settings.BatchSize, LearningRate = settings.LearningRate, WarmupEpochs = 2, WeightDecay = 0.02,
                Seed = settings.Seed, CheckpointDirectory = settings.Checkpoint, Resume = settings.Resume, OnBadImage = BadImagePolicy.Skip, HeadDropRate = 0.2,
                Augmentation = ImageAugmentation.Default with { MinScale = 0.25f }, Precision = precision,
            };
            var result = TrainingConsole.Run(settings.Epochs, m =>
            {
                AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {m.Epoch}/{settings.Epochs}: train loss {m.TrainLoss:F3} acc {m.TrainAccuracy:P1}, val loss {m.ValidationLoss:F3} acc {m.ValidationAccuracy:P1}, lr {m.LearningRate:G3}, {m.ImagesPerSecond:F0} img/s, {watch.Elapsed:hh\\:mm\\:ss}"));
                metrics.Record(m);
            }, callbacks => new BackboneClassifierTraining(source, train, validation, cancellation.Token)
                .Train(options with { OnProgress = callbacks.OnProgress, OnEpoch = callbacks.OnEpoch }, cancellation.Token));
            metrics.Complete(result.History);
            var best = result.History.FirstOrDefault(h => h.Epoch == result.BestEpoch);
            var model = result.Model;
            model.to(torch.CPU);
            var bytes = source.ExportFeatureExtractor(model, string.Create(CultureInfo.InvariantCulture,
                $"efficientcnn pretrain: supervised on {data.Source} ({train.Count} images, {data.Classes.Count} classes), {result.History.Count} epochs at {settings.Resolution} px, best epoch {result.BestEpoch} (validation accuracy {best?.ValidationAccuracy:P1}), seed {settings.Seed}"));
            OnnxExporter.WriteAtomically(settings.Output!, bytes);
            AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(settings.Output!)}[/] ({bytes.Length / 1e6:F1} MB) in {watch.Elapsed:hh\\:mm\\:ss}; best epoch {result.BestEpoch}" +
                                   (result.Cancelled && settings.Checkpoint is not null ? "; stopped early by Ctrl-C: rerun with --resume to continue" : result.Cancelled ? "; stopped early by Ctrl-C" : ""));
            AnsiConsole.MarkupLine($"metrics: {Markup.Escape(metrics.CsvPath)}, {Markup.Escape(metrics.JsonPath)}");
            return 0;
        });

    /// <summary>Feature distillation from --teacher into the zoo backbone, then the same ONNX export.</summary>
    private static int Distill(Settings settings, BackboneSource studentSource, ImageDataset data, MetricsLog metrics, Stopwatch watch, CancellationToken cancellationToken)
    {
        var teacherSource = BackboneSource.Resolve(settings.Teacher);
        var teacherSpec = settings.TeacherMeanImage is { } prep
            ? MeanImagePreprocessing.Read(prep, teacherSource.Preprocessing.Resolution)
            : teacherSource.Preprocessing;
        var teacher = teacherSource.CreateFeatureExtractor();
        var student = studentSource.CreateFeatureExtractor(settings.Seed);
        var spec = studentSource.Preprocessing;
        AnsiConsole.MarkupLine($"distilling [bold]{Markup.Escape(teacherSource.Name)}[/] ({teacher.FeatureDim} features at {teacherSpec.Resolution} px) into " +
                               $"[bold]{Markup.Escape(settings.Backbone)}[/] at {settings.Resolution} px on {data.Count} images from {Markup.Escape(data.Source)}");
        var history = TrainingConsole.Run(settings.Epochs, m =>
        {
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {m.Epoch}/{settings.Epochs}: cosine to teacher train {m.TrainAccuracy:F3}, held out {m.ValidationAccuracy:F3}, lr {m.LearningRate:G3}, {m.ImagesPerSecond:F0} img/s, {watch.Elapsed:hh\\:mm\\:ss}"));
            metrics.Record(m);
        }, callbacks => new FeatureDistiller(new DistillationOptions
        {
            Epochs = settings.Epochs, BatchSize = settings.BatchSize, LearningRate = settings.LearningRate, Seed = settings.Seed,
            CheckpointDirectory = settings.Checkpoint, OnProgress = callbacks.OnProgress, OnEpoch = callbacks.OnEpoch,
        }).Distill(student, spec, teacher, teacherSpec, data, cancellationToken));
        metrics.Complete(history);
        var last = history.LastOrDefault();
        var bytes = studentSource.ExportFeatureExtractor(student, string.Create(CultureInfo.InvariantCulture,
            $"efficientcnn pretrain: features distilled from {teacherSource.Name} on {data.Source} ({data.Count} images, labels unused), {history.Count} epochs at {settings.Resolution} px, held-out cosine {last?.ValidationAccuracy:F3}, seed {settings.Seed}"));
        OnnxExporter.WriteAtomically(settings.Output!, bytes);
        AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(settings.Output!)}[/] ({bytes.Length / 1e6:F1} MB) in {watch.Elapsed:hh\\:mm\\:ss}");
        AnsiConsole.MarkupLine($"metrics: {Markup.Escape(metrics.CsvPath)}, {Markup.Escape(metrics.JsonPath)}");
        return 0;
    }
}
