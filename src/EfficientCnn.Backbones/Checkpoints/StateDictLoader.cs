using System.Collections;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Checkpoints;

/// <summary>
/// Loads torchvision/timm weights into a zoo module by state-dict name. Our modules use torchvision's (or timm's)
/// names and shapes, so <c>torch.save(model.state_dict(), "x.pth")</c> or a <c>.safetensors</c> file from the
/// hub loads one to one.
/// </summary>
/// <remarks>
/// Accepted files (detected from their first bytes, not the extension):
/// <list type="bullet">
/// <item>PyTorch's zip format (<c>torch.save</c>, PyTorch 1.6+), read with TorchSharp.PyBridge's unpickler: a bare state
/// dict, or a training checkpoint dict holding it under <c>state_dict</c>, <c>model</c>, <c>model_state_dict</c> or
/// <c>module</c>. Whole pickled models (<c>torch.save(model)</c>) and the pre-1.6 legacy format are rejected with a
/// message saying how to re-save.</item>
/// <item>safetensors (F64/F32/F16/BF16/I64/I32/I16/I8/U8/BOOL).</item>
/// </list>
/// A <c>module.</c> prefix on every key (DataParallel/DDP) is stripped. Values are converted to the module's dtype
/// (e.g. F16/BF16 files into a float32 model) and copied into its existing parameters and buffers.
/// </remarks>
public static class StateDictLoader
{
    /// <summary>Keys under which training scripts (timm, torchvision references, Lightning-style) nest the weights, in priority order.</summary>
    public static readonly IReadOnlyList<string> WrapperKeys = ["state_dict", "model", "model_state_dict", "module"];

    /// <summary>The prefix DataParallel and DistributedDataParallel add to every key.</summary>
    public const string DataParallelPrefix = "module.";

    /// <summary>
    /// Loads the weights in <paramref name="path"/> into <paramref name="module"/> by name.
    /// </summary>
    /// <param name="module">Target module; its parameters and buffers are overwritten in place.</param>
    /// <param name="path">A PyTorch (<c>.pth</c>/<c>.pt</c>/<c>.bin</c>) or safetensors file.</param>
    /// <param name="strict">
    /// True: every module key must be in the file with the same shape and the file must hold no other key
    /// (BatchNorm <c>num_batches_tracked</c> may be absent, as in PyTorch), otherwise a
    /// <see cref="CheckpointMismatchException"/> listing the offending keys is thrown and the module is left unchanged.
    /// False: copy what matches, skip and report the rest.
    /// </param>
    /// <returns>Which keys were loaded, missing, unexpected or mis-shaped.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="CheckpointMismatchException">Strict load and the keys or shapes differ.</exception>
    /// <exception cref="InvalidDataException">The file is damaged, truncated, or in no supported format.</exception>
    public static CheckpointLoadReport Load(nn.Module module, string path, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        var (raw, format, wrapperKey) = ReadRaw(path);
        try
        {
            var (stateDict, prefix) = StripPrefix(raw);
            var report = Compare(module, stateDict, path, format, wrapperKey, prefix, out var toCopy);
            if (strict && !report.IsExactMatch) throw new CheckpointMismatchException(report);

            using (no_grad())
            {
                foreach (var (target, source) in toCopy)
                {
                    if (source.shape.SequenceEqual(target.shape))
                    {
                        target.copy_(source); // converts dtype, e.g. F16/BF16 file into a float32 model
                        continue;
                    }
                    // A 0-dim scalar stored as shape [1] (or the reverse); Compare checked both hold one element.
                    using var reshaped = source.reshape(target.shape);
                    target.copy_(reshaped);
                }
            }
            return report;
        }
        finally
        {
            foreach (var t in raw.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Reads the tensors of a checkpoint without a module: the state dict after unwrapping and stripping the
    /// <c>module.</c> prefix. The caller owns (and disposes) the tensors.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is damaged, truncated, or in no supported format.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        var (raw, _, _) = ReadRaw(path);
        return StripPrefix(raw).StateDict;
    }

    /// <summary>Detects the format of <paramref name="path"/> from its first bytes.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Neither a PyTorch zip checkpoint nor safetensors.</exception>
    public static CheckpointFormat DetectFormat(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"Checkpoint file '{full}' does not exist.", full);
        Span<byte> head = stackalloc byte[16];
        long length;
        int n;
        using (var fs = File.OpenRead(full))
        {
            length = fs.Length;
            n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        head = head[..n];
        if (n >= 4 && head[0] == 0x50 && head[1] == 0x4B && head[2] == 0x03 && head[3] == 0x04) return CheckpointFormat.PyTorch;
        if (SafetensorsReader.LooksLikeSafetensors(head, length)) return CheckpointFormat.Safetensors;
        if (n >= 2 && head[0] == 0x80 && head[1] <= 5)
            throw new InvalidDataException(
                $"Checkpoint '{full}' is a raw pickle (PyTorch's legacy pre-1.6 format), which is not supported; re-save it with torch.save(obj, path) from PyTorch 1.6 or later, or as safetensors.");
        throw new InvalidDataException(
            $"Checkpoint '{full}' ({length} bytes) is neither a PyTorch zip checkpoint (torch.save) nor a safetensors file; it may be truncated or corrupt.");
    }

    private static (Dictionary<string, Tensor> Raw, CheckpointFormat Format, string? WrapperKey) ReadRaw(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var format = DetectFormat(full);
        try
        {
            if (format == CheckpointFormat.Safetensors) return (SafetensorsReader.Read(full), format, null);
            Hashtable root;
            using (var stream = File.OpenRead(full))
                root = PyTorchUnpickler.UnpickleStateDict(stream);
            var (dict, wrapperKey) = Unwrap(root, full);
            return (dict, format, wrapperKey);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            // PyBridge/zip/pickle errors (truncated zip, missing data.pkl, unknown storage, whole pickled model, ...)
            throw new InvalidDataException($"Could not read checkpoint '{full}' ({format}): {e.Message}", e);
        }
        catch (InvalidDataException e) when (!e.Message.Contains(full, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"Could not read checkpoint '{full}' ({format}): {e.Message}", e);
        }
    }

    /// <summary>
    /// Finds the state dict in what <c>torch.load</c> returned: the root when it holds tensors, else the first
    /// <see cref="WrapperKeys"/> entry that does. Tensors outside the chosen dict (optimizer state, EMA) are disposed.
    /// </summary>
    private static (Dictionary<string, Tensor> StateDict, string? WrapperKey) Unwrap(Hashtable root, string path)
    {
        IDictionary chosen = root;
        string? wrapperKey = null;
        if (!HoldsTensors(root))
        {
            wrapperKey = WrapperKeys.FirstOrDefault(k => root[k] is IDictionary d && HoldsTensors(d));
            if (wrapperKey is null)
            {
                DisposeTensors(root);
                var keys = string.Join(", ", root.Keys.Cast<object>().Select(k => $"'{k}'").Take(20));
                throw new InvalidDataException(
                    $"Checkpoint '{path}' holds no tensors at the top level and none under {string.Join("/", WrapperKeys)}; top-level keys: {keys}.");
            }
            chosen = (IDictionary)root[wrapperKey]!;
            foreach (DictionaryEntry entry in root)
                if (!Equals(entry.Key, wrapperKey)) DisposeTensors(entry.Value);
        }

        var result = new Dictionary<string, Tensor>(chosen.Count);
        foreach (DictionaryEntry entry in chosen)
        {
            // Non-tensor values inside a state dict (rare: extra_state objects) cannot be loaded into TorchSharp modules.
            if (entry.Value is Tensor t) result[entry.Key.ToString()!] = t;
            else DisposeTensors(entry.Value);
        }
        return (result, wrapperKey);
    }

    private static bool HoldsTensors(IDictionary d) => d.Values.Cast<object?>().Any(v => v is Tensor);

    private static void DisposeTensors(object? value)
    {
        switch (value)
        {
            case Tensor t: t.Dispose(); break;
            case IDictionary d: foreach (var v in d.Values) DisposeTensors(v); break;
            case IEnumerable e and not string: foreach (var v in e) DisposeTensors(v); break;
        }
    }

    /// <summary>Removes <c>module.</c> when every key carries it (DataParallel/DDP wraps the whole model).</summary>
    private static (Dictionary<string, Tensor> StateDict, string? Prefix) StripPrefix(Dictionary<string, Tensor> raw)
    {
        if (raw.Count == 0 || !raw.Keys.All(k => k.StartsWith(DataParallelPrefix, StringComparison.Ordinal))) return (raw, null);
        return (raw.ToDictionary(kv => kv.Key[DataParallelPrefix.Length..], kv => kv.Value), DataParallelPrefix);
    }

    private static CheckpointLoadReport Compare(nn.Module module, Dictionary<string, Tensor> file, string path, CheckpointFormat format,
        string? wrapperKey, string? prefix, out List<(Tensor Target, Tensor Source)> toCopy)
    {
        var full = Path.GetFullPath(path);
        var own = module.state_dict();
        toCopy = [];
        List<string> loaded = [], missing = [], defaulted = [];
        List<ShapeMismatch> mismatched = [];
        foreach (var (key, target) in own)
        {
            if (!file.TryGetValue(key, out var source))
            {
                if (key.EndsWith("num_batches_tracked", StringComparison.Ordinal)) defaulted.Add(key);
                else missing.Add(key);
                continue;
            }
            if (!ShapesCompatible(source.shape, target.shape))
            {
                mismatched.Add(new ShapeMismatch(key, source.shape, target.shape));
                continue;
            }
            loaded.Add(key);
            toCopy.Add((target, source));
        }
        var unexpected = file.Keys.Where(k => !own.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        return new CheckpointLoadReport(full, format, wrapperKey, prefix, loaded, missing, unexpected, mismatched, defaulted);
    }

    /// <summary>Equal shapes, or a single value stored as 0-dim vs [1] (older PyBridge writes/reads scalars as [1]).</summary>
    private static bool ShapesCompatible(long[] a, long[] b) =>
        a.SequenceEqual(b) || ((a.Length == 0 || b.Length == 0) && a.Aggregate(1L, (p, d) => p * d) == 1 && b.Aggregate(1L, (p, d) => p * d) == 1);
}
