using System.ComponentModel;
using System.Text.Json;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Registry;
using EfficientCnn.MLNet;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary><c>efficientcnn zoo</c>: the backbone catalogue, measured from the modules.</summary>
public sealed class ZooCommand : Command<ZooCommand.Settings>
{
    /// <summary>Options of the zoo command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Print only a JSON array.</summary>
        [CommandOption("--json")]
        [Description("Print only a JSON array of {name, family, params, macs, featureDim, resolution}.")]
        public bool Json { get; init; }

        /// <summary>Classes of the head.</summary>
        [CommandOption("--classes <N>")]
        [Description("Classes of the classifier head counted in params (default 1000; 0 = feature extractor only).")]
        [DefaultValue(1000)]
        public int Classes { get; init; } = 1000;

        /// <summary>Overrides each variant's resolution.</summary>
        [CommandOption("--resolution <R>")]
        [Description("Input size for MACs; overrides each variant's default resolution.")]
        public int? Resolution { get; init; }

        /// <summary>Restricts the listing.</summary>
        [CommandOption("--name <NAME>")]
        [Description("Only these variants (repeatable).")]
        public string[]? Names { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (Classes < 0) return ValidationResult.Error($"--classes must be >= 0, got {Classes}.");
            if (OptionChecks.Resolution(Resolution) is { } resolutionError) return ValidationResult.Error(resolutionError);
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var rows = ZooSummary.Summarize(settings.Classes, settings.Resolution, settings.Names is { Length: > 0 } n ? n : null);
        if (settings.Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(rows.ToList(), new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
            return 0;
        }
        var table = new Table().AddColumns("name", "family", "params (M)", "MACs (M)", "feature dim", "resolution");
        foreach (var r in rows)
        {
            table.AddRow(r.Name, r.Family, $"{r.Params / 1e6:F3}", $"{r.Macs / 1e6:F1}", r.FeatureDim.ToString(), r.Resolution.ToString());
        }
        AnsiConsole.Write(table);
        return 0;
    }
}
