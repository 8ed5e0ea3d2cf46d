using System.Text;
using EfficientCnn.Backbones.Training;

namespace EfficientCnn.Cli.Plumbing;

/// <summary>Reads the image list of <c>efficientcnn pack --input</c>: a folder, a text list or a CSV with a path column.</summary>
internal static class PackInputs
{
    /// <summary>The image paths, in the order given (a folder's sorted ordinally); relative entries resolved against the list's folder.</summary>
    public static IReadOnlyList<string> Read(string input)
    {
        if (Directory.Exists(input))
        {
            var found = Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
                .Where(f => ImageDataset.ImageExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Select(Path.GetFullPath).Order(StringComparer.Ordinal).ToArray();
            return found.Length > 0 ? found
                : throw new ArgumentException($"--input '{input}' holds no images ({string.Join(", ", ImageDataset.ImageExtensions)}).", "input");
        }
        if (!File.Exists(input)) throw new ArgumentException($"--input '{input}' is neither a folder nor a file.", "input");
        string root = Path.GetDirectoryName(Path.GetFullPath(input))!;
        var paths = input.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? CsvPaths(input) : TextPaths(input);
        var resolved = paths.Select(p => Path.GetFullPath(Path.IsPathRooted(p) ? p : Path.Combine(root, p))).ToArray();
        return resolved.Length > 0 ? resolved : throw new InvalidDataException($"--input '{input}' lists no images.");
    }

    private static IEnumerable<string> TextPaths(string file) =>
        File.ReadLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'));

    private static List<string> CsvPaths(string file)
    {
        using var reader = new StreamReader(file, Encoding.UTF8);
        var header = SplitCsvLine(reader.ReadLine() ?? throw new InvalidDataException($"CSV file '{file}' is empty: expected a header with a 'path' column."));
        int column = header.FindIndex(h => string.Equals(h.Trim(), "path", StringComparison.OrdinalIgnoreCase));
        if (column < 0) throw new InvalidDataException($"CSV file '{file}' line 1: no 'path' column in '{string.Join(",", header)}'.");
        var paths = new List<string>();
        int lineNumber = 1;
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var fields = SplitCsvLine(line);
            if (fields.Count <= column || fields[column].Trim().Length == 0)
                throw new InvalidDataException($"CSV file '{file}' line {lineNumber}: no path in column {column + 1}.");
            paths.Add(fields[column].Trim());
        }
        return paths;
    }

    /// <summary>Splits one CSV line (RFC 4180 quoting: "a,b" and "" inside quotes); fields do not span lines.</summary>
    internal static List<string> SplitCsvLine(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return fields;
    }
}
