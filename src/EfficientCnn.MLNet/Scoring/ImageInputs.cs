using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Training;

namespace EfficientCnn.MLNet.Scoring;

/// <summary>The images a scoring run reads: one image file, a folder (recursively), or a list file (one path a line).</summary>
public static class ImageInputs
{
    /// <summary>
    /// The image files of a folder (recursively, sorted by ordinal path), the paths of a <c>.txt</c> list (in list
    /// order; relative paths are resolved against the list's folder; blank lines and lines starting with <c>#</c> are
    /// skipped), or the single file given. Errors name <paramref name="option"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Neither a file nor a folder, or a folder or list without images.</exception>
    public static string[] List(string input, string option = "input")
    {
        if (File.Exists(input))
            return input.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) ? FromList(input, option) : [input];
        if (!Directory.Exists(input))
            throw new ArgumentException($"--{option} '{input}' is neither an image file, a .txt list of images nor a folder.", option);
        var files = ImageFiles.Under(input); // each real file once: symbolic-link loops are not followed
        if (files.Length == 0)
            throw new ArgumentException($"--{option} '{input}' holds no images ({string.Join(", ", ImageDataset.ImageExtensions)}).", option);
        return files;
    }

    private static string[] FromList(string list, string option)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(list))!;
        var paths = File.ReadLines(list).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => Path.IsPathRooted(l) ? l : Path.Combine(folder, l)).ToArray();
        if (paths.Length == 0) throw new ArgumentException($"--{option} '{list}' lists no images (one path a line).", option);
        return paths;
    }
}
