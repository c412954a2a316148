using System.Collections.Generic;
using Bbcu.Generator.Diagnostics;

namespace Bbcu.Generator.Parsing;

/// <summary>
/// Stage 1: JSON text → <see cref="ModelDocument"/>. Checks the document's structure (format, version,
/// input, output, node shapes); op-specific attributes are checked by the validator.
/// </summary>
internal static class ModelParser
{
    public const string FormatName = "bbcu-model";
    public const int MaxNodes = 100_000;
    public const int MaxChannels = 4096;

    private static readonly HashSet<string> TopLevelKeys = new() { "$schema", "format", "version", "name", "description", "source", "inputs", "outputs", "nodes" };

    public static ModelDocument? Parse(string text, SourceMap map, DiagnosticBag diagnostics)
    {
        JsonNode root;
        try
        {
            root = JsonReader.Parse(text);
        }
        catch (JsonParseException e)
        {
            var (line, col) = JsonReader.LineColumn(text, e.Position);
            diagnostics.Add(BbcuDiagnostics.MalformedJson, map.At(System.Math.Min(e.Position, text.Length), 0), map.FileName, line, col, e.Message);
            return null;
        }
        string file = map.FileName;
        if (root.Kind != JsonKind.Object)
        {
            Invalid(diagnostics, map, root, $"the model must be a JSON object, not {root.KindName}");
            return null;
        }
        bool ok = true;
        foreach (JsonProperty p in root.Properties)
            if (!TopLevelKeys.Contains(p.Name))
            {
                diagnostics.Add(BbcuDiagnostics.InvalidModel, map.AtName(p), file, $"unknown top-level property \"{p.Name}\"; allowed: {string.Join(", ", TopLevelKeys)}");
                ok = false;
            }

        JsonNode? format = Required(root, "format", JsonKind.String, map, diagnostics, "the model");
        if (format is not null && format.String != FormatName)
        {
            Invalid(diagnostics, map, format, $"\"format\" is \"{format.String}\"; a BBCU model file has \"format\": \"{FormatName}\"");
            ok = false;
        }
        JsonNode? version = Required(root, "version", JsonKind.Number, map, diagnostics, "the model");
        if (version is not null && version.Number != 1)
        {
            Invalid(diagnostics, map, version, $"format version {version.Number} is not supported by this compiler, which reads version 1; update the BbcuCompiler package");
            ok = false;
        }
        string name = "";
        JsonNode? nameNode = Required(root, "name", JsonKind.String, map, diagnostics, "the model");
        if (nameNode is null) ok = false;
        else if (nameNode.String.Trim().Length == 0) { Invalid(diagnostics, map, nameNode, "\"name\" must not be empty"); ok = false; }
        else name = nameNode.String;

        // inputs: exactly one { "name", "channels" }
        string inputName = "";
        int inputChannels = 0;
        JsonNode? inputs = Required(root, "inputs", JsonKind.Array, map, diagnostics, "the model");
        JsonNode inputNode = inputs ?? root;
        if (inputs is not null)
        {
            if (inputs.Items.Count != 1)
            {
                Invalid(diagnostics, map, inputs, $"\"inputs\" must list exactly one input (format v1); it lists {inputs.Items.Count}");
                ok = false;
            }
            else if (inputs.Items[0].Kind != JsonKind.Object)
            {
                Invalid(diagnostics, map, inputs.Items[0], "an input must be an object { \"name\": …, \"channels\": … }");
                ok = false;
            }
            else
            {
                inputNode = inputs.Items[0];
                JsonNode? n = Required(inputNode, "name", JsonKind.String, map, diagnostics, "the input");
                JsonNode? c = Required(inputNode, "channels", JsonKind.Number, map, diagnostics, "the input");
                foreach (JsonProperty p in inputNode.Properties)
                    if (p.Name != "name" && p.Name != "channels")
                    { diagnostics.Add(BbcuDiagnostics.InvalidModel, map.AtName(p), file, $"unknown input property \"{p.Name}\""); ok = false; }
                if (n is not null) inputName = n.String;
                if (c is not null)
                {
                    if (!IsInt(c, 1, MaxChannels)) { Invalid(diagnostics, map, c, $"input \"channels\" must be an integer from 1 to {MaxChannels}"); ok = false; }
                    else inputChannels = (int)c.Number;
                }
                ok &= n is not null && c is not null;
            }
        }
        else ok = false;

        string output = "";
        JsonNode? outputs = Required(root, "outputs", JsonKind.Array, map, diagnostics, "the model");
        JsonNode outputNode = outputs ?? root;
        if (outputs is not null)
        {
            if (outputs.Items.Count != 1 || outputs.Items[0].Kind != JsonKind.String)
            {
                Invalid(diagnostics, map, outputs, "\"outputs\" must list exactly one value name (format v1)");
                ok = false;
            }
            else
            {
                outputNode = outputs.Items[0];
                output = outputNode.String;
            }
        }
        else ok = false;

        var nodes = new List<NodeDecl>();
        JsonNode? nodeArray = Required(root, "nodes", JsonKind.Array, map, diagnostics, "the model");
        if (nodeArray is null) return null;
        if (nodeArray.Items.Count == 0)
        {
            Invalid(diagnostics, map, nodeArray, "\"nodes\" is empty; a model needs at least one node");
            return null;
        }
        if (nodeArray.Items.Count > MaxNodes)
        {
            Invalid(diagnostics, map, nodeArray, $"the model has {nodeArray.Items.Count} nodes, above the limit of {MaxNodes}");
            return null;
        }
        for (int i = 0; i < nodeArray.Items.Count; i++)
        {
            NodeDecl? node = ParseNode(i, nodeArray.Items[i], map, diagnostics);
            if (node is null) ok = false;
            else nodes.Add(node);
        }
        return ok ? new ModelDocument(name, inputName, inputChannels, inputNode, output, outputNode, nodes, root) : null;
    }

    private static NodeDecl? ParseNode(int index, JsonNode obj, SourceMap map, DiagnosticBag diagnostics)
    {
        string what = $"node #{index}";
        if (obj.Kind != JsonKind.Object)
        {
            Invalid(diagnostics, map, obj, $"{what} must be an object with \"op\", \"inputs\" and \"output\"");
            return null;
        }
        JsonNode? op = Required(obj, "op", JsonKind.String, map, diagnostics, what);
        JsonNode? inputs = Required(obj, "inputs", JsonKind.Array, map, diagnostics, what);
        JsonNode? output = Required(obj, "output", JsonKind.String, map, diagnostics, what);
        JsonProperty? nameProp = obj.Property("name");
        if (nameProp is not null && nameProp.Value.Kind != JsonKind.String)
        {
            Invalid(diagnostics, map, nameProp.Value, $"{what}: \"name\" must be a string");
            return null;
        }
        if (op is null || inputs is null || output is null) return null;
        if (output.String.Length == 0)
        {
            Invalid(diagnostics, map, output, $"{what}: \"output\" must be a non-empty value name");
            return null;
        }
        string label = nameProp?.Value.String ?? output.String;
        var inputList = new List<(string, JsonNode)>();
        foreach (JsonNode item in inputs.Items)
        {
            if (item.Kind != JsonKind.String)
            {
                Invalid(diagnostics, map, item, $"node '{label}': \"inputs\" must be an array of value names (strings)");
                return null;
            }
            inputList.Add((item.String, item));
        }
        return new NodeDecl(index, op.String, op, label, inputList, output.String, output, obj);
    }

    public static bool IsInt(JsonNode n, double min, double max) =>
        n.Kind == JsonKind.Number && n.Number == System.Math.Floor(n.Number) && n.Number >= min && n.Number <= max;

    private static JsonNode? Required(JsonNode obj, string key, JsonKind kind, SourceMap map, DiagnosticBag diagnostics, string owner)
    {
        JsonProperty? p = obj.Property(key);
        if (p is null)
        {
            Invalid(diagnostics, map, obj, $"{owner} has no \"{key}\" property; it is required");
            return null;
        }
        if (p.Value.Kind != kind)
        {
            string expected = new JsonNode(kind, 0).KindName;
            Invalid(diagnostics, map, p.Value, $"\"{key}\" of {owner} must be {expected}, not {p.Value.KindName}");
            return null;
        }
        return p.Value;
    }

    private static void Invalid(DiagnosticBag diagnostics, SourceMap map, JsonNode at, string message)
    {
        // Objects can be long: point at their first character so the squiggle stays readable.
        var location = at.Kind is JsonKind.Object or JsonKind.Array ? map.At(at.Start, 1) : map.At(at);
        diagnostics.Add(BbcuDiagnostics.InvalidModel, location, map.FileName, message);
    }
}
