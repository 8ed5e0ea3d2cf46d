using System.ComponentModel;
using System.Globalization;
using EfficientCnn.Backbones.Training.Fractals;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// <c>efficientcnn fractals</c>: writes a FractalDB-style database (fractal categories from iterated function systems,
/// Kataoka et al., ACCV 2020) as class folders, so that <c>pretrain --data</c> can pretrain a backbone without natural images.
/// </summary>
public sealed class FractalsCommand : Command<FractalsCommand.Settings>
{
    /// <summary>Options of the fractals command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Number of categories.</summary>
        [CommandOption("--classes <N>")]
        [Description("Fractal categories (one iterated function system each).")]
        [DefaultValue(100)]
        public int Classes { get; init; } = 100;

        /// <summary>Images per category.</summary>
        [CommandOption("--per-class <N>")]
        [Description("Images per category (variants of its system, flipped/rotated, coloured).")]
        [DefaultValue(100)]
        public int PerClass { get; init; } = 100;

        /// <summary>Image side.</summary>
        [CommandOption("--size <PX>")]
        [Description("Image side in pixels (FractalDB: 512).")]
        [DefaultValue(128)]
        public int Size { get; init; } = 128;

        /// <summary>Seed.</summary>
        [CommandOption("--seed <N>")]
        [Description("The same seed and options give byte-identical images.")]
        public int Seed { get; init; }

        /// <summary>Filling-rate threshold.</summary>
        [CommandOption("--fill <RATE>")]
        [Description("Keep a drawn system only if its render covers at least this fraction of the pixels, measured at FractalDB's 100000 points per 512x512 pixels (FractalDB: 0.2).")]
        [DefaultValue(0.2)]
        public double Fill { get; init; } = 0.2;

        /// <summary>Chaos-game points per image.</summary>
        [CommandOption("--points <N>")]
        [Description("Chaos-game points plotted per image (FractalDB: 100000).")]
        [DefaultValue(100_000)]
        public int Points { get; init; } = 100_000;

        /// <summary>Output folder.</summary>
        [CommandOption("--out <DIR>")]
        [Description("New or empty folder: DIR/class_NNN/MM.png plus fractals.json (the systems).")]
        public string? Out { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Out)) return ValidationResult.Error("--out is required.");
            if (Classes < FractalDatabaseOptions.MinClasses) return ValidationResult.Error($"--classes must be >= {FractalDatabaseOptions.MinClasses}, got {Classes}.");
            if (PerClass < 1) return ValidationResult.Error($"--per-class must be >= 1, got {PerClass}.");
            if (Size is < FractalDatabaseOptions.MinSize or > FractalDatabaseOptions.MaxSize)
                return ValidationResult.Error($"--size must be in [{FractalDatabaseOptions.MinSize}, {FractalDatabaseOptions.MaxSize}], got {Size}.");
            if (!(Fill > 0 && Fill < 1)) return ValidationResult.Error(string.Create(CultureInfo.InvariantCulture, $"--fill must be in (0, 1), got {Fill}."));
            if (Points < FractalDatabaseOptions.MinPoints) return ValidationResult.Error($"--points must be >= {FractalDatabaseOptions.MinPoints}, got {Points}.");
            if (Fill > FractalDatabaseOptions.ReachableFill(Points))
                return ValidationResult.Error(string.Create(CultureInfo.InvariantCulture,
                    $"--fill {Fill} cannot be reached: {Points} points cover at most {FractalDatabaseOptions.ReachableFill(Points):F3} of the grid the filling rate is measured on."));
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            string output = settings.Out!;
            if (File.Exists(output)) throw new ArgumentException($"--out '{output}' is a file; give a new or empty folder.", "out");
            if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
                throw new ArgumentException($"--out '{output}' is not empty; give a new or empty folder.", "out");
            int total = settings.Classes * settings.PerClass;
            FractalDatabaseSummary summary;
            try
            {
                var database = new FractalDatabase(new FractalDatabaseOptions
                {
                    Classes = settings.Classes, ImagesPerClass = settings.PerClass, Size = settings.Size, Seed = settings.Seed,
                    FillThreshold = settings.Fill, Points = settings.Points,
                });
                AnsiConsole.MarkupLine($"drawing [bold]{settings.Classes}[/] fractal categories × {settings.PerClass} images at {settings.Size} px into {Markup.Escape(output)}");
                summary = WithProgress(total, tick => database.Write(output, tick, cancellationToken));
            }
            catch (ArgumentException e) when (e.ParamName == nameof(FractalDatabaseOptions.FillThreshold))
            {
                // The library's message without its "(Parameter 'FillThreshold')": this one gets "(Parameter 'fill')".
                string reason = e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
                throw new ArgumentException($"--fill {settings.Fill.ToString(CultureInfo.InvariantCulture)} is too strict: {reason}", "fill", e);
            }
            var table = new Table().AddColumns("classes", "images", "seconds", "images/s", "rejected IFS");
            table.AddRow(summary.Classes.ToString(CultureInfo.InvariantCulture), summary.Images.ToString(CultureInfo.InvariantCulture),
                summary.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture),
                (summary.Images / Math.Max(1e-9, summary.Elapsed.TotalSeconds)).ToString("F0", CultureInfo.InvariantCulture),
                summary.RejectedSystems.ToString(CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"wrote {Markup.Escape(output)} ({FractalDatabase.ManifestFileName} lists each category's maps); " +
                                   $"pretrain with: efficientcnn pretrain --data {Markup.Escape(output)} --resolution {settings.Size}");
            return 0;
        });

    /// <summary>A live bar on an interactive terminal; otherwise (logs, tests) a line at every quarter.</summary>
    private static T WithProgress<T>(int total, Func<Action, T> run)
    {
        int done = 0;
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            return run(() =>
            {
                int now = Interlocked.Increment(ref done);
                if (now < total && 4L * now / total != 4L * (now - 1) / total) AnsiConsole.WriteLine($"  {now}/{total} images");
            });
        }
        return AnsiConsole.Progress().AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask($"{total} images", maxValue: total);
                return run(() => task.Increment(1));
            });
    }
}
