using Google.Protobuf;
using Onnx;

namespace EfficientCnn.Tests;

/// <summary>Small hand-built ONNX files for error-path tests.</summary>
public static class OnnxTestModels
{
    /// <summary>A valid ONNX model that is not an image model: Relu over a float [N, 10] vector.</summary>
    public static byte[] VectorModel()
    {
        static ValueInfoProto Value(string name)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 10 });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
        }
        var graph = new GraphProto { Name = "vector" };
        graph.Input.Add(Value("x"));
        graph.Output.Add(Value("y"));
        var node = new NodeProto { OpType = "Relu", Name = "relu" };
        node.Input.Add("x");
        node.Output.Add("y");
        graph.Node.Add(node);
        var model = new ModelProto { IrVersion = 7, ProducerName = "EfficientCnn.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 13 });
        return model.ToByteArray();
    }
}
