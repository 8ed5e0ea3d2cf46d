using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Checkpoints;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Profiling;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.Backbones.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// <c>efficientcnn distill</c>: function-matching distillation (<see cref="FunctionMatchingDistiller"/>) of an ONNX
/// teacher into a student on a packed unlabelled corpus, in rounds with a checkpoint and an exported ONNX backbone after
/// each, and optional linear probes on labelled sets (their train split only) to follow transfer quality.
/// </summary>
[NeedsScalarLifetimeWorkaround]
public sealed class DistillCommand : Command<DistillCommand.Settings>
{
    /// <summary>Options of the distill command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Teacher ONNX.</summary>
        [CommandOption("--teacher <FILE.onnx>")]
        [Description("The teacher: an ONNX image model whose pooled features the student learns (e.g. ML.NET's ResNet18.onnx).")]
        public string? Teacher { get; init; }

        /// <summary>Teacher's preprocessing graph.</summary>
        [CommandOption("--teacher-mean-image <FILE.onnx>")]
        [Description("The teacher's Caffe-style preprocessing graph (ML.NET's ResNetPreprocess.onnx); default: the teacher's metadata, else ImageNet's.")]
        public string? TeacherMeanImage { get; init; }

        /// <summary>Packed corpus.</summary>
        [CommandOption("--data <FILE.pack>")]
        [Description("Unlabelled images packed by `efficientcnn pack`.")]
        public string? Data { get; init; }

        /// <summary>Zoo student.</summary>
        [CommandOption("--student <NAME>")]
        [Description("Zoo variant to distil into from random initialisation (exclusive with --factorize-teacher).")]
        public string? Student { get; init; }

        /// <summary>Teacher-initialised student.</summary>
        [CommandOption("--factorize-teacher <RANKS>")]
        [Description("Start from the teacher itself (a basic-block ResNet) with each stage's 3x3 convolutions Tucker-2 factorized at these rank fractions, e.g. 0.5,0.5,0.5,0.25 (0 keeps a stage whole).")]
        public string? FactorizeTeacher { get; init; }

        /// <summary>Student input size.</summary>
        [CommandOption("--resolution <R>")]
        [DefaultValue(160)]
        public int Resolution { get; init; } = 160;

        /// <summary>Rounds.</summary>
        [CommandOption("--rounds <N>")]
        [DefaultValue(20)]
        public int Rounds { get; init; } = 20;

        /// <summary>Steps per round.</summary>
        [CommandOption("--steps-per-round <N>")]
        [DefaultValue(200)]
        public int StepsPerRound { get; init; } = 200;

        /// <summary>Batch size.</summary>
        [CommandOption("--batch-size <N>")]
        [DefaultValue(32)]
        public int BatchSize { get; init; } = 32;

        /// <summary>Peak learning rate.</summary>
        [CommandOption("--lr <RATE>")]
        [DefaultValue(3e-4)]
        public double LearningRate { get; init; } = 3e-4;

        /// <summary>Mixup fraction.</summary>
        [CommandOption("--mixup <FRACTION>")]
        [Description("Fraction of each batch blended with another image (0 turns mixup off).")]
        [DefaultValue(0.5)]
        public double Mixup { get; init; } = 0.5;

        /// <summary>Smallest crop area.</summary>
        [CommandOption("--min-crop <FRACTION>")]
        [DefaultValue(0.25)]
        public double MinCrop { get; init; } = 0.25;

        /// <summary>Seed.</summary>
        [CommandOption("--seed <N>")]
        public int Seed { get; init; }

        /// <summary>Checkpoint folder.</summary>
        [CommandOption("--checkpoint <DIR>")]
        [Description("Folder for the checkpoint written after every round; continue it with --resume.")]
        public string? Checkpoint { get; init; }

        /// <summary>Continue the run in --checkpoint.</summary>
        [CommandOption("--resume")]
        public bool Resume { get; init; }

        /// <summary>Labelled sets to probe.</summary>
        [CommandOption("--probe <DATA>")]
        [Description("A labelled set (folder or split.csv; only its train split is used, 3/4 to fit a linear probe, 1/4 to score it) measured after every round; repeatable.")]
        public string[] Probe { get; init; } = [];

        /// <summary>Output ONNX backbone.</summary>
        [CommandOption("-o|--output <FILE.onnx>")]
        [Description("The student as an ONNX backbone, rewritten after every round.")]
        public string? Output { get; init; }

        /// <summary>Metrics CSV.</summary>
        [CommandOption("--metrics <FILE.csv>")]
        [Description("One row per round: cosine to the teacher (train, held out), probe accuracies, learning rate, images/s (default: OUTPUT.metrics.csv).")]
        public string? Metrics { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Teacher)) return ValidationResult.Error("--teacher is required.");
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required.");
            if (string.IsNullOrWhiteSpace(Output)) return ValidationResult.Error("--output is required.");
            if ((Student is null) == (FactorizeTeacher is null)) return ValidationResult.Error("give exactly one of --student NAME and --factorize-teacher RANKS.");
            if (FactorizeTeacher is not null && ParseRanks(FactorizeTeacher) is null)
                return ValidationResult.Error($"--factorize-teacher must be 4 comma-separated fractions in [0, 1], got '{FactorizeTeacher}'.");
            if (Resolution is < 32 or > 1024) return ValidationResult.Error($"--resolution must be in 32..1024, got {Resolution}.");
            if (Rounds < 1 || StepsPerRound < 1) return ValidationResult.Error("--rounds and --steps-per-round must be >= 1.");
            if (BatchSize is < 2 or > 4096) return ValidationResult.Error($"--batch-size must be in 2..4096, got {BatchSize}.");
            if (LearningRate <= 0) return ValidationResult.Error($"--lr must be positive, got {LearningRate}.");
            if (Mixup is < 0 or > 1) return ValidationResult.Error($"--mixup must be in [0, 1], got {Mixup}.");
            if (MinCrop is <= 0 or > 1) return ValidationResult.Error($"--min-crop must be in (0, 1], got {MinCrop}.");
            if (Resume && string.IsNullOrWhiteSpace(Checkpoint)) return ValidationResult.Error("--resume needs --checkpoint <DIR>: the folder of the run to continue.");
            return ValidationResult.Success();
        }

        internal static double[]? ParseRanks(string text)
        {
            var parts = text.Split(',', StringSplitOptions.TrimEntries);
            var ranks = new double[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out ranks[i]) || ranks[i] is < 0 or > 1) return null;
            return ranks.Length == 4 ? ranks : null;
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            string output = ModelFiles.CheckWritableFile(settings.Output!, "output");
            string metricsPath = settings.Metrics ?? Path.ChangeExtension(output, ".metrics.csv");
            InputOutputOverlap.Refuse(output, "output", (settings.Data, "--data"), (settings.Teacher, "--teacher"), (settings.TeacherMeanImage, "--teacher-mean-image"));
            InputOutputOverlap.Refuse(metricsPath, "metrics", (settings.Data, "--data"), (settings.Teacher, "--teacher"), (output, "--output"));
            ModelFiles.CheckResume(settings.Checkpoint, settings.Resume);
            using var images = PackedImages.Open(settings.Data!);
            var teacherSource = BackboneSource.Resolve(settings.Teacher);
            var teacherSpec = settings.TeacherMeanImage is { } prep
                ? MeanImagePreprocessing.Read(prep, teacherSource.Preprocessing.Resolution)
                : teacherSource.Preprocessing;
            var teacher = NativeTeacher(teacherSource);
            // A teacher-initialised student keeps the teacher's input convention; any other student its own backbone's.
            var ranks = settings.FactorizeTeacher is null ? null : Settings.ParseRanks(settings.FactorizeTeacher);
            var studentSource = ranks is null ? BackboneSource.Resolve(settings.Student).WithPreprocessing(resolution: settings.Resolution) : null;
            Backbone student = studentSource?.CreateFeatureExtractor(settings.Seed) ?? OnnxWeightTransfer.ResNetFromOnnx(teacherSource.Path!, ranks!);
            var spec = studentSource?.Preprocessing ?? teacherSpec with { Resolution = settings.Resolution };
            string studentName = ranks is not null ? $"{Path.GetFileNameWithoutExtension(teacherSource.Name)} Tucker-2 {settings.FactorizeTeacher}" : settings.Student!;
            var probes = settings.Probe.Select(p => CreateProbe(p, spec, settings.Seed)).ToList();
            var profile = ModelProfiler.Profile(student, settings.Resolution);
            AnsiConsole.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"distilling {teacherSource.Name} ({teacherSpec.Resolution} px) into {studentName} ({profile.Params / 1e6:F2} M params, {profile.Macs / 1e6:F0} M MACs at {settings.Resolution} px) " +
                $"on {images.Count} images of {images.Path}: {settings.Rounds} rounds x {settings.StepsPerRound} steps x {settings.BatchSize} images")));
            var metrics = new DistillMetricsCsv(metricsPath, probes.Select(p => p.Name).ToList(), settings.Resume);
            var watch = Stopwatch.StartNew();
            using var cancellation = new ConsoleCancellation(cancellationToken);
            int steps = settings.StepsPerRound;
            var history = new FunctionMatchingDistiller(new FunctionMatchingOptions
            {
                Rounds = settings.Rounds, StepsPerRound = steps, BatchSize = settings.BatchSize, LearningRate = settings.LearningRate,
                MixupFraction = settings.Mixup, MinCropArea = settings.MinCrop, Seed = settings.Seed, CheckpointDirectory = settings.Checkpoint,
                HeldOut = Math.Min(128, images.Count / 10),
                OnProgress = p =>
                {
                    if (p.Done % Math.Max(1, steps / 10) == 0 && p.Done < p.Total)
                        AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  round {p.Epoch}/{settings.Rounds}: step {p.Done}/{p.Total}, {watch.Elapsed:hh\\:mm\\:ss}"));
                },
                OnRound = (m, s) =>
                {
                    var accuracies = probes.Select(p => p.Accuracy(s)).ToList();
                    metrics.Append(m, (long)m.Epoch * steps, (long)m.Epoch * steps * settings.BatchSize, accuracies, watch.Elapsed.TotalSeconds);
                    Export(s, spec, output, studentName, teacherSource.Name, images, m, settings);
                    string probed = string.Concat(probes.Zip(accuracies).Select(x => string.Create(CultureInfo.InvariantCulture, $", probe {x.First.Name} {x.Second:P1}")));
                    AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"round {m.Epoch}/{settings.Rounds}: cosine to teacher train {m.TrainAccuracy:F4}, held out {m.ValidationAccuracy:F4}{probed}, lr {m.LearningRate:G3}, {m.ImagesPerSecond:F1} img/s, {watch.Elapsed:hh\\:mm\\:ss}"));
                },
            }).Distill(student, spec, teacher, teacherSpec, images, cancellation.Token);
            AnsiConsole.MarkupLine(Markup.Escape($"{history.Count} of {settings.Rounds} rounds done; student in {output}, metrics in {metricsPath}" +
                                                 (history.Count < settings.Rounds && settings.Checkpoint is not null ? "; stopped early: rerun with --resume to continue" : "")));
            return 0;
        });

    private static void Export(Backbone student, Backbones.Imaging.PreprocessingSpec spec, string output, string studentName, string teacherName, PackedImages images,
        EpochMetrics m, Settings settings)
    {
        var bytes = OnnxExporter.ExportBytes(student, new OnnxExportOptions
        {
            VariantName = studentName, IncludeHead = false, Preprocessing = spec,
            WeightsProvenance = string.Create(CultureInfo.InvariantCulture,
                $"efficientcnn distill: function matching from {teacherName} on {images.Count} unlabelled images ({Path.GetFileName(images.Path)}), " +
                $"{m.Epoch} rounds x {settings.StepsPerRound} steps x {settings.BatchSize} at {settings.Resolution} px, held-out cosine {m.ValidationAccuracy:F4}, seed {settings.Seed}"),
        });
        OnnxExporter.WriteAtomically(output, bytes);
    }

    /// <summary>
    /// A basic-block ResNet teacher rebuilt as the zoo's module with its weights (the same features, to float precision)
    /// runs as native layers instead of node by node: it is the costliest network of every step. Other teachers are imported.
    /// </summary>
    private static Backbone NativeTeacher(BackboneSource source)
    {
        if (source.Path is null) return source.CreateFeatureExtractor();
        try { return OnnxWeightTransfer.ResNetFromOnnx(source.Path); }
        catch (InvalidDataException) { return source.CreateFeatureExtractor(); }
    }

    private static LinearProbe CreateProbe(string path, Backbones.Imaging.PreprocessingSpec spec, int seed)
    {
        var data = ImageDataset.Load(path, split: File.Exists(path) ? "train" : null).EnsureTrainable();
        var (fit, score) = data.StratifiedSplit(0.25, seed: seed);
        string name = File.Exists(path) ? Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(path))) ?? path : Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
        return new LinearProbe(name, fit, score, spec);
    }
}
