using System.Text.RegularExpressions;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>
/// The sub-namespaces of EfficientCnn.Backbones depend on each other one way (docs/architecture.md, "Engine internals"): a cycle such
/// as Architectures → Registry → Search → Architectures meant that none of them could be read or changed alone.
/// </summary>
public sealed partial class NamespaceLayeringTests
{
    private const string Root = "EfficientCnn.Backbones";

    [Test]
    public void BackbonesSubNamespacesHaveNoCycle()
    {
        var edges = SubNamespaceReferences(Path.Combine(TrainingFixtures.RepoRoot, "src", Root));
        Assert.That(edges.Keys, Does.Contain("Architectures").And.Contain("Registry").And.Contain("Search"), "the scan found the sources");
        var cycle = FindCycle(edges);
        Assert.That(cycle, Is.Null, cycle is null ? "" : "namespace cycle: " + string.Join(" -> ", cycle));
    }

    /// <summary>
    /// For each sub-namespace, the sub-namespaces its files name: in a using directive or as a qualified name
    /// (<c>Search.SearchedNetwork</c>, which resolves without a using inside EfficientCnn.Backbones.*).
    /// </summary>
    private static Dictionary<string, HashSet<string>> SubNamespaceReferences(string sourceFolder)
    {
        var files = Directory.EnumerateFiles(sourceFolder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f => File.ReadAllText(f))
            .Select(text => (Namespace: NamespaceLine().Match(text).Groups[1].Value, Text: text))
            .Where(f => f.Namespace.StartsWith(Root + ".", StringComparison.Ordinal))
            .Select(f => (Own: f.Namespace[(Root.Length + 1)..].Split('.')[0], f.Text))
            .ToList();
        var subNamespaces = files.Select(f => f.Own).ToHashSet();
        var edges = subNamespaces.ToDictionary(n => n, _ => new HashSet<string>());
        foreach (var (own, text) in files)
        {
            var code = LineComment().Replace(text, "");
            var named = UsingDirective().Matches(code).Select(m => m.Groups[1].Value)
                .Concat(QualifiedName().Matches(code).Select(m => m.Groups[1].Value));
            foreach (var other in named.Where(n => n != own && subNamespaces.Contains(n))) edges[own].Add(other);
        }
        return edges;
    }

    /// <summary>One cycle as a path that ends where it starts, or null.</summary>
    private static List<string>? FindCycle(Dictionary<string, HashSet<string>> edges)
    {
        var state = new Dictionary<string, int>(); // 1: on the current path, 2: done
        var path = new List<string>();
        List<string>? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (var next in edges[node].Order())
            {
                if (state.GetValueOrDefault(next) == 1) return [.. path.SkipWhile(n => n != next), next];
                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found) return found;
            }
            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
        foreach (var node in edges.Keys.Order())
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle) return cycle;
        return null;
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex NamespaceLine();

    // Doc comments (///) stay: a cref is a reference too.
    [GeneratedRegex(@"(?<!/)//(?!/).*")]
    private static partial Regex LineComment();

    [GeneratedRegex(@"^using\s+(?:static\s+)?EfficientCnn\.Backbones\.(\w+)", RegexOptions.Multiline)]
    private static partial Regex UsingDirective();

    [GeneratedRegex(@"(?<![\w.])(\w+)\.[A-Z]\w*")]
    private static partial Regex QualifiedName();
}
