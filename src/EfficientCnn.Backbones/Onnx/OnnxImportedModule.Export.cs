using Onnx;
using static EfficientCnn.Backbones.Onnx.OnnxTensors;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Onnx;

public sealed partial class OnnxImportedModule
{
    /// <summary>
    /// Replays the executed graph into <paramref name="g"/> with the current parameter values, rewriting nodes of older
    /// opsets into their opset-17 form (attributes that became inputs, BatchNormalization's <c>spatial</c>, Dropout).
    /// </summary>
    protected internal override string ExportFeatures(OnnxGraphBuilder g, string input)
    {
        var stored = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (n, p) in graph.named_parameters(recurse: false)) stored[n] = p;
        foreach (var (n, b) in graph.named_buffers(recurse: false)) stored[n] = b;
        var map = new Dictionary<string, string>(StringComparer.Ordinal) { [InputName] = input };
        string Map(string name)
        {
            if (name.Length == 0) return "";
            if (map.TryGetValue(name, out var m)) return m;
            var value = storeNames.TryGetValue(name, out var s) ? stored[s] : constants[name];
            return map[name] = g.AddInitializer(value, name);
        }

        foreach (var source in plan)
        {
            var node = new NodeProto { OpType = source.OpType, Name = g.UniqueName(source.Name.Length > 0 ? source.Name : source.OpType) };
            node.Input.AddRange(source.Input.Select(Map));
            foreach (var o in source.Output) node.Output.Add(o.Length == 0 ? "" : map[o] = g.UniqueName(o));
            node.Attribute.AddRange(source.Attribute.Select(a => a.Clone()));
            Upgrade(g, node, source);
        }
        string features = map[FeatureTensorName];
        return featureRank > 2 ? g.Flatten(features) : features;
    }

    /// <summary>Adds <paramref name="node"/> to the graph in its opset-17 form.</summary>
    private void Upgrade(OnnxGraphBuilder g, NodeProto node, NodeProto source)
    {
        var attrs = node.Attribute;
        AttributeProto? Take(string name)
        {
            var a = attrs.FirstOrDefault(x => x.Name == name);
            if (a is not null) attrs.Remove(a);
            return a;
        }
        void Drop(params string[] names) { foreach (var n in names) Take(n); }
        void SetInput(int index, string name)
        {
            while (node.Input.Count <= index) node.Input.Add("");
            node.Input[index] = name;
        }

        switch (node.OpType)
        {
            case "BatchNormalization":
                Drop("spatial", "consumed_inputs", "is_test", "training_mode");
                while (node.Output.Count > 1) node.Output.RemoveAt(node.Output.Count - 1);
                break;
            case "Dropout":
                // Inference graph: dropout is the identity (its mask output, if any, is not produced).
                node.OpType = "Identity";
                attrs.Clear();
                while (node.Input.Count > 1) node.Input.RemoveAt(node.Input.Count - 1);
                while (node.Output.Count > 1) node.Output.RemoveAt(node.Output.Count - 1);
                break;
            case "Add" or "Sub" or "Mul" or "Div":
                Drop("consumed_inputs", "broadcast", "axis");   // pre-opset-7 broadcasting attributes
                break;
            case "Conv" or "MaxPool" or "AveragePool" or "Relu" or "Sigmoid" or "Gemm":
                Drop("consumed_inputs", "broadcast");
                break;
            case "Clip" when opset < 11:
                var min = Take("min");
                var max = Take("max");
                SetInput(1, min is null ? "" : g.AddConstant(min.F, node.Name + ".min"));
                if (max is not null) SetInput(2, g.AddConstant(max.F, node.Name + ".max"));
                break;
            case "Pad" when opset < 11:
                var pads = Take("pads") ?? Take("paddings");
                var value = Take("value");
                SetInput(1, g.AddConstant(pads?.Ints.ToArray() ?? [], node.Name + ".pads"));
                if (value is not null) SetInput(2, g.AddConstant(value.F, node.Name + ".value"));
                break;
            case "Squeeze" or "Unsqueeze" when opset < 13:
                if (Take("axes") is { } axes) SetInput(1, g.AddConstant(axes.Ints.ToArray(), node.Name + ".axes"));
                break;
            case "Split":
                if (opset < 13 && Take("split") is { } split) SetInput(1, g.AddConstant(split.Ints.ToArray(), node.Name + ".split"));
                Drop("num_outputs");   // opset 18: opset 13's Split divides equally into its outputs too
                break;
            case "Slice" when opset < 10:
                var starts = Take("starts")!.Ints.ToArray();
                var ends = Take("ends")!.Ints.ToArray();
                var sliceAxes = Take("axes")?.Ints.ToArray();
                SetInput(1, g.AddConstant(starts, node.Name + ".starts"));
                SetInput(2, g.AddConstant(ends, node.Name + ".ends"));
                if (sliceAxes is not null) SetInput(3, g.AddConstant(sliceAxes, node.Name + ".axes"));
                break;
            case "ReduceMean" when opset >= 18 && node.Input.Count > 1:
                string axesName = source.Input[1];
                if (axesName.Length > 0)
                {
                    var axesValue = constants.TryGetValue(axesName, out var c) ? c
                        : throw new NotSupportedException($"ReduceMean node '{source.Name}': axes computed at run time cannot be written in opset {OnnxExporter.Opset}.");
                    attrs.Add(Attr("axes", OnnxOps.Longs(axesValue)));
                }
                node.Input.RemoveAt(1);
                break;
            case "Softmax" when opset < 13:
                // Old semantics: softmax over the input flattened to 2-D at `axis`, reshaped back.
                long axis = Take("axis")?.I ?? 1;
                string x = node.Input[0];
                string flat = g.Op("Flatten", [x], Attr("axis", axis));
                string soft = g.Op("Softmax", [flat], Attr("axis", 1L));
                node.OpType = "Reshape";
                node.Input.Clear();
                node.Input.Add(soft);
                node.Input.Add(g.Op("Shape", x));
                break;
        }
        g.AddNode(node);
    }
}
