using EfficientCnn.Backbones.Checkpoints;
using System.ComponentModel;
using System.Diagnostics;
using System.Security.Cryptography;
using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Registry;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary><c>efficientcnn export</c>: writes a backbone as an ONNX model (opset 17, symbolic batch).</summary>
public sealed class ExportCommand : Command<ExportCommand.Settings>
{
    /// <summary>Options of the export command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Registry name.</summary>
        [CommandOption("--backbone <NAME>")]
        [Description("Zoo variant (see 'efficientcnn zoo') or architecture spec .json to export; its own preprocessing goes into the metadata.")]
        public string? Backbone { get; init; }

        /// <summary>Classes of the head.</summary>
        [CommandOption("--classes <N>")]
        [Description("Classes of the classifier head (default 1000; 0 = features output only).")]
        [DefaultValue(1000)]
        public int Classes { get; init; } = 1000;

        /// <summary>Input size written to the metadata (and fixed in the graph with --fixed-size).</summary>
        [CommandOption("--resolution <R>")]
        [Description("Input size recorded in the metadata (default: the backbone's).")]
        public int? Resolution { get; init; }

        /// <summary>TorchSharp weights file.</summary>
        [CommandOption("--weights <FILE>")]
        [Description("Weights to load before exporting: a PyTorch state dict (.pth/.pt from torch.save, or .safetensors; names as torchvision/timm) or a TorchSharp module.save file; default: random initialisation.")]
        public string? Weights { get; init; }

        /// <summary>Output path.</summary>
        [CommandOption("-o|--output <FILE>")]
        [Description("The .onnx file to write (written atomically).")]
        public string? Output { get; init; }

        /// <summary>Keep BatchNormalization nodes.</summary>
        [CommandOption("--keep-batchnorm")]
        [Description("Keep BatchNormalization nodes instead of folding them into the convolutions.")]
        public bool KeepBatchNorm { get; init; }

        /// <summary>Fix H and W.</summary>
        [CommandOption("--fixed-size")]
        [Description("Fix the input's H and W to --resolution (default: symbolic H, W).")]
        public bool FixedSize { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Backbone)) return ValidationResult.Error("--backbone is required.");
            if (string.IsNullOrWhiteSpace(Output)) return ValidationResult.Error("--output is required.");
            if (Classes < 0) return ValidationResult.Error($"--classes must be >= 0, got {Classes}.");
            if (OptionChecks.Resolution(Resolution) is { } resolutionError) return ValidationResult.Error(resolutionError);
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            InputOutputOverlap.Refuse(settings.Output, "output", (settings.Weights, "the --weights file"));
            // The one place the backbone string is parsed; its preprocessing (at --resolution) goes into the metadata.
            var backbone = BackboneSource.Resolve(settings.Backbone).WithPreprocessing(resolution: settings.Resolution);
            if (!backbone.IsRandomlyInitialised)
                throw new ArgumentException($"--backbone '{settings.Backbone}' is an ONNX model already: export writes a zoo variant or an architecture spec .json.", "backbone");
            using var model = backbone.CreateNetwork(settings.Classes);
            string provenance = "random initialisation (no --weights)";
            if (settings.Weights is { } weights)
            {
                string full = Path.GetFullPath(weights);
                if (!File.Exists(full)) throw new FileNotFoundException($"Weights file not found: {full}", full);
                if (IsPyTorchCheckpoint(full)) StateDictLoader.Load(model, full, strict: true);
                else model.load(full);
                using var stream = File.OpenRead(full);
                provenance = $"{Path.GetFileName(full)} sha256:{Convert.ToHexStringLower(SHA256.HashData(stream))}";
            }
            var sw = Stopwatch.StartNew();
            OnnxExporter.ExportFile(model, settings.Output!, new OnnxExportOptions
            {
                VariantName = backbone.Name,
                Preprocessing = backbone.Preprocessing,
                FoldBatchNorm = !settings.KeepBatchNorm,
                FixedSpatialSize = settings.FixedSize,
                WeightsProvenance = provenance,
            });
            var info = OnnxModelInfo.Read(settings.Output!);
            AnsiConsole.MarkupLineInterpolated(
                $"Wrote [green]{Path.GetFullPath(settings.Output!)}[/] ({new FileInfo(settings.Output!).Length / 1e6:F1} MB, {sw.Elapsed.TotalSeconds:F2} s): opset {info.Opset}, {info.Nodes} nodes, {info.Parameters:N0} parameters");
            foreach (var o in info.Outputs)
                AnsiConsole.MarkupLineInterpolated($"  output {o.Name} [[{string.Join(",", o.Dims)}]]");
            return 0;
        });

    /// <summary>True for PyTorch zip checkpoints and safetensors; false for anything else (e.g. TorchSharp's own format).</summary>
    private static bool IsPyTorchCheckpoint(string path)
    {
        try
        {
            StateDictLoader.DetectFormat(path);
            return true;
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }
}
