using EfficientCnn.Backbones.Runtime;
using EfficientCnn.Cli;

if (ScalarLifetimeWorkaround.RunInChildIfNeeded(args) is { } exitCode) return exitCode;
TorchRuntime.Configure();
return CliApp.Create().Run(args);
