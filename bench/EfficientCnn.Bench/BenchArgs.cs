using System.Globalization;

namespace EfficientCnn.Bench;

/// <summary>"command --key value ..." parsed into a command and options; child processes get the same form back.</summary>
internal sealed class BenchArgs
{
    private readonly Dictionary<string, string> options;

    private BenchArgs(string command, Dictionary<string, string> options)
    {
        Command = command;
        this.options = options;
    }

    public string Command { get; }

    public static BenchArgs Parse(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"expected '--option value', got '{args[i]}'.", args[i]);
            options[args[i][2..]] = args[++i];
        }
        return new BenchArgs(args.Length > 0 ? args[0] : "", options);
    }

    public string? Get(string name) => options.GetValueOrDefault(name);

    public string Required(string name) => Get(name) ?? throw new ArgumentException($"--{name} is required for '{Command}'.", name);

    public int Int(string name, int fallback) =>
        Get(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
