namespace EfficientCnn.Bench;

/// <summary>Paths inside the source checkout the benchmark runs from.</summary>
internal static class Repository
{
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "EfficientCnn.MLNet.sln"))) return dir.FullName;
            return Directory.GetCurrentDirectory();
        }
    }

    /// <summary>The small real dataset shipped in the repository (public-domain clipart, 4 classes).</summary>
    public static string Clipart4 => Path.Combine(Root, "samples", "data", "clipart4");
}
