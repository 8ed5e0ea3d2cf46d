using System.Runtime.InteropServices;

namespace EfficientCnn.Cli.Commands;

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
        string target = RealPath(output);
        foreach (var (path, what) in inputs)
        {
            if (string.IsNullOrWhiteSpace(path)) continue;
            if (string.Equals(RealPath(path), target, StringComparison.Ordinal))
                throw new ArgumentException($"--{outputOption} '{output}' is {what} '{path}'{(target == Path.GetFullPath(path) ? "" : $" (both are {target})")}: " +
                                            "writing it would destroy the input; choose another output path.", outputOption);
        }
    }

    /// <summary>
    /// The canonical absolute path: symbolic links resolved in every component that exists; a part that does not exist
    /// yet (an output to create) is appended as given.
    /// </summary>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        if (full.Length == 0) return Path.DirectorySeparatorChar.ToString();
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return full;
        string existing = full, rest = "";
        while (!File.Exists(existing) && !Directory.Exists(existing))
        {
            string? parent = Path.GetDirectoryName(existing);
            if (parent is null) return full;
            rest = Path.Combine(Path.GetFileName(existing), rest);
            existing = parent;
        }
        string resolved = Realpath(existing) ?? existing;
        return rest.Length == 0 ? resolved : Path.Combine(resolved, rest).TrimEnd(Path.DirectorySeparatorChar);
    }

    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    private static extern IntPtr NativeRealpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void Free(IntPtr pointer);

    private static string? Realpath(string path)
    {
        IntPtr result = NativeRealpath(path, IntPtr.Zero);
        if (result == IntPtr.Zero) return null;
        try { return Marshal.PtrToStringUTF8(result); }
        finally { Free(result); }
    }
}
