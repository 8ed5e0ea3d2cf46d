using System.Globalization;
using System.Text.Json;
using EfficientCnn.Backbones.Imaging;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Onnx;

/// <summary>Options of <see cref="OnnxExporter"/>.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>Registry name written to the metadata (e.g. <c>resnet18</c>); defaults to the module's type name.</summary>
    public string? VariantName { get; init; }

    /// <summary>Preprocessing written to the metadata; default ImageNet at 224 px (or the imported model's own).</summary>
    public PreprocessingSpec? Preprocessing { get; init; }

    /// <summary>Fold each BatchNorm into the convolution before it (default). False keeps BatchNormalization nodes.</summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>
    /// Fix the input's H and W to <see cref="PreprocessingSpec.Resolution"/>. Default false: H and W are the
    /// symbolic dims <c>H</c>/<c>W</c>, so any size the network accepts runs (the batch dim is always symbolic <c>N</c>).
    /// </summary>
    public bool FixedSpatialSize { get; init; }

    /// <summary>Write the <c>logits</c> output when the backbone has a head (default true).</summary>
    public bool IncludeHead { get; init; } = true;

    /// <summary>Class labels in head order, stored as a JSON array in the metadata (optional).</summary>
    public IReadOnlyList<string>? ClassLabels { get; init; }

    /// <summary>Where the weights come from (e.g. "random init", "torchvision IMAGENET1K_V1", a file and its hash).</summary>
    public string? WeightsProvenance { get; init; }
}

/// <summary>Metadata keys (ONNX <c>metadata_props</c>) of exported models besides those of <see cref="PreprocessingSpec"/>.</summary>
public static class OnnxMetadataKeys
{
    /// <summary>Registry name of the variant.</summary>
    public const string Variant = "efficientcnn.variant";
    /// <summary>Length of the <c>features</c> output.</summary>
    public const string FeatureDim = "efficientcnn.feature_dim";
    /// <summary>Classes of the <c>logits</c> output (0 when absent).</summary>
    public const string NumClasses = "efficientcnn.num_classes";
    /// <summary>JSON array of class labels.</summary>
    public const string ClassLabels = "efficientcnn.class_labels";
    /// <summary>Where the weights come from.</summary>
    public const string Weights = "efficientcnn.weights_provenance";
    /// <summary>Whether BatchNorm was folded into the convolutions ("true"/"false").</summary>
    public const string FoldedBatchNorm = "efficientcnn.folded_batchnorm";
    /// <summary>The backbone's <see cref="Backbone.MinInputSize"/> (the importer's limit when H and W are symbolic).</summary>
    public const string MinInputSize = "efficientcnn.min_input_size";
}

/// <summary>
/// Writes a <see cref="Backbone"/> as an ONNX model (opset 17, IR 8) for inference: input <c>input</c> [N,3,H,W] float32,
/// outputs <c>features</c> [N,FeatureDim] and, when the backbone has a head, <c>logits</c> [N,NumClasses].
/// </summary>
public static class OnnxExporter
{
    /// <summary>The opset the exporter writes (ONNX Runtime 1.31 runs it; opset 17 has no Gelu, so GELU uses Erf).</summary>
    public const int Opset = 17;

    /// <summary>IR version that goes with opset 17.</summary>
    public const int IrVersion = 8;

    /// <summary>Graph input/output names.</summary>
    public const string InputName = "input", FeaturesName = "features", LogitsName = "logits";

    /// <summary>Builds the ONNX model. The module is put in eval mode for the export and its training flag restored after.</summary>
    /// <exception cref="NotSupportedException">The backbone (or one of its blocks) has no ONNX export yet.</exception>
    public static ModelProto Export(Backbone model, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxExportOptions();
        // A re-exported import keeps what its source said unless the options say otherwise.
        var imported = model as OnnxImportedModule;
        string? Meta(string key) => imported is not null && imported.Metadata.TryGetValue(key, out var v) ? v : null;
        var prep = options.Preprocessing ?? imported?.Preprocessing ?? PreprocessingSpec.ImageNet();
        string variant = options.VariantName ?? Meta(OnnxMetadataKeys.Variant) ?? model.GetType().Name;
        string? provenance = options.WeightsProvenance ?? Meta(OnnxMetadataKeys.Weights);
        var classLabels = options.ClassLabels ?? (imported?.ClassLabels is { } l && l.Count == model.NumClasses ? l : null);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            var g = new OnnxGraphBuilder(model, options.FoldBatchNorm);
            g.Reserve(InputName);
            g.Reserve(FeaturesName);
            g.Reserve(LogitsName);
            string features = model.ExportFeatures(g, InputName);
            if (features == InputName) features = g.Op("Identity", features);
            g.RenameTensor(features, FeaturesName);
            bool head = options.IncludeHead && model.Head is not null;
            if (head)
                g.RenameTensor(model.ExportHead(g, FeaturesName), LogitsName);

            var graph = g.Graph;
            graph.Name = variant;
            var (h, w) = options.FixedSpatialSize ? (Dim(prep.Resolution), Dim(prep.Resolution)) : (Dim("H"), Dim("W"));
            // An imported model with a fixed H/W (e.g. a 7x7 AveragePool at the end) keeps it; its batch becomes N.
            if (imported is { InputHeight: { } ih, InputWidth: { } iw }) (h, w) = (Dim(ih), Dim(iw));
            graph.Input.Add(ValueInfo(InputName, Dim("N"), Dim(3), h, w));
            graph.Output.Add(ValueInfo(FeaturesName, Dim("N"), Dim(model.FeatureDim)));
            if (head) graph.Output.Add(ValueInfo(LogitsName, Dim("N"), Dim(model.NumClasses)));

            var proto = new ModelProto
            {
                IrVersion = IrVersion,
                ProducerName = "EfficientCnn.MLNet",
                ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
                DocString = $"{graph.Name}: input [N,3,H,W] float32 RGB normalised with the metadata's mean/std; outputs features [N,{model.FeatureDim}]" +
                            (head ? $" and logits [N,{model.NumClasses}]." : "."),
                Graph = graph,
            };
            proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
            var meta = new List<KeyValuePair<string, string>>
            {
                new(OnnxMetadataKeys.Variant, graph.Name),
                new(OnnxMetadataKeys.FeatureDim, model.FeatureDim.ToString(CultureInfo.InvariantCulture)),
                new(OnnxMetadataKeys.NumClasses, (head ? model.NumClasses : 0).ToString(CultureInfo.InvariantCulture)),
                new(OnnxMetadataKeys.FoldedBatchNorm, options.FoldBatchNorm ? "true" : "false"),
                new(OnnxMetadataKeys.Weights, provenance ?? "unspecified"),
                new(OnnxMetadataKeys.MinInputSize, model.MinInputSize.ToString(CultureInfo.InvariantCulture)),
            };
            meta.AddRange(prep.ToMetadata());
            if (classLabels is { } labels)
            {
                if (head && labels.Count != model.NumClasses)
                    throw new ArgumentException($"ClassLabels has {labels.Count} labels but the head has {model.NumClasses} classes.", nameof(options));
                meta.Add(new(OnnxMetadataKeys.ClassLabels, JsonSerializer.Serialize(labels)));
            }
            foreach (var (k, v) in meta) proto.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
            return proto;
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>The model as ONNX bytes.</summary>
    public static byte[] ExportBytes(Backbone model, OnnxExportOptions? options = null) => Export(model, options).ToByteArray();

    /// <summary>Writes the model to <paramref name="path"/> atomically (a temporary file in the same folder, then a move).</summary>
    public static void ExportFile(Backbone model, string path, OnnxExportOptions? options = null) =>
        WriteAtomically(path, ExportBytes(model, options));

    /// <summary>Writes <paramref name="bytes"/> to a temporary file beside <paramref name="path"/> and moves it into place.</summary>
    public static void WriteAtomically(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    internal static TensorShapeProto.Types.Dimension Dim(long value) => new() { DimValue = value };

    internal static TensorShapeProto.Types.Dimension Dim(string param) => new() { DimParam = param };

    internal static ValueInfoProto ValueInfo(string name, params TensorShapeProto.Types.Dimension[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims);
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxTensors.Float, Shape = shape } },
        };
    }
}
