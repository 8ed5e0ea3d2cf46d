namespace EfficientCnn.Bench;

/// <summary>Prints results as a Markdown table, ready to paste into docs/benchmarks.md.</summary>
internal static class Table
{
    public static void Print(string title, string[] headers, IEnumerable<string[]> rows)
    {
        Console.WriteLine();
        Console.WriteLine($"### {title}");
        Console.WriteLine();
        Console.WriteLine("| " + string.Join(" | ", headers) + " |");
        Console.WriteLine("|" + string.Concat(headers.Select(_ => "---|")));
        foreach (var row in rows) Console.WriteLine("| " + string.Join(" | ", row) + " |");
        Console.WriteLine();
    }
}
