using EfficientCnn.Backbones.Runtime;
using NUnit.Framework;

[assembly: Parallelizable(ParallelScope.None)]

namespace EfficientCnn.Tests;

/// <summary>Applies the libtorch CPU settings before any test creates a tensor.</summary>
[SetUpFixture]
public sealed class TestSetup
{
    // One intra-op thread: the suite is dominated by tiny models (many small ops), where a second spinning OpenMP
    // thread buys little on 2 cores and, when anything else competes for the CPU, makes steps 5-10x slower.
    [OneTimeSetUp]
    public void ConfigureTorch() => TorchRuntime.Configure(threads: 1);
}
