using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using Spectre.Console;
using TorchSharp;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// <c>efficientcnn pretrain</c>: supervised pretraining of a backbone on a labelled image collection, with a checkpoint
/// per epoch (<c>--resume</c> continues exactly), metrics as CSV, and the feature extractor exported as an ONNX backbone
/// (what models/ ships and the featurizer, trainer and CLI load by name).
/// </summary>
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
        [Description("Zoo variant to pretrain from random initialisation.")]
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
        [Description("Folder for the per-epoch checkpoint; an existing checkpoint there is resumed.")]
        public string? Checkpoint { get; init; }

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

        /// <summary>Metrics CSV.</summary>
        [CommandOption("--metrics <FILE>")]
        [Description("CSV of per-epoch metrics (default: next to the output).")]
        public string? Metrics { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required.");
            if (string.IsNullOrWhiteSpace(Output)) return ValidationResult.Error("--output is required.");
            if (Resolution < 32) return ValidationResult.Error($"--resolution must be >= 32, got {Resolution}.");
            if (Epochs < 1) return ValidationResult.Error($"--epochs must be >= 1, got {Epochs}.");
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            var data = ImageDataset.Load(settings.Data!, split: File.Exists(settings.Data) ? "train" : null).EnsureTrainable();
            var (train, validation) = data.StratifiedSplit(0.1, settings.Seed);
            var spec = PreprocessingSpec.ImageNet(settings.Resolution);
            string metricsPath = settings.Metrics ?? Path.ChangeExtension(settings.Output!, ".metrics.csv");
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
            var watch = Stopwatch.StartNew();
            AnsiConsole.MarkupLine($"pretraining [bold]{Markup.Escape(settings.Backbone)}[/] at {settings.Resolution} px on {train.Count} images " +
                                   $"({data.Classes.Count} classes, {validation.Count} held out) from {Markup.Escape(data.Source)}");
            if (settings.Teacher is not null) return Distill(settings, data, metricsPath, watch, cancel.Token);
            var options = new ClassifierTrainingOptions
            {
                Epochs = settings.Epochs, BatchSize = settings.BatchSize, LearningRate = settings.LearningRate, WarmupEpochs = 2, WeightDecay = 0.02,
                Seed = settings.Seed, CheckpointDirectory = settings.Checkpoint, OnBadImage = BadImagePolicy.Skip, HeadDropRate = 0.2,
                Augmentation = ImageAugmentation.Default with { MinScale = 0.25f },
                OnEpoch = m =>
                {
                    AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"epoch {m.Epoch}/{settings.Epochs}: train loss {m.TrainLoss:F3} acc {m.TrainAccuracy:P1}, val loss {m.ValidationLoss:F3} acc {m.ValidationAccuracy:P1}, lr {m.LearningRate:G3}, {m.ImagesPerSecond:F0} img/s, {watch.Elapsed:hh\\:mm\\:ss}"));
                    AppendMetrics(metricsPath, m);
                },
            };
            var source = BackboneSource.Resolve(settings.Backbone);
            var result = new ClassifierTrainer(options).Train(source.CreateFeatureExtractor(settings.Seed), spec, train, validation, cancel.Token);
            var best = result.History.FirstOrDefault(h => h.Epoch == result.BestEpoch);
            var model = result.Model;
            model.to(torch.CPU);
            var bytes = OnnxExporter.ExportBytes(model, new OnnxExportOptions
            {
                VariantName = source.Name, IncludeHead = false, Preprocessing = spec,
                WeightsProvenance = string.Create(CultureInfo.InvariantCulture,
                    $"efficientcnn pretrain: supervised on {data.Source} ({train.Count} images, {data.Classes.Count} classes), {result.History.Count} epochs at {settings.Resolution} px, best epoch {result.BestEpoch} (validation accuracy {best?.ValidationAccuracy:P1}), seed {settings.Seed}"),
            });
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.Output!))!);
            OnnxExporter.WriteAtomically(settings.Output!, bytes);
            AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(settings.Output!)}[/] ({bytes.Length / 1e6:F1} MB) in {watch.Elapsed:hh\\:mm\\:ss}; best epoch {result.BestEpoch}" +
                                   (result.Cancelled ? " (stopped early by Ctrl-C; rerun with the same --checkpoint to continue)" : ""));
            return 0;
        });

    /// <summary>Feature distillation from --teacher into the zoo backbone, then the same ONNX export.</summary>
    private static int Distill(Settings settings, ImageDataset data, string metricsPath, Stopwatch watch, CancellationToken cancellationToken)
    {
        var teacherSource = BackboneSource.Resolve(settings.Teacher);
        var teacherSpec = settings.TeacherMeanImage is { } prep
            ? MeanImagePreprocessing.Read(prep, teacherSource.DefaultPreprocessing().Resolution)
            : teacherSource.DefaultPreprocessing();
        var teacher = teacherSource.CreateFeatureExtractor();
        var student = BackboneSource.Resolve(settings.Backbone).CreateFeatureExtractor(settings.Seed);
        var spec = PreprocessingSpec.ImageNet(settings.Resolution);
        AnsiConsole.MarkupLine($"distilling [bold]{Markup.Escape(teacherSource.Name)}[/] ({teacher.FeatureDim} features at {teacherSpec.Resolution} px) into " +
                               $"[bold]{Markup.Escape(settings.Backbone)}[/] at {settings.Resolution} px on {data.Count} images from {Markup.Escape(data.Source)}");
        var history = new FeatureDistiller(new DistillationOptions
        {
            Epochs = settings.Epochs, BatchSize = settings.BatchSize, LearningRate = settings.LearningRate, Seed = settings.Seed,
            CheckpointDirectory = settings.Checkpoint,
            OnEpoch = m =>
            {
                AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {m.Epoch}/{settings.Epochs}: cosine to teacher train {m.TrainAccuracy:F3}, held out {m.ValidationAccuracy:F3}, lr {m.LearningRate:G3}, {m.ImagesPerSecond:F0} img/s, {watch.Elapsed:hh\\:mm\\:ss}"));
                AppendMetrics(metricsPath, m);
            },
        }).Distill(student, spec, teacher, teacherSpec, data, cancellationToken);
        var last = history.LastOrDefault();
        var bytes = OnnxExporter.ExportBytes(student, new OnnxExportOptions
        {
            VariantName = settings.Backbone, IncludeHead = false, Preprocessing = spec,
            WeightsProvenance = string.Create(CultureInfo.InvariantCulture,
                $"efficientcnn pretrain: features distilled from {teacherSource.Name} on {data.Source} ({data.Count} images, labels unused), {history.Count} epochs at {settings.Resolution} px, held-out cosine {last?.ValidationAccuracy:F3}, seed {settings.Seed}"),
        });
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.Output!))!);
        OnnxExporter.WriteAtomically(settings.Output!, bytes);
        AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(settings.Output!)}[/] ({bytes.Length / 1e6:F1} MB) in {watch.Elapsed:hh\\:mm\\:ss}");
        return 0;
    }

    private static void AppendMetrics(string path, EpochMetrics m)
    {
        bool header = !File.Exists(path);
        using var w = new StreamWriter(path, append: true);
        if (header) w.WriteLine("epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds,images_per_second");
        w.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{m.Epoch},{m.TrainLoss:R},{m.TrainAccuracy:R},{m.ValidationLoss:R},{m.ValidationAccuracy:R},{m.LearningRate:R},{m.Seconds:R},{m.ImagesPerSecond:R}"));
    }
}
