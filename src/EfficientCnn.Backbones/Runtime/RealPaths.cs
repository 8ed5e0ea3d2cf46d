using System.Runtime.InteropServices;

namespace EfficientCnn.Backbones.Runtime;

/// <summary>Canonical paths: absolute, with every symbolic link resolved, so two names of one file compare equal.</summary>
public static class RealPaths
{
    /// <summary>
    /// The canonical absolute path of <paramref name="path"/>: symbolic links resolved in every component that exists;
    /// a tail that does not exist yet (an output to create) is appended as given. Elsewhere than Linux and macOS, the
    /// full path.
    /// </summary>
    public static string Of(string path)
    {
        string full = Path.GetFullPath(path);
        if (full.Length > 1) full = full.TrimEnd(Path.DirectorySeparatorChar);
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return full;
        string existing = full, rest = "";
        while (!File.Exists(existing) && !Directory.Exists(existing))
        {
            string? parent = Path.GetDirectoryName(existing);
            if (parent is null) return full;
            rest = rest.Length == 0 ? Path.GetFileName(existing) : Path.Combine(Path.GetFileName(existing), rest);
            existing = parent;
        }
        string resolved = Realpath(existing) ?? existing;
        return rest.Length == 0 ? resolved : Path.Combine(resolved, rest);
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
