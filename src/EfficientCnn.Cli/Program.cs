using EfficientCnn.Backbones.Runtime;
using EfficientCnn.Cli.Commands;
using Spectre.Console.Cli;

TorchRuntime.Configure();
var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("efficientcnn");
    config.AddCommand<ZooCommand>("zoo")
        .WithDescription("List every backbone variant with its parameters, multiply-accumulates, feature dimension and resolution.")
        .WithExample("zoo", "--json", "--classes", "1000", "--resolution", "224");
});
return app.Run(args);
