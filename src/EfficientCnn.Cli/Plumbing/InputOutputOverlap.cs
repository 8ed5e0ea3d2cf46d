using EfficientCnn.Backbones.Runtime;

namespace EfficientCnn.Cli.Plumbing;

/// <summary>
/// Refuses an output that is one of the command's inputs, before any work: <c>train --data d/split.csv --output
/// d/split.csv</c> replaced the CSV with a zip, <c>predict --output</c> = the model or an image overwrote it. Paths are
/// compared after resolving symbolic links (the file's and its folders'), so <c>./x</c>, <c>/abs/x</c> and a link to x
/// are one file.
/// </summary>
internal static class InputOutputOverlap
{
    /// <summary>Throws when <paramref name="output"/> (given as <c>--<paramref name="outputOption"/></c>) is one of <paramref name="inputs"/>.</summary>
    /// <param name="output">The path the command will write.</param>
    /// <param name="outputOption">Its option name, without dashes.</param>
    /// <param name="inputs">Paths the command reads, each with the option (or what) it came from.</param>
    /// <exception cref="ArgumentException">The output is an input (both named).</exception>
    public static void Refuse(string? output, string outputOption, params IEnumerable<(string? Path, string What)> inputs)
    {
        if (string.IsNullOrWhiteSpace(output)) return;
        string target = RealPaths.Of(output);
        foreach (var (path, what) in inputs)
        {
            if (string.IsNullOrWhiteSpace(path)) continue;
            if (string.Equals(RealPaths.Of(path), target, StringComparison.Ordinal))
                throw new ArgumentException($"--{outputOption} '{output}' is {what} '{path}'{(target == Path.GetFullPath(path) ? "" : $" (both are {target})")}: " +
                                            "writing it would destroy the input; choose another output path.", outputOption);
        }
    }
}
