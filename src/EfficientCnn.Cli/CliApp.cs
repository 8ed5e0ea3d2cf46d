using System.Collections.Concurrent;
using EfficientCnn.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli;

/// <summary>The <c>efficientcnn</c> command set; one definition shared by the program and the tests.</summary>
public static class CliApp
{
    /// <summary>Console width when the output is a file or a pipe: wide enough that no table wraps.</summary>
    private const int UnwrappedWidth = 1000;

    // Filled by Create: the same names and classes on every call.
    private static readonly ConcurrentDictionary<string, Type> commandTypes = new();

    /// <summary>The command class registered under <paramref name="name"/>, or null; usable before the app runs.</summary>
    internal static Type? CommandType(string name)
    {
        if (commandTypes.IsEmpty) Create(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) }));
        return commandTypes.GetValueOrDefault(name);
    }

    private static string Registered<TCommand>(string name)
    {
        commandTypes[name] = typeof(TCommand);
        return name;
    }

    /// <summary>Creates the configured command-line application.</summary>
    /// <param name="console">Where help and errors go; null is the process console (tests pass a recording one).</param>
    public static CommandApp Create(IAnsiConsole? console = null)
    {
        var app = new CommandApp();
        var target = console ?? AnsiConsole.Console;
        // Spectre assumes 80 columns when the output is not a terminal and wraps table cells to fit, which turns names
        // into fragments in a log file or CI; tables there take the width they need instead.
        if (!target.Profile.Out.IsTerminal) target.Profile.Width = UnwrappedWidth;
        app.Configure(config =>
        {
            config.SetApplicationName("efficientcnn");
            // EFFICIENTCNN_DEBUG=1: unexpected errors surface with their full .NET stack trace (for bug reports).
            if (Environment.GetEnvironmentVariable("EFFICIENTCNN_DEBUG") is "1" or "true") config.PropagateExceptions();
            else config.SetExceptionHandler((e, _) => CliErrors.Handle(e, target));
            config.SetInterceptor(new UnknownOptions());
            if (console is not null) config.ConfigureConsole(console);
            config.AddCommand<ZooCommand>(Registered<ZooCommand>("zoo"))
                .WithDescription("List every backbone variant with its parameters, multiply-accumulates, feature dimension and resolution.")
                .WithExample("zoo", "--json", "--classes", "1000", "--resolution", "224");
            config.AddCommand<ExportCommand>(Registered<ExportCommand>("export"))
                .WithDescription("Export a backbone to ONNX (opset 17, input [[N,3,H,W]], outputs features and logits).")
                .WithExample("export", "--backbone", "resnet18", "--classes", "10", "--output", "resnet18.onnx");
            config.AddCommand<InspectCommand>(Registered<InspectCommand>("inspect"))
                .WithDescription("Show an ONNX file's inputs, outputs, metadata, parameter count and operator histogram.")
                .WithExample("inspect", "resnet18.onnx", "--json");
            config.AddCommand<CheckOnnxCommand>(Registered<CheckOnnxCommand>("check-onnx"))
                .WithDescription("Import an ONNX file into TorchSharp and compare it with ONNX Runtime on a random batch (exit 2 when they differ).")
                .WithExample("check-onnx", "resnet18.onnx", "--resolution", "224", "--json");
            config.AddCommand<PretrainCommand>(Registered<PretrainCommand>("pretrain"))
                .WithDescription("Pretrain a zoo backbone on labelled images (checkpoint per epoch, resumable) and export it as an ONNX backbone.")
                .WithExample("pretrain", "--data", "clipart/", "--backbone", "mobilenet_v2_0.5", "--resolution", "112", "--epochs", "30", "--output", "models/my_backbone.onnx", "--checkpoint", "ckpt/");
            config.AddCommand<FractalsCommand>(Registered<FractalsCommand>("fractals"))
                .WithDescription("Write a FractalDB-style database (fractal categories from iterated function systems) as class folders, to pretrain without natural images.")
                .WithExample("fractals", "--classes", "100", "--per-class", "100", "--size", "128", "--seed", "0", "--out", "fractals/");
            config.AddCommand<PackCommand>(Registered<PackCommand>("pack"))
                .WithDescription("Decode images once into a packed file of S×S uint8 RGB (shorter side to S, centre crop), read by memory mapping when distilling on a large corpus.")
                .WithExample("pack", "--input", "corpus/corpus.csv", "--size", "144", "--output", "corpus144.pack");
            config.AddCommand<DistillCommand>(Registered<DistillCommand>("distill"))
                .WithDescription("Distil an ONNX teacher into a student by function matching on a packed corpus (teacher and student see the same augmented view), in resumable rounds, with linear probes on labelled sets.")
                .WithExample("distill", "--teacher", "ResNet18.onnx", "--teacher-mean-image", "ResNetPreprocess.onnx", "--data", "corpus144.pack", "--factorize-teacher", "0.5,0.5,0.5,0.25", "--resolution", "160", "--checkpoint", "ckpt/", "--output", "student.onnx");
            config.AddCommand<ScaleCommand>(Registered<ScaleCommand>("scale"))
                .WithDescription("Compound-scale a base (zoo variant or architecture spec) to a MACs, params or measured-latency budget; report φ and the costs.")
                .WithExample("scale", "--base", "mnasnet_a1", "--target-macs", "600M", "--json");
            config.AddCommand<SearchCommand>(Registered<SearchCommand>("search"))
                .WithDescription("Latency-aware architecture search (MNASNet-style) on your images and this machine's latency; checkpoints and resumes.")
                .WithExample("search", "--data", "images/", "--target-latency-ms", "5", "--time", "30m", "--out", "search-out");
            config.AddCommand<TrainCommand>(Registered<TrainCommand>("train"))
                .WithDescription("Train an image classifier on a folder of class folders (or a CSV) and save an ML.NET model zip (input ImagePath; outputs PredictedLabel, Score). --backbone auto tries several backbones within the time budget.")
                .WithExample("train", "--data", "images/", "--output", "model.zip", "--time", "10m")
                .WithExample("train", "--data", "images/", "--output", "model.zip", "--backbone", "auto", "--time", "5m", "--max-latency-ms", "10", "--report", "report/")
                .WithExample("train", "--data", "split.csv", "--output", "model.zip", "--backbone", "mobilenet_v2_0.5", "--epochs", "5", "--resolution", "128");
            config.AddCommand<EvaluateCommand>(Registered<EvaluateCommand>("evaluate"))
                .WithDescription("Evaluate a model zip on labelled images: micro/macro accuracy, log-loss, per-class precision/recall, confusion matrix, images/s.")
                .WithExample("evaluate", "--model", "model.zip", "--data", "test/", "--json")
                .WithExample("evaluate", "--model", "model.zip", "--data", "split.csv", "--split", "test", "--report", "report/");
            config.AddCommand<PredictCommand>(Registered<PredictCommand>("predict"))
                .WithDescription("Classify image files with a model zip and write a CSV path,predictedLabel,score; unreadable files are reported and skipped.")
                .WithExample("predict", "--model", "model.zip", "--input", "photos/", "--output", "predictions.csv")
                .WithExample("predict", "--model", "model.zip", "--input", "/shared/photos/", "--output", "/shared/predictions.csv", "--cluster", "redis://redis:6379");
            config.AddCommand<SiloCommand>(Registered<SiloCommand>("silo"))
                .WithDescription("Join a scoring cluster as a worker: score the shards of `predict --cluster` jobs (model loaded once per process); Ctrl-C/SIGTERM stops gracefully.")
                .WithExample("silo", "--cluster", "redis://redis:6379", "--threads", "4");
        });
        return app;
    }
}
