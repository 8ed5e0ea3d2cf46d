using EfficientCnn.Backbones.Runtime;
using EfficientCnn.Cli;

ParentWatch.DieWithParent();
if (ScalarLifetimeWorkaround.RunInChildIfNeeded(args) is { } exitCode) return exitCode;
TorchRuntime.Configure();
return CliApp.Create().Run(args);
