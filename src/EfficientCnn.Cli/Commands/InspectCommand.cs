using System.ComponentModel;
using System.Text.Json;
using EfficientCnn.Backbones.Onnx;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary><c>efficientcnn inspect</c>: inputs, outputs, metadata, parameter count and operator histogram of an ONNX file.</summary>
public sealed class InspectCommand : Command<InspectCommand.Settings>
{
    /// <summary>Options of the inspect command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>The ONNX file.</summary>
        [CommandArgument(0, "<FILE>")]
        [Description("The .onnx file.")]
        public string File { get; init; } = "";

        /// <summary>Print JSON.</summary>
        [CommandOption("--json")]
        [Description("Print only JSON.")]
        public bool Json { get; init; }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(settings.Json, () =>
        {
            var info = OnnxModelInfo.Read(settings.File);
            if (settings.Json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(info, OnnxCommandHelpers.Json));
                return 0;
            }
            AnsiConsole.MarkupLineInterpolated($"[bold]{Path.GetFullPath(settings.File)}[/]: IR {info.IrVersion}, opset {info.Opset}, producer '{info.Producer}'");
            AnsiConsole.MarkupLineInterpolated($"{info.Nodes} nodes, {info.Initializers} initializers, {info.Parameters:N0} parameters");
            var io = new Table().AddColumns("", "name", "type", "shape");
            foreach (var i in info.Inputs) io.AddRow("input", Markup.Escape(i.Name), i.ElementType, Markup.Escape($"[{string.Join(",", i.Dims)}]"));
            foreach (var o in info.Outputs) io.AddRow("output", Markup.Escape(o.Name), o.ElementType, Markup.Escape($"[{string.Join(",", o.Dims)}]"));
            AnsiConsole.Write(io);
            if (info.Metadata.Count > 0)
            {
                var meta = new Table().AddColumns("metadata", "value");
                foreach (var (k, v) in info.Metadata) meta.AddRow(Markup.Escape(k), Markup.Escape(v));
                AnsiConsole.Write(meta);
            }
            var ops = new Table().AddColumns("operator", "nodes");
            foreach (var (k, v) in info.Operators) ops.AddRow(Markup.Escape(k), v.ToString());
            AnsiConsole.Write(ops);
            return 0;
        });
}
