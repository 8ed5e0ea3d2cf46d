using EfficientCnn.Backbones.Runtime;

namespace EfficientCnn.Backbones.Imaging;

/// <summary>
/// The image files under a folder, sub-folders included. Symbolic links are followed (a class folder may be a link),
/// but every real folder is walked once, never one above the folder walked, and every real file listed once: .NET's
/// recursive enumeration followed a link back to an ancestor round and round, so 20 images became 574 predict rows
/// and a loop under one class folder labelled another class's images as its own.
/// </summary>
public static class ImageFiles
{
    /// <summary>File extensions read as images (case-insensitive).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    /// <summary>Whether <paramref name="path"/> has an image extension.</summary>
    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>The image files under <paramref name="directory"/>, each real file once, sorted ordinally by path.</summary>
    public static string[] Under(string directory)
    {
        var files = new List<string>();
        var seenFiles = new HashSet<string>(StringComparer.Ordinal);
        string root = RealPaths.Of(directory);
        var seenFolders = new HashSet<string>(StringComparer.Ordinal) { root };
        // A link to a folder above the root is a loop back into it (and, under a class folder, into the other classes).
        bool AboveRoot(string real) => root.StartsWith(real.EndsWith('/') ? real : real + "/", StringComparison.Ordinal);
        var pending = new Stack<string>();
        pending.Push(directory);
        while (pending.TryPop(out var folder))
        {
            foreach (var file in Directory.EnumerateFiles(folder))
                if (IsImage(file) && seenFiles.Add(RealPaths.Of(file))) files.Add(file);
            foreach (var sub in Directory.EnumerateDirectories(folder))
                if (RealPaths.Of(sub) is var real && !AboveRoot(real) && seenFolders.Add(real)) pending.Push(sub);
        }
        files.Sort(StringComparer.Ordinal);
        return files.ToArray();
    }
}
