using System.ComponentModel;
using System.Text.Json;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.MLNet;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// <c>efficientcnn check-onnx</c>: imports the file into TorchSharp, runs ONNX Runtime and TorchSharp on the same random
/// batch and prints the largest absolute difference. Exit code 0 when within 1e-4·max(1,max|y|), 2 when not, 1 on error.
/// </summary>
public sealed class CheckOnnxCommand : Command<CheckOnnxCommand.Settings>
{
    /// <summary>Options of the check-onnx command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>The ONNX file.</summary>
        [CommandArgument(0, "<FILE>")]
        [Description("The .onnx file.")]
        public string File { get; init; } = "";

        /// <summary>Input size for symbolic H/W.</summary>
        [CommandOption("--resolution <R>")]
        [Description("Input size when the model's H and W are symbolic (default: the metadata's, else 224).")]
        public int? Resolution { get; init; }

        /// <summary>Batch size.</summary>
        [CommandOption("--batch <N>")]
        [Description("Images in the random batch (default 2).")]
        [DefaultValue(2)]
        public int Batch { get; init; } = 2;

        /// <summary>Print JSON.</summary>
        [CommandOption("--json")]
        [Description("Print only JSON: file, passed, maxAbsDiff, outputs, ops, timings.")]
        public bool Json { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (Batch < 1) return ValidationResult.Error($"--batch must be >= 1, got {Batch}.");
            if (Resolution is < 1) return ValidationResult.Error($"--resolution must be >= 1, got {Resolution}.");
            if (ImageLimits.AboveLimit("--resolution", Resolution, ImageLimits.MaxResolution) is { } resolutionLimit) return ValidationResult.Error(resolutionLimit);
            if (ImageLimits.AboveLimit("--batch", Batch, ImageLimits.MaxBatchSize) is { } batchLimit) return ValidationResult.Error(batchLimit);
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(settings.Json, () =>
        {
            var r = OnnxParity.Check(settings.File, settings.Resolution, settings.Batch);
            int code = r.Passed ? ExitCodes.Success : ExitCodes.CheckFailed;
            if (settings.Json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    file = r.Path, passed = r.Passed, maxAbsDiff = r.MaxAbsDiff, batch = r.Batch, height = r.Height, width = r.Width,
                    outputs = r.Outputs.Select(o => new { o.Name, o.OnnxName, o.Shape, o.MaxAbsDiff, o.MaxAbs, o.Tolerance, o.Passed }),
                    ops = r.Operators, importSeconds = r.ImportSeconds, ortSeconds = r.OrtSeconds, torchSeconds = r.TorchSeconds,
                }, OnnxCommandHelpers.Json));
                return code;
            }
            var table = new Table().AddColumns("output", "onnx tensor", "shape", "max |Δ|", "max |y|", "tolerance", "");
            foreach (var o in r.Outputs)
                table.AddRow(o.Name, Markup.Escape(o.OnnxName), Markup.Escape($"[{string.Join(",", o.Shape)}]"), $"{o.MaxAbsDiff:E2}", $"{o.MaxAbs:G4}",
                    $"{o.Tolerance:E1}", o.Passed ? "[green]ok[/]" : "[red]FAIL[/]");
            AnsiConsole.MarkupLineInterpolated($"{r.Path}: batch {r.Batch} at {r.Height}x{r.Width}; import {r.ImportSeconds:F2} s, ORT {r.OrtSeconds:F2} s, TorchSharp {r.TorchSeconds:F2} s");
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"ops: {string.Join(", ", r.Operators.Select(o => $"{o.Key}={o.Value}"))}");
            AnsiConsole.MarkupLine(r.Passed ? $"[green]max abs diff {r.MaxAbsDiff:E2}: parity OK[/]" : $"[red]max abs diff {r.MaxAbsDiff:E2}: parity FAILED[/]");
            return code;
        });
}
