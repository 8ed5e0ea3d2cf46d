using EfficientCnn.Backbones.Runtime;
using EfficientCnn.Cli;

TorchRuntime.Configure();
return CliApp.Create().Run(args);
