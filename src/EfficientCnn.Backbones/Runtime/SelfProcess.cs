using System.Diagnostics;
using System.Reflection;

namespace EfficientCnn.Backbones.Runtime;

/// <summary>Starting the running program again (benchmark children, a CLI command rerun with other runtime settings).</summary>
public static class SelfProcess
{
    /// <summary>
    /// A start description that runs this program again with <paramref name="args"/>: its apphost, or under
    /// <c>dotnet program.dll</c> the host with <paramref name="entryAssembly"/>'s path first.
    /// </summary>
    /// <exception cref="InvalidOperationException">The process path is unknown.</exception>
    public static ProcessStartInfo StartInfo(Assembly entryAssembly, IEnumerable<string> args)
    {
        ArgumentNullException.ThrowIfNull(entryAssembly);
        ArgumentNullException.ThrowIfNull(args);
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("the path of the running program is unknown.");
        var start = new ProcessStartInfo(self) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(entryAssembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        return start;
    }
}
