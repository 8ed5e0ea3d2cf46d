using EfficientCnn.Cli;
using NUnit.Framework;

namespace EfficientCnn.Tests;

public sealed class CliTests
{
    [TestCase]
    [TestCase("zoo")]
    [TestCase("export")]
    [TestCase("inspect")]
    [TestCase("check-onnx")]
    [TestCase("pack")]
    public void HelpWorksForTheToolAndEveryCommand(params string[] command)
    {
        // Spectre markup in a description (e.g. "[N,3,H,W]") would make --help fail at run time.
        int code = CliRunner.Run(out var help, [.. command, "--help"]);
        Assert.That(code, Is.EqualTo(0), help);
        Assert.That(help, Does.Contain("USAGE"));
        if (command.Length == 0)
            foreach (var name in new[] { "zoo", "export", "inspect", "check-onnx", "pack" })
                Assert.That(help, Does.Contain(name));
    }

    [Test]
    public void TheTrainingCommandsAndOnlyTheyDeclareTheScalarLifetimeWorkaround()
    {
        string[] commands = ["zoo", "export", "inspect", "check-onnx", "pretrain", "fractals", "pack", "distill", "scale", "search", "train", "evaluate", "predict", "silo"];
        Assert.That(commands.Select(CliApp.CommandType), Has.None.Null);
        Assert.That(commands.Where(c => ScalarLifetimeWorkaround.IsDeclaredBy(CliApp.CommandType(c))),
            Is.EquivalentTo(new[] { "train", "pretrain", "distill", "search", "scale" }));
    }
}
