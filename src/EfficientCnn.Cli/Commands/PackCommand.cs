using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using EfficientCnn.Backbones.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// <c>efficientcnn pack</c>: decodes images once into a <see cref="PackedImages"/> file (S×S uint8 RGB), so that
/// distillation on a large corpus decodes no PNG or JPEG while it trains.
/// </summary>
public sealed class PackCommand : Command<PackCommand.Settings>
{
    /// <summary>Options of the pack command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Images to pack.</summary>
        [CommandOption("--input <DIR|LIST.txt|CORPUS.csv>")]
        [Description("A folder (its images, sub-folders too, sorted), a text file of image paths (one a line), or a CSV with a 'path' column (bench/corpus/build-corpus.py's corpus.csv). Relative paths are relative to the list's folder.")]
        public string? Input { get; init; }

        /// <summary>Image side.</summary>
        [CommandOption("--size <PX>")]
        [Description("Side S: each image's shorter side is resized to S, then the centre S×S is kept.")]
        public int? Size { get; init; }

        /// <summary>File to write.</summary>
        [CommandOption("--output <FILE>")]
        [Description("The packed file to write (replaced only when packing succeeds).")]
        public string? Output { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Input)) return ValidationResult.Error("--input is required.");
            if (string.IsNullOrWhiteSpace(Output)) return ValidationResult.Error("--output is required.");
            if (Size is null) return ValidationResult.Error("--size is required.");
            if (Size is < 8 or > 4096) return ValidationResult.Error($"--size must be in [8, 4096], got {Size}.");
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            string input = settings.Input!;
            string output = ModelFiles.CheckWritableFile(settings.Output!, "output");
            if (string.Equals(Path.GetFullPath(input), output, StringComparison.Ordinal))
                throw new ArgumentException($"--output '{settings.Output}' is the --input itself; choose another file.", "output");
            var files = PackInputs.Read(input);
            AnsiConsole.MarkupLineInterpolated($"packing {files.Count} images at {settings.Size}x{settings.Size} into {output}");
            var clock = Stopwatch.StartNew();
            var result = PackedImages.Write(output, files, settings.Size!.Value, cancellationToken, Progress(clock));
            double seconds = clock.Elapsed.TotalSeconds;
            foreach (var (path, error) in result.Skipped.Take(20)) AnsiConsole.MarkupLineInterpolated($"[yellow]skipped[/] {path}: {error}");
            if (result.Skipped.Count > 0)
            {
                string list = output + ".skipped.txt";
                File.WriteAllLines(list, result.Skipped.Select(s => $"{s.Path}\t{s.Error}"));
                AnsiConsole.MarkupLineInterpolated($"{result.Skipped.Count} unreadable images skipped (all listed in {list})");
            }
            long bytes = new FileInfo(output).Length;
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Packed {result.Written} images ({result.Skipped.Count} skipped) in {seconds:F1} s ({result.Written / Math.Max(seconds, 1e-9):F1} images/s); wrote {output} ({bytes / 1048576.0:F1} MiB)"));
            return 0;
        });

    /// <summary>
    /// A progress line every 5 % (and at most every 30 s otherwise), readable in logs and pipes, where a live bar
    /// would print control codes.
    /// </summary>
    private static Action<int, int> Progress(Stopwatch clock)
    {
        int lastTwentieth = 0;
        double lastSeconds = 0;
        return (done, total) =>
        {
            int twentieth = (int)(20L * done / Math.Max(total, 1));
            double seconds = clock.Elapsed.TotalSeconds;
            if (done >= total || (twentieth == lastTwentieth && seconds - lastSeconds < 30)) return;
            lastTwentieth = twentieth;
            lastSeconds = seconds;
            double rate = done / Math.Max(seconds, 1e-9);
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {done}/{total} images ({100.0 * done / total:F0} %), {rate:F1} images/s, about {(total - done) / Math.Max(rate, 1e-9) / 60:F1} min left"));
        };
    }
}
