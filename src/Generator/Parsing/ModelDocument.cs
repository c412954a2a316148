using System.Collections.Generic;
using Bbcu.Generator.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Bbcu.Generator.Parsing;

/// <summary>Maps JSON positions of one model file to diagnostic locations.</summary>
internal sealed class SourceMap
{
    private readonly SourceText _text;

    public SourceMap(string path, SourceText text) { Path = path; _text = text; }

    public string Path { get; }

    /// <summary>The file name as messages show it.</summary>
    public string FileName => System.IO.Path.GetFileName(Path);

    public LocationInfo At(int start, int length)
    {
        var span = new TextSpan(start, length);
        return new LocationInfo(Path, span, _text.Lines.GetLinePositionSpan(span));
    }

    public LocationInfo At(JsonNode node) => At(node.Start, node.Length);

    public LocationInfo AtName(JsonProperty p) => At(p.NameStart, p.NameLength);
}

/// <summary>The parsed (not yet validated) model description, format v1.</summary>
internal sealed class ModelDocument
{
    public ModelDocument(string name, string inputName, int inputChannels, JsonNode inputNode, string output, JsonNode outputNode, List<NodeDecl> nodes, JsonNode root)
    {
        Name = name; InputName = inputName; InputChannels = inputChannels; InputNode = inputNode;
        Output = output; OutputNode = outputNode; Nodes = nodes; Root = root;
    }

    public string Name { get; }
    public string InputName { get; }
    public int InputChannels { get; }
    public JsonNode InputNode { get; }
    public string Output { get; }
    public JsonNode OutputNode { get; }
    public List<NodeDecl> Nodes { get; }
    public JsonNode Root { get; }
}

/// <summary>One node of the graph as written: an op, its input values, its output value and its attributes.</summary>
internal sealed class NodeDecl
{
    public NodeDecl(int index, string op, JsonNode opNode, string label, List<(string Name, JsonNode Node)> inputs, string output, JsonNode outputNode, JsonNode obj)
    {
        Index = index; Op = op; OpNode = opNode; Label = label; Inputs = inputs; Output = output; OutputNode = outputNode; Object = obj;
    }

    public int Index { get; }
    public string Op { get; }
    public JsonNode OpNode { get; }
    /// <summary>The node's <c>name</c>, else its output value's name: what messages call it.</summary>
    public string Label { get; }
    public List<(string Name, JsonNode Node)> Inputs { get; }
    public string Output { get; }
    public JsonNode OutputNode { get; }
    public JsonNode Object { get; }
}
