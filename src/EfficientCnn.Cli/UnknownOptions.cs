using System.Reflection;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli;

/// <summary>
/// Refuses options a command does not have, naming the nearest one it does: Spectre.Console.Cli, unless strict, binds
/// what it knows and leaves the rest unused, so <c>--epoch 1</c> ran the default 10 epochs and <c>--checkpiont ck</c>
/// saved nothing. Its own strict mode says "Unknown option" without a suggestion, hence this interceptor.
/// </summary>
internal sealed class UnknownOptions : ICommandInterceptor
{
    /// <inheritdoc />
    public void Intercept(CommandContext context, CommandSettings settings)
    {
        var unknown = context.Remaining.Parsed.Select(g => g.Key).FirstOrDefault();
        if (unknown is null) return;
        var valid = OptionNames(settings.GetType());
        // Spectre keys them as typed ("--epoch"); a bare name would be a value it could not place.
        string given = unknown.StartsWith('-') ? unknown : "--" + unknown;
        string? nearest = Nearest(given, valid);
        throw new CommandParseFailure(nearest is null
            ? $"unknown option '{given}' for '{context.Name}'; see efficientcnn {context.Name} --help."
            : $"unknown option '{given}' for '{context.Name}'; did you mean '{nearest}'?");
    }

    /// <summary>Every option a settings type declares, as typed on the command line (<c>--name</c>, <c>-n</c>).</summary>
    public static IReadOnlyList<string> OptionNames(Type settings) =>
        settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
            .Where(a => a is not null)
            .SelectMany(a => a!.LongNames.Select(n => "--" + n).Concat(a.ShortNames.Select(n => "-" + n)))
            .ToArray();

    /// <summary>The valid option closest to <paramref name="given"/> in edit distance, when close enough to be a typo.</summary>
    public static string? Nearest(string given, IReadOnlyList<string> valid)
    {
        var best = valid.Select(v => (Name: v, Distance: EditDistance(given, v))).OrderBy(p => p.Distance).ThenBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault();
        // A third of the name may differ ("--epoch" for "--epochs", "--checkpiont" for "--checkpoint"); beyond that a
        // suggestion is a guess that misleads more than it helps.
        return best.Name is not null && best.Distance <= Math.Max(2, given.Length / 3) ? best.Name : null;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        var current = new int[b.Length + 1];
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}

/// <summary>A command line that cannot run as typed (an unknown option); exit code 1.</summary>
internal sealed class CommandParseFailure(string message) : Exception(message);
