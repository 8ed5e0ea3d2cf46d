using EfficientCnn.Samples;
using Microsoft.ML;
using NUnit.Framework;

namespace EfficientCnn.Tests;

/// <summary>The samples read split.csv with ML.NET's text loader (RFC 4180 quoting), not by splitting lines on commas.</summary>
public sealed class SampleDataTests
{
    [Test]
    public void SplitsOfClipart4LoadWithAbsolutePathsAndLabels()
    {
        var ml = new MLContext(0);
        var lines = File.ReadAllLines(Path.Combine(TrainingFixtures.Clipart4, "split.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        foreach (var split in new[] { "train", "test" })
        {
            var rows = ml.Data.CreateEnumerable<ImageRow>(SampleData.Load(ml, TrainingFixtures.Clipart4, split), reuseRowObject: false).ToArray();
            Assert.That(rows, Has.Length.EqualTo(lines.Count(f => f[2] == split)).And.Length.GreaterThan(0));
            Assert.That(rows.Select(r => r.ImagePath), Is.All.Matches<string>(p => Path.IsPathRooted(p) && File.Exists(p)));
            Assert.That(rows.Select(r => r.Label).Distinct(), Is.EquivalentTo(new[] { "animals", "food", "people", "transportation" }));
        }
    }

    [Test]
    public void QuotedFieldsWithCommasAndQuotesAreReadAsWritten()
    {
        string folder = TrainingFixtures.TempFolder("sample-csv");
        try
        {
            File.WriteAllText(Path.Combine(folder, "split.csv"),
                "path,label,split\n\"a, b/x.png\",cats,train\n\"say \"\"hi\"\".png\",\"dogs, big\",train\nplain.png,cats,test\n");
            var ml = new MLContext(0);
            var rows = ml.Data.CreateEnumerable<ImageRow>(SampleData.Load(ml, folder, "train"), reuseRowObject: false).ToArray();
            Assert.That(rows.Select(r => Path.GetRelativePath(folder, r.ImagePath)), Is.EqualTo(new[] { "a, b/x.png", "say \"hi\".png" }));
            Assert.That(rows.Select(r => r.Label), Is.EqualTo(new[] { "cats", "dogs, big" }));
        }
        finally
        {
            TrainingFixtures.DeleteQuietly(folder);
        }
    }
}
