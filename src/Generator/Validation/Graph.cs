using System.Collections.Generic;
using Bbcu.Generator.Diagnostics;

namespace Bbcu.Generator.Validation;

/// <summary>A named feature map: <see cref="Channels"/> planes of <see cref="Scale"/> times the input's width and height.</summary>
internal sealed class Value
{
    public Value(string name, int channels, int scale = 1) { Name = name; Channels = channels; Scale = scale; }

    public string Name { get; }
    public int Channels { get; }
    /// <summary>Spatial size relative to the model input (pixel shuffle and upsampling multiply it).</summary>
    public int Scale { get; }
    /// <summary>Floats per input pixel: <c>Channels · Scale²</c>.</summary>
    public int FloatsPerInputPixel => Channels * Scale * Scale;
}

/// <summary>A weight tensor read from the safetensors file, widened to float.</summary>
internal sealed class Tensor
{
    public Tensor(string name, int[] shape, float[] data) { Name = name; Shape = shape; Data = data; }

    public string Name { get; }
    public int[] Shape { get; }
    public float[] Data { get; }
}

/// <summary>A validated node: its inputs resolved to values and its tensors to data.</summary>
internal sealed class GraphNode
{
    public GraphNode(Ops.OpDefinition op, string label, Value[] inputs, Value output, LocationInfo location)
    {
        Op = op; Label = label; Inputs = inputs; Output = output; Location = location;
    }

    public Ops.OpDefinition Op { get; }
    public string Label { get; }
    public Value[] Inputs { get; }
    public Value Output { get; }
    public LocationInfo Location { get; }
    public Dictionary<string, Tensor> Tensors { get; } = new();
    public Dictionary<string, double> Scalars { get; } = new();
    /// <summary>String-valued properties (e.g. upsample's mode).</summary>
    public Dictionary<string, string> Strings { get; } = new();
    /// <summary>Where each tensor was named in the model file.</summary>
    public Dictionary<string, LocationInfo> TensorLocations { get; } = new();

    public Tensor? Tensor(string attribute) => Tensors.TryGetValue(attribute, out Tensor? t) ? t : null;
}

/// <summary>Stage 2's result: a typed, acyclic graph in topological order with every shape known.</summary>
internal sealed class ValidatedModel
{
    public ValidatedModel(string name, string modelFile, Value input, Value output, List<GraphNode> nodes)
    {
        Name = name; ModelFile = modelFile; Input = input; Output = output; Nodes = nodes;
    }

    public string Name { get; }
    public string ModelFile { get; }
    public Value Input { get; }
    public Value Output { get; }
    public List<GraphNode> Nodes { get; }
}
