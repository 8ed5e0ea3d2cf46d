using EfficientCnn.Backbones.Runtime;
using NUnit.Framework;

[assembly: Parallelizable(ParallelScope.None)]

namespace EfficientCnn.Tests;

/// <summary>Applies the libtorch CPU settings before any test creates a tensor.</summary>
[SetUpFixture]
public sealed class TestSetup
{
    [OneTimeSetUp]
    public void ConfigureTorch() => TorchRuntime.Configure();
}
