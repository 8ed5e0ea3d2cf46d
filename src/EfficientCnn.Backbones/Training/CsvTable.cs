using CsvHelper;

namespace EfficientCnn.Backbones.Training;

/// <summary>One data row of a <see cref="CsvTable"/>.</summary>
/// <param name="Line">1-based line of the file where the row starts (a quoted field may span lines).</param>
/// <param name="Fields">The field values, unquoted.</param>
public sealed record CsvTableRow(long Line, IReadOnlyList<string> Fields);

/// <summary>
/// A whole CSV file read by the RFC 4180 rules (CsvHelper): quoted fields may hold commas, doubled quotes and line
/// breaks, as our own writers produce them (predict's <c>path,predictedLabel,score</c> quotes such paths). Every CSV
/// this project reads goes through here; splitting lines on commas dropped or mislabelled such rows.
/// </summary>
public sealed class CsvTable
{
    private CsvTable(string path, IReadOnlyList<string> header, IReadOnlyList<CsvTableRow> rows)
    {
        Path = path;
        Header = header;
        Rows = rows;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The column names of the first record, trimmed; empty for an empty file.</summary>
    public IReadOnlyList<string> Header { get; }

    /// <summary>The data records (empty lines skipped).</summary>
    public IReadOnlyList<CsvTableRow> Rows { get; }

    /// <summary>The index of the column named <paramref name="name"/> (ignoring case), or -1.</summary>
    public int Column(string name)
    {
        for (int i = 0; i < Header.Count; i++)
            if (Header[i].Equals(name, StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }

    /// <summary>Reads <paramref name="path"/> (UTF-8, comma-separated, first record the header).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Malformed quoting (the file and line are named).</exception>
    public static CsvTable Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CSV file '{path}' does not exist.", path);
        var options = CsvReaderOptions.Default with
        {
            Separator = ',', HasHeader = false, Mode = CsvMode.Rfc4180, MalformedData = CsvMalformedDataHandling.Throw,
            SkipEmptyLines = true, TrackLineNumbers = true,
        };
        try
        {
            using var reader = CsvReader.FromFile(path, options);
            string[]? header = null;
            var rows = new List<CsvTableRow>();
            while (reader.Read())
            {
                var fields = new string[reader.FieldCount];
                for (int i = 0; i < fields.Length; i++) fields[i] = reader.GetString(i) ?? "";
                if (header is null) header = fields.Select(f => f.Trim()).ToArray();
                else rows.Add(new CsvTableRow(reader.LineNumber, fields));
            }
            return new CsvTable(path, header ?? [], rows);
        }
        catch (CsvFormatException e)
        {
            throw new InvalidDataException($"CSV file '{path}'{(e.LineNumber > 0 ? $" line {e.LineNumber}" : "")}: {e.Message}", e);
        }
    }
}
