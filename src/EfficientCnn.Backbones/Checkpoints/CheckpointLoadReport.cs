using System.Text;

namespace EfficientCnn.Backbones.Checkpoints;

/// <summary>On-disk format of a checkpoint, detected from the file's first bytes (not its extension).</summary>
public enum CheckpointFormat
{
    /// <summary>PyTorch's zip format written by <c>torch.save</c> (PyTorch 1.6+), usually <c>.pth</c>/<c>.pt</c>/<c>.bin</c>.</summary>
    PyTorch,
    /// <summary>Hugging Face safetensors: 8-byte little-endian header length, JSON header, raw tensor bytes.</summary>
    Safetensors,
}

/// <summary>A key present in both checkpoint and module whose shapes differ.</summary>
/// <param name="Key">State-dict name (after prefix stripping).</param>
/// <param name="CheckpointShape">Shape stored in the file.</param>
/// <param name="ModelShape">Shape the module expects.</param>
public sealed record ShapeMismatch(string Key, long[] CheckpointShape, long[] ModelShape)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Key}: checkpoint {CheckpointLoadReport.FormatShape(CheckpointShape)} vs model {CheckpointLoadReport.FormatShape(ModelShape)}";
}

/// <summary>What <see cref="StateDictLoader.Load"/> did: which keys were copied and which did not fit.</summary>
public sealed class CheckpointLoadReport
{
    /// <summary>Most names listed per category in <see cref="ToString"/>, so a wholly wrong file gives a readable message.</summary>
    public const int MaxListedPerCategory = 100;

    internal CheckpointLoadReport(string path, CheckpointFormat format, string? wrapperKey, string? strippedPrefix,
        IReadOnlyList<string> loaded, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> mismatched, IReadOnlyList<string> defaulted)
    {
        Path = path;
        Format = format;
        WrapperKey = wrapperKey;
        StrippedPrefix = strippedPrefix;
        LoadedKeys = loaded;
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
        MismatchedKeys = mismatched;
        DefaultedKeys = defaulted;
    }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>Detected file format.</summary>
    public CheckpointFormat Format { get; }

    /// <summary>Key of the wrapping dict the weights came from (<c>state_dict</c>, <c>model</c>, …), or null for a bare state dict.</summary>
    public string? WrapperKey { get; }

    /// <summary>Prefix removed from every key (<c>module.</c> from DataParallel/DDP), or null.</summary>
    public string? StrippedPrefix { get; }

    /// <summary>Module keys that were copied from the checkpoint.</summary>
    public IReadOnlyList<string> LoadedKeys { get; }

    /// <summary>Module keys absent from the checkpoint (left as they were).</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Checkpoint keys the module does not have (ignored).</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>Keys in both whose shapes differ (not copied).</summary>
    public IReadOnlyList<ShapeMismatch> MismatchedKeys { get; }

    /// <summary>
    /// BatchNorm <c>num_batches_tracked</c> buffers absent from the checkpoint. Like PyTorch's BatchNorm loader
    /// (which fills them in for old and safetensors checkpoints) they are not an error; the module keeps its value.
    /// They only matter for BN with momentum=None.
    /// </summary>
    public IReadOnlyList<string> DefaultedKeys { get; }

    /// <summary>True when every module key was loaded and nothing in the file was left over.</summary>
    public bool IsExactMatch => MissingKeys.Count == 0 && UnexpectedKeys.Count == 0 && MismatchedKeys.Count == 0;

    /// <summary>Multi-line summary listing every missing, unexpected and mismatched key (capped per category).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append($"Checkpoint '{Path}' ({Format}");
        if (WrapperKey is not null) sb.Append($", weights under '{WrapperKey}'");
        if (StrippedPrefix is not null) sb.Append($", prefix '{StrippedPrefix}' stripped");
        sb.Append($"): {LoadedKeys.Count} matched, {MissingKeys.Count} missing, {UnexpectedKeys.Count} unexpected, {MismatchedKeys.Count} shape mismatch(es).");
        AppendList(sb, "Missing keys (in the model, not in the file)", MissingKeys);
        AppendList(sb, "Unexpected keys (in the file, not in the model)", UnexpectedKeys);
        AppendList(sb, "Shape mismatches", MismatchedKeys.Select(m => m.ToString()).ToList());
        return sb.ToString();
    }

    private static void AppendList(StringBuilder sb, string title, IReadOnlyList<string> items)
    {
        if (items.Count == 0) return;
        sb.AppendLine().Append(title).Append(':');
        foreach (var item in items.Take(MaxListedPerCategory)) sb.AppendLine().Append("  ").Append(item);
        if (items.Count > MaxListedPerCategory) sb.AppendLine().Append($"  ... and {items.Count - MaxListedPerCategory} more");
    }

    internal static string FormatShape(long[] shape) => "[" + string.Join(", ", shape) + "]";
}

/// <summary>
/// A strict load found missing, unexpected or mis-shaped keys. The message lists them and names the file;
/// the module was left unchanged.
/// </summary>
public sealed class CheckpointMismatchException : Exception
{
    /// <summary>Creates the exception from the report of the failed load.</summary>
    public CheckpointMismatchException(CheckpointLoadReport report)
        : base("Strict load failed: the checkpoint does not match the module; nothing was loaded. " + report)
    {
        Report = report;
    }

    /// <summary>The comparison of file and module (its <see cref="CheckpointLoadReport.LoadedKeys"/> are the keys that matched; none was applied).</summary>
    public CheckpointLoadReport Report { get; }

    /// <summary>The checkpoint file.</summary>
    public string Path => Report.Path;
}
