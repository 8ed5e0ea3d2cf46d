using System.Diagnostics;
using System.Globalization;

namespace EfficientCnn.Backbones.Runtime;

/// <summary>
/// Scratch folders in the temporary folder named after the process that owns them
/// (<c>efficientcnn-train-PID-GUID</c>), so that one left by a killed run (SIGKILL, power loss: no chance to clean
/// up) is recognised as orphaned and deleted by the next run.
/// </summary>
public static class TemporaryFolders
{
    /// <summary>Prefix of the checkpoint folders of time-budgeted training (BackboneClassifierTraining).</summary>
    public const string TrainPrefix = "efficientcnn-train-";

    /// <summary>A new folder path (not created) owned by this process.</summary>
    public static string NewPath(string prefix) =>
        Path.Combine(Path.GetTempPath(), $"{prefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}");

    /// <summary>Deletes the folders with <paramref name="prefix"/> whose owning process is gone; returns how many.</summary>
    public static int DeleteOrphans(string prefix)
    {
        int deleted = 0;
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), prefix + "*"))
        {
            string rest = Path.GetFileName(folder)[prefix.Length..];
            if (!int.TryParse(rest.Split('-')[0], NumberStyles.None, CultureInfo.InvariantCulture, out int owner) || IsRunning(owner)) continue;
            try
            {
                Directory.Delete(folder, recursive: true);
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // another user's, or in use: not ours to force
        }
        return deleted;
    }

    private static bool IsRunning(int pid)
    {
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid}");
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; }
    }
}
