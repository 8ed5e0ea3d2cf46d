using EfficientCnn.Backbones.Imaging;
using EfficientCnn.Backbones.Onnx;
using EfficientCnn.Backbones.Search;
using TorchSharp;

namespace EfficientCnn.Backbones.Registry;

/// <summary>Where a backbone comes from.</summary>
public enum BackboneSourceKind
{
    /// <summary>A pretrained ONNX backbone shipped in <c>models/</c> (found by name).</summary>
    Bundled,

    /// <summary>A zoo variant with random initial weights (train from scratch).</summary>
    Zoo,

    /// <summary>Any ONNX image model given by path (ours or anyone's), imported for fine-tuning.</summary>
    OnnxFile,

    /// <summary>An architecture spec JSON file (e.g. from <c>efficientcnn search</c> or <c>scale</c>), built with random initial weights.</summary>
    ArchitectureSpecFile,
}

/// <summary>
/// Resolves the backbone option of the featurizer, the trainer and the CLI: a bundled model name, a zoo variant name,
/// a path to an ONNX file, or a path to an architecture spec (.json, trained from scratch). Nothing is downloaded: bundled models are files next to the application
/// (<c>models/*.onnx</c>), in <c>$EFFICIENTCNN_MODELS</c>, or in the repository's <c>models/</c> folder.
/// </summary>
public sealed class BackboneSource
{
    /// <summary>Environment variable naming an extra folder of bundled models.</summary>
    public const string ModelsEnvironmentVariable = "EFFICIENTCNN_MODELS";

    /// <summary>
    /// A zoo variant to name explicitly for training from random weights. Never used implicitly: when the default bundled
    /// model is missing, resolving the default fails (it used to fall back to this variant silently).
    /// </summary>
    public const string FallbackVariant = "mobilenet_v2_1.0";

    private BackboneSource(BackboneSourceKind kind, string name, string? path, PreprocessingSpec preprocessing, string weightsProvenance,
        ArchitectureSpec? spec = null, OnnxModelInfo? onnxInfo = null)
    {
        Kind = kind;
        Name = name;
        Path = path;
        Preprocessing = preprocessing;
        WeightsProvenance = weightsProvenance;
        Spec = spec;
        this.onnxInfo = onnxInfo;
    }

    // Read once when resolved: the file is checked before any data is read and never parsed again.
    private readonly OnnxModelInfo? onnxInfo;

    /// <summary>Where it comes from.</summary>
    public BackboneSourceKind Kind { get; }

    /// <summary>The bundled model or zoo variant name, or the file name.</summary>
    public string Name { get; }

    /// <summary>The ONNX file (bundled or given) or the spec file, or null for a zoo variant.</summary>
    public string? Path { get; }

    /// <summary>The architecture read from the spec file (once, when resolved), or null for other kinds.</summary>
    public ArchitectureSpec? Spec { get; }

    /// <summary>
    /// The preprocessing the backbone expects, as torchvision's weights enums and timm's pretrained configs carry their
    /// transforms: from the ONNX metadata when it has it, else torchvision's ImageNet transform at the variant's or
    /// spec's resolution (224 for foreign ONNX files without metadata or a fixed input size). Every path that trains,
    /// featurizes or exports the backbone takes it from here; <see cref="WithPreprocessing"/> overrides it.
    /// </summary>
    public PreprocessingSpec Preprocessing { get; }

    /// <summary>Where the weights come from: the ONNX metadata's provenance, or "random initialisation (...)".</summary>
    public string WeightsProvenance { get; }

    /// <summary>
    /// The same backbone with another preprocessing (a user's override), or with only the resolution changed
    /// (<paramref name="resolution"/>; efficient backbones accept any size above their minimum). Null values keep the backbone's.
    /// </summary>
    public BackboneSource WithPreprocessing(PreprocessingSpec? preprocessing = null, int? resolution = null)
    {
        var spec = (preprocessing ?? Preprocessing) with { Resolution = resolution ?? (preprocessing ?? Preprocessing).Resolution };
        return spec.Equals(Preprocessing) ? this : new BackboneSource(Kind, Name, Path, spec.Validate(), WeightsProvenance, Spec, onnxInfo);
    }

    /// <summary>True for a zoo variant or an architecture spec: the network starts from random weights (training it is training from scratch).</summary>
    public bool IsRandomlyInitialised => Kind is BackboneSourceKind.Zoo or BackboneSourceKind.ArchitectureSpecFile;

    /// <summary>Folders searched for bundled models, in order.</summary>
    public static IReadOnlyList<string> ModelDirectories
    {
        get
        {
            var dirs = new List<string>();
            if (Environment.GetEnvironmentVariable(ModelsEnvironmentVariable) is { Length: > 0 } env) dirs.Add(env);
            dirs.Add(System.IO.Path.Combine(AppContext.BaseDirectory, "models"));
            // Running from a source checkout (bin/ under the repository): the repository's models/ folder.
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "EfficientCnn.MLNet.sln")))
                {
                    dirs.Add(System.IO.Path.Combine(dir.FullName, "models"));
                    break;
                }
            return dirs.Where(Directory.Exists).Distinct().ToArray();
        }
    }

    /// <summary>Names of the bundled models found (file names without .onnx), sorted.</summary>
    public static IReadOnlyList<string> BundledNames =>
        ModelDirectories.SelectMany(d => Directory.GetFiles(d, "*.onnx")).Select(System.IO.Path.GetFileNameWithoutExtension).Distinct()
            .Order(StringComparer.Ordinal).ToArray()!;

    /// <summary>The name of the default backbone, chosen by the transfer study (docs/transfer.md).</summary>
    public const string DefaultBundledName = "ecnn_resnet18_tucker2_fm";

    /// <summary>The default backbone: the bundled model <see cref="DefaultBundledName"/> (resolving it fails when it is missing).</summary>
    public static string DefaultName => DefaultBundledName;

    /// <summary>Resolves <paramref name="nameOrPath"/> (null or "default": <see cref="DefaultName"/>).</summary>
    /// <exception cref="ArgumentException">Nothing by that name (the message lists the bundled models and points to the zoo).</exception>
    /// <exception cref="FileNotFoundException">An .onnx or .json path that does not exist, or the default bundled model is missing.</exception>
    public static BackboneSource Resolve(string? nameOrPath)
    {
        string value = string.IsNullOrWhiteSpace(nameOrPath) || nameOrPath == "default" ? DefaultName : nameOrPath.Trim();
        if (value.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            // Read now: a missing or invalid spec is refused naming the file, not after the data is read.
            var spec = ArchitectureSpec.Load(value);
            return new BackboneSource(BackboneSourceKind.ArchitectureSpecFile, System.IO.Path.GetFileNameWithoutExtension(value), System.IO.Path.GetFullPath(value),
                PreprocessingSpec.ImageNet(spec.Resolution), "random initialisation (architecture spec)", spec);
        }
        if (value.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || value.Contains(System.IO.Path.DirectorySeparatorChar))
        {
            if (!File.Exists(value)) throw new FileNotFoundException($"Backbone ONNX file '{value}' does not exist.", value);
            return FromOnnx(BackboneSourceKind.OnnxFile, System.IO.Path.GetFileName(value), System.IO.Path.GetFullPath(value));
        }
        foreach (var dir in ModelDirectories)
        {
            string file = System.IO.Path.Combine(dir, value + ".onnx");
            if (File.Exists(file)) return FromOnnx(BackboneSourceKind.Bundled, value, file);
        }
        if (value == DefaultBundledName)
            throw new FileNotFoundException(
                $"The default backbone '{DefaultBundledName}' ({DefaultBundledName}.onnx) was not found in " +
                $"{(ModelDirectories.Count == 0 ? $"'{System.IO.Path.Combine(AppContext.BaseDirectory, "models")}' (no such folder)" : string.Join(", ", ModelDirectories.Select(d => $"'{d}'")))}. " +
                "The EfficientCnn.MLNet package copies its models/*.onnx to the application's output folder (models/) at build time; " +
                $"check that the build did, point ${ModelsEnvironmentVariable} at a folder holding it, pass an .onnx file, or name a zoo variant " +
                $"(e.g. '{FallbackVariant}') to start from random weights.", DefaultBundledName + ".onnx");
        if (BackboneRegistry.Contains(value))
        {
            var variant = BackboneRegistry.Get(value);
            return new BackboneSource(BackboneSourceKind.Zoo, variant.Name, null, PreprocessingSpec.ImageNet(variant.DefaultResolution), "random initialisation (zoo)");
        }
        throw new ArgumentException(
            $"Backbone '{value}' is not a bundled model ({(BundledNames.Count == 0 ? "none found" : string.Join(", ", BundledNames))}), " +
            "not a zoo variant (list them with `efficientcnn zoo`) and not an .onnx file.", "Backbone");
    }

    private static BackboneSource FromOnnx(BackboneSourceKind kind, string name, string path)
    {
        var info = OnnxModelInfo.Read(path);
        var preprocessing = PreprocessingSpec.FromMetadata(info.Metadata) ?? PreprocessingSpec.ImageNet(FixedInputSize(info) ?? 224);
        string provenance = info.Metadata.TryGetValue(OnnxMetadataKeys.Weights, out var weights) ? weights : $"ONNX file {System.IO.Path.GetFileName(path)}";
        return new BackboneSource(kind, name, path, preprocessing, provenance, onnxInfo: info);
    }

    /// <summary>
    /// The feature extractor as a trainable TorchSharp module: the zoo variant or the spec's network without its head
    /// (random weights, drawn from torch's generator seeded with <paramref name="seed"/>), or the ONNX graph imported up
    /// to its pooled features.
    /// </summary>
    /// <exception cref="InvalidDataException">The ONNX file is not a usable image model (the file is named).</exception>
    public Backbone CreateFeatureExtractor(int seed = 0)
    {
        Runtime.TorchRuntime.Configure(); // before the first tensor: libtorch is several times slower without it
        if (IsRandomlyInitialised) return CreateNetwork(numClasses: 0, seed);
        CheckImageModel(onnxInfo!);
        return OnnxImportedModule.Load(Path!);
    }

    /// <summary>
    /// The zoo variant or the spec's network with a head of <paramref name="numClasses"/> classes (0: features only) and
    /// random weights, drawn from torch's generator seeded with <paramref name="seed"/> (null: as the generator stands).
    /// </summary>
    /// <exception cref="InvalidOperationException">The backbone is an ONNX file: it has weights and a graph already.</exception>
    public Backbone CreateNetwork(int numClasses, int? seed = null)
    {
        if (!IsRandomlyInitialised)
            throw new InvalidOperationException($"Backbone {this} is an ONNX model: there is no architecture to build (name a zoo variant or an architecture spec .json).");
        if (seed is { } s) torch.random.manual_seed(s);
        return Spec is null ? BackboneRegistry.Create(Name, new BackboneOptions { NumClasses = numClasses }) : new SearchedNetwork(Spec, numClasses);
    }

    /// <summary>
    /// An ONNX network that outputs pooled features for the featurizer, and the name of that output: the file as is
    /// (output "features" when it has one, else <paramref name="outputName"/> or its first output), or the zoo variant
    /// or spec exported without head.
    /// </summary>
    public (byte[] Onnx, string OutputName) FeaturizerOnnx(string? outputName = null, int seed = 0)
    {
        if (IsRandomlyInitialised)
        {
            var model = CreateFeatureExtractor(seed);
            model.eval();
            return (ExportFeatureExtractor(model, WeightsProvenance), OnnxExporter.FeaturesName);
        }
        var info = onnxInfo!;
        CheckImageModel(info);
        var outputs = info.Outputs.Select(o => o.Name).ToArray();
        string chosen = outputName ?? (outputs.Contains(OnnxExporter.FeaturesName) ? OnnxExporter.FeaturesName : outputs[0]);
        if (!outputs.Contains(chosen))
            throw new ArgumentException($"ONNX file '{Path}' has no output '{chosen}'; its outputs are {string.Join(", ", outputs)}.", nameof(outputName));
        return (File.ReadAllBytes(Path!), chosen);
    }

    /// <summary>
    /// <paramref name="network"/>'s feature extractor (built from this backbone, e.g. after pretraining or distillation)
    /// as an ONNX backbone: output "features", this backbone's name and preprocessing, and
    /// <paramref name="weightsProvenance"/> in the metadata.
    /// </summary>
    public byte[] ExportFeatureExtractor(Backbone network, string weightsProvenance) =>
        OnnxExporter.ExportBytes(network, new OnnxExportOptions
        {
            VariantName = Name, IncludeHead = false, Preprocessing = Preprocessing, WeightsProvenance = weightsProvenance,
        });

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        BackboneSourceKind.Zoo => $"{Name} (zoo, random init)",
        BackboneSourceKind.ArchitectureSpecFile => $"{Name} (architecture spec, random init: {Path})",
        _ => $"{Name} ({Kind}: {Path})",
    };

    private void CheckImageModel(OnnxModelInfo info)
    {
        var input = info.Inputs.Count == 1 ? info.Inputs[0] : null;
        if (input is null || input.Dims.Count != 4 || (input.Dims[1] != "3" && !input.Dims[1].Any(char.IsLetter)) || input.ElementType != "float")
            throw new InvalidDataException(
                $"ONNX file '{Path}' is not an image model: expected one float input [N, 3, H, W], got " +
                string.Join("; ", info.Inputs.Select(i => $"{i.Name} {i.ElementType} [{string.Join(", ", i.Dims)}]")) + ".");
        foreach (int axis in new[] { 2, 3 })
            if (long.TryParse(input.Dims[axis], out long size) && size > Imaging.ImageLimits.MaxResolution)
                throw new InvalidDataException($"ONNX file '{Path}' declares an input of [{string.Join(", ", input.Dims)}]; its height and width must be <= {Imaging.ImageLimits.MaxResolution} px.");
    }

    private static int? FixedInputSize(OnnxModelInfo info) =>
        info.Inputs.Count == 1 && info.Inputs[0].Dims.Count == 4 && int.TryParse(info.Inputs[0].Dims[2], out int h) ? h : null;
}
