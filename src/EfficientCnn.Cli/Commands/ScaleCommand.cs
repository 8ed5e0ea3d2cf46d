using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Scaling;
using EfficientCnn.Backbones.Search;
using EfficientCnn.MLNet.Search;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary>
/// <c>efficientcnn scale</c>: compound-scales a base (zoo variant or architecture spec) to a budget in MACs, parameters
/// or latency measured here with ONNX Runtime, and reports φ, the multipliers, the predicted and the measured cost.
/// </summary>
[NeedsScalarLifetimeWorkaround]
public sealed class ScaleCommand : Command<ScaleCommand.Settings>
{
    /// <summary>Options of the scale command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Zoo name or spec file.</summary>
        [CommandOption("--base <NAME|SPEC>")]
        [Description("What to scale: mnasnet_a1, an efficientnet_b* variant, or an architecture spec JSON file (e.g. from 'efficientcnn search').")]
        public string? Base { get; init; }

        /// <summary>MACs budget.</summary>
        [CommandOption("--target-macs <M>")]
        [Description("Budget in multiply-accumulates per image; suffixes K, M, G allowed (e.g. 600M).")]
        public string? TargetMacs { get; init; }

        /// <summary>Parameter budget.</summary>
        [CommandOption("--target-params <P>")]
        [Description("Budget in parameters; suffixes K, M, G allowed (e.g. 5.3M).")]
        public string? TargetParams { get; init; }

        /// <summary>Latency budget.</summary>
        [CommandOption("--target-latency-ms <MS>")]
        [Description("Budget in milliseconds per batch, measured on this machine with ONNX Runtime (median of --runs).")]
        public double? TargetLatencyMs { get; init; }

        /// <summary>Depth coefficient.</summary>
        [CommandOption("--alpha <A>")]
        [Description("Depth coefficient α (default 1.2, EfficientNet's).")]
        [DefaultValue(1.2)]
        public double Alpha { get; init; } = 1.2;

        /// <summary>Width coefficient.</summary>
        [CommandOption("--beta <B>")]
        [Description("Width coefficient β (default 1.1).")]
        [DefaultValue(1.1)]
        public double Beta { get; init; } = 1.1;

        /// <summary>Resolution coefficient.</summary>
        [CommandOption("--gamma <G>")]
        [Description("Resolution coefficient γ (default 1.15).")]
        [DefaultValue(1.15)]
        public double Gamma { get; init; } = 1.15;

        /// <summary>Classes of the head.</summary>
        [CommandOption("--classes <N>")]
        [Description("Classes of the classifier head counted in the cost (default 1000).")]
        [DefaultValue(1000)]
        public int Classes { get; init; } = 1000;

        /// <summary>Latency batch size.</summary>
        [CommandOption("--batch <N>")]
        [Description("Images per timed run for --target-latency-ms (default 1).")]
        [DefaultValue(1)]
        public int Batch { get; init; } = 1;

        /// <summary>Latency threads.</summary>
        [CommandOption("--threads <N>")]
        [Description("ONNX Runtime intra-op threads for --target-latency-ms (default 1).")]
        [DefaultValue(1)]
        public int Threads { get; init; } = 1;

        /// <summary>Timed runs.</summary>
        [CommandOption("--runs <N>")]
        [Description("Timed runs per latency measurement; the median counts (default 20).")]
        [DefaultValue(20)]
        public int Runs { get; init; } = 20;

        /// <summary>JSON output.</summary>
        [CommandOption("--json")]
        [Description("Print only a JSON object with the plan.")]
        public bool Json { get; init; }

        /// <summary>Where to write the scaled spec.</summary>
        [CommandOption("--out <SPEC.json>")]
        [Description("Write the scaled architecture spec (bases that are specs: mnasnet_a1 or a spec file).")]
        public string? Out { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Base)) return ValidationResult.Error("--base is required.");
            int targets = (TargetMacs is null ? 0 : 1) + (TargetParams is null ? 0 : 1) + (TargetLatencyMs is null ? 0 : 1);
            if (targets != 1) return ValidationResult.Error("Give exactly one of --target-macs, --target-params, --target-latency-ms.");
            if (TargetLatencyMs is { } ms && !(ms > 0)) return ValidationResult.Error($"--target-latency-ms must be > 0, got {ms}.");
            if (Classes < 0) return ValidationResult.Error($"--classes must be >= 0, got {Classes}.");
            if (Batch < 1 || Threads < 1 || Runs < 1) return ValidationResult.Error("--batch, --threads and --runs must be >= 1.");
            if (ImageLimits.AboveLimit("--batch", Batch, ImageLimits.MaxBatchSize) is { } batchLimit) return ValidationResult.Error(batchLimit);
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(settings.Json, () =>
        {
            InputOutputOverlap.Refuse(settings.Out, "out", (settings.Base, "the --base spec"));
            var scalableBase = ScalableBase.Resolve(settings.Base!);
            if (settings.Out is not null && scalableBase.Spec is null)
                throw new ArgumentException($"--out writes an architecture spec, and {scalableBase.Name} is not one (use mnasnet_a1 or a spec file).", "out");
            var latency = new LatencySettings(settings.Batch, Warmup: 3, settings.Runs, settings.Threads);
            var planner = new ScalingPlanner(scalableBase, settings.Alpha, settings.Beta, settings.Gamma, settings.Classes,
                (model, resolution) => OnnxLatency.Measure(model, resolution, latency, cancellationToken).MedianMsPerBatch);
            var (target, value) = settings switch
            {
                { TargetMacs: { } m } => (ScalingTarget.Macs, ParseCount(m, "--target-macs")),
                { TargetParams: { } p } => (ScalingTarget.Params, ParseCount(p, "--target-params")),
                _ => (ScalingTarget.LatencyMs, settings.TargetLatencyMs!.Value),
            };
            var plan = planner.Plan(target, value);
            if (settings.Out is { } outPath) plan.Spec!.Save(outPath);
            if (settings.Json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(ToJson(plan, settings.Out), OnnxCommandHelpers.Json));
                return 0;
            }
            Print(plan, settings.Out);
            return 0;
        });

    /// <summary>Parses a count such as <c>600M</c>, <c>1.5G</c>, <c>250000</c> or <c>2.5e8</c>.</summary>
    /// <exception cref="ArgumentException">Not a positive number (ParamName is the option without dashes).</exception>
    public static double ParseCount(string text, string option)
    {
        string t = text.Trim();
        double factor = 1;
        if (t.Length > 0 && char.ToUpperInvariant(t[^1]) is 'K' or 'M' or 'G' or 'B')
        {
            factor = char.ToUpperInvariant(t[^1]) switch { 'K' => 1e3, 'M' => 1e6, _ => 1e9 };
            t = t[..^1];
        }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value > 0) || !double.IsFinite(value))
            throw new ArgumentException($"{option} must be a positive number (suffixes K, M, G allowed), got '{text}'.", option.TrimStart('-'));
        return value * factor;
    }

    private static object ToJson(ScalingPlan plan, string? specPath) => new
    {
        @base = plan.Base,
        target = plan.Target.ToString(),
        targetValue = plan.TargetValue,
        alpha = plan.Alpha,
        beta = plan.Beta,
        gamma = plan.Gamma,
        phi = plan.Config.Phi,
        depthMultiplier = plan.Config.DepthMultiplier,
        widthMultiplier = plan.Config.WidthMultiplier,
        resolution = plan.Config.Resolution,
        baseCost = plan.BaseCost,
        predictedCost = plan.PredictedCost,
        measuredCost = plan.MeasuredCost,
        relativeError = plan.RelativeError,
        macs = plan.Macs,
        @params = plan.Params,
        spec = specPath is null ? null : Path.GetFullPath(specPath),
    };

    private static void Print(ScalingPlan plan, string? specPath)
    {
        string Fmt(double v) => plan.Target switch
        {
            ScalingTarget.Macs => $"{v / 1e6:F1} M MACs",
            ScalingTarget.Params => $"{v / 1e6:F3} M params",
            _ => $"{v:F2} ms",
        };
        var table = new Table().AddColumns("", "value");
        table.AddRow("base", Markup.Escape(plan.Base));
        table.AddRow("target", Fmt(plan.TargetValue));
        table.AddRow("α, β, γ", $"{plan.Alpha:G4}, {plan.Beta:G4}, {plan.Gamma:G4} (α·β²·γ² = {plan.Alpha * plan.Beta * plan.Beta * plan.Gamma * plan.Gamma:F3})");
        table.AddRow("φ", $"{plan.Config.Phi:F4}");
        table.AddRow("depth × / width ×", $"{plan.Config.DepthMultiplier:F4} / {plan.Config.WidthMultiplier:F4}");
        table.AddRow("resolution", $"{plan.Config.Resolution} px");
        table.AddRow("base cost", Fmt(plan.BaseCost));
        table.AddRow("predicted (eq. 3)", Fmt(plan.PredictedCost));
        table.AddRow("measured", $"{Fmt(plan.MeasuredCost)} ({plan.RelativeError:+0.0%;-0.0%} vs target)");
        table.AddRow("params / MACs", $"{plan.Params / 1e6:F3} M / {plan.Macs / 1e6:F1} M");
        if (specPath is not null) table.AddRow("spec", Markup.Escape(Path.GetFullPath(specPath)));
        AnsiConsole.Write(table);
    }
}
