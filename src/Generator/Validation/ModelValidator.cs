using System;
using System.Collections.Generic;
using System.Linq;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Ops;
using Bbcu.Generator.Parsing;

namespace Bbcu.Generator.Validation;

/// <summary>
/// Stage 2: checks the graph (values defined once, no undefined reads, no cycles), resolves every
/// tensor in the weights file (presence, dtype, finiteness) and has each node's op (<see cref="OpRegistry"/>)
/// check its shapes and attributes and infer its output's channels and size.
/// </summary>
internal static class ModelValidator
{
    /// <summary>Largest pixel-shuffle or upsampling factor, and largest spatial scale of any value.</summary>
    public const int MaxFactor = 8;
    public const int MaxScale = 16;

    private static readonly HashSet<string> CommonKeys = new() { "op", "name", "inputs", "output", "comment" };

    public static string SupportedOps => OpRegistry.Names;

    public static ValidatedModel? Validate(ModelDocument doc, SourceMap map, SafetensorsFile weights, string weightsPath, DiagnosticBag diagnostics)
    {
        string file = map.FileName;
        string weightsName = System.IO.Path.GetFileName(weightsPath);
        var entries = new Dictionary<string, TensorEntry>();
        foreach (TensorEntry e in weights.Tensors) entries[e.Name] = e;
        var loaded = new Dictionary<string, Tensor?>();
        var used = new HashSet<string>();
        bool ok = true;

        // Values: the input and each node's output, each defined once.
        var producers = new Dictionary<string, NodeDecl>();
        if (doc.InputName.Length == 0)
        {
            diagnostics.Add(BbcuDiagnostics.InvalidModel, map.At(doc.InputNode), file, "the input's \"name\" must not be empty");
            ok = false;
        }
        foreach (NodeDecl n in doc.Nodes)
        {
            if (n.Output == doc.InputName || producers.ContainsKey(n.Output))
            {
                diagnostics.Add(BbcuDiagnostics.DuplicateValue, map.At(n.OutputNode), file, n.Output);
                ok = false;
                continue;
            }
            producers.Add(n.Output, n);
        }

        // Ops, arity, attributes, undefined reads.
        foreach (NodeDecl n in doc.Nodes)
        {
            if (!OpRegistry.TryGet(n.Op, out OpDefinition spec))
            {
                diagnostics.Add(BbcuDiagnostics.UnknownOp, map.At(n.OpNode), file, n.Label, n.Op, SupportedOps);
                ok = false;
                continue;
            }
            if (n.Inputs.Count != spec.Arity)
            {
                JsonNode at = n.Object.Property("inputs")!.Value;
                diagnostics.Add(BbcuDiagnostics.InvalidModel, map.At(at), file, $"node '{n.Label}': op '{n.Op}' takes {spec.Arity} input(s) but {n.Inputs.Count} are listed");
                ok = false;
            }
            foreach (JsonProperty p in n.Object.Properties)
            {
                if (CommonKeys.Contains(p.Name) || spec.Properties.Contains(p.Name))
                    continue;
                string allowed = string.Join(", ", spec.Properties);
                diagnostics.Add(BbcuDiagnostics.InvalidModel, map.AtName(p), file,
                    $"node '{n.Label}': op '{n.Op}' has no property \"{p.Name}\"" + (allowed.Length > 0 ? $"; it takes {allowed}" : ""));
                ok = false;
            }
            foreach (var (name, node) in n.Inputs)
                if (name != doc.InputName && !producers.ContainsKey(name))
                {
                    diagnostics.Add(BbcuDiagnostics.UndefinedValue, map.At(node), file, n.Label, name);
                    ok = false;
                }
        }
        if (doc.Output != doc.InputName && !producers.ContainsKey(doc.Output))
        {
            diagnostics.Add(BbcuDiagnostics.InvalidModel, map.At(doc.OutputNode), file,
                $"the model output '{doc.Output}' is neither the model input nor produced by any node; name a node's \"output\" in \"outputs\"");
            ok = false;
        }
        if (!ok) return null;

        // Every tensor the graph names counts as used, even in nodes skipped after an earlier error.
        foreach (NodeDecl n in doc.Nodes)
        {
            OpRegistry.TryGet(n.Op, out OpDefinition spec);
            foreach (string a in spec.Tensors)
                if (n.Object.Property(a)?.Value is { Kind: JsonKind.String } v) used.Add(v.String);
        }

        // Topological order (Kahn); what is left over lies on or behind a cycle.
        List<NodeDecl>? order = TopologicalOrder(doc, producers, out List<NodeDecl> stuck);
        if (order is null)
        {
            string names = string.Join(" → ", stuck.Select(s => $"'{s.Label}'"));
            diagnostics.Add(BbcuDiagnostics.Cycle, map.At(stuck[0].Object.Start, 1), file, names);
            return null;
        }

        // Nodes whose output never reaches the model output.
        var live = new HashSet<string>();
        var pending = new Stack<string>();
        pending.Push(doc.Output);
        while (pending.Count > 0)
        {
            string v = pending.Pop();
            if (!live.Add(v) || !producers.TryGetValue(v, out NodeDecl? p)) continue;
            foreach (var (name, _) in p.Inputs) pending.Push(name);
        }

        // Shapes, in order.
        var values = new Dictionary<string, Value> { [doc.InputName] = new Value(doc.InputName, doc.InputChannels) };
        var nodes = new List<GraphNode>();
        var dead = new List<NodeDecl>();
        foreach (NodeDecl n in order)
        {
            var inputs = n.Inputs.Select(i => values.TryGetValue(i.Name, out Value? v) ? v : null).ToArray();
            if (inputs.Any(v => v is null)) { ok = false; continue; } // an earlier node failed
            OpRegistry.TryGet(n.Op, out OpDefinition op);
            GraphNode? g = CheckNode(n, inputs!, op, map, entries, loaded, used, weights, weightsName, diagnostics);
            if (g is null) { ok = false; continue; }
            values[n.Output] = g.Output;
            if (live.Contains(n.Output)) nodes.Add(g);
            else dead.Add(n);
        }
        // Dead nodes only in a graph without errors: after one (a node reading the wrong value, say), the
        // values it leaves unread are no reason to "remove the node", and would bury the one error in warnings.
        if (ok)
            foreach (NodeDecl n in dead)
                diagnostics.Add(BbcuDiagnostics.UnusedValue, map.At(n.OutputNode), file, n.Label, n.Output);

        // One warning for all of them: a checkpoint with optimizer state or EMA copies can hold thousands.
        var unused = weights.Tensors.Where(e => !used.Contains(e.Name)).Select(e => e.Name).ToList();
        if (unused.Count > 0)
            diagnostics.Add(BbcuDiagnostics.TensorUnused, LocationInfo.FileStart(weightsPath), weightsName, unused.Count, doc.Name, FewNames(unused));

        if (!ok || !values.TryGetValue(doc.Output, out Value? output)) return null;
        return new ValidatedModel(doc.Name, file, values[doc.InputName], output, nodes);
    }

    /// <summary>The first few names, quoted, and how many more.</summary>
    private static string FewNames(List<string> names)
    {
        const int Shown = 5;
        string few = string.Join(", ", names.Take(Shown).Select(n => $"'{n}'"));
        return names.Count <= Shown ? few : $"{few} and {names.Count - Shown} more";
    }

    private static List<NodeDecl>? TopologicalOrder(ModelDocument doc, Dictionary<string, NodeDecl> producers, out List<NodeDecl> stuck)
    {
        var indegree = new Dictionary<NodeDecl, int>();
        var consumers = new Dictionary<string, List<NodeDecl>>();
        foreach (NodeDecl n in doc.Nodes)
        {
            int d = 0;
            foreach (var (name, _) in n.Inputs)
            {
                if (!producers.ContainsKey(name)) continue;
                d++;
                if (!consumers.TryGetValue(name, out var list)) consumers[name] = list = new List<NodeDecl>();
                list.Add(n);
            }
            indegree[n] = d;
        }
        var ready = new Queue<NodeDecl>(doc.Nodes.Where(n => indegree[n] == 0));
        var order = new List<NodeDecl>();
        while (ready.Count > 0)
        {
            NodeDecl n = ready.Dequeue();
            order.Add(n);
            if (!consumers.TryGetValue(n.Output, out var list)) continue;
            foreach (NodeDecl c in list)
                if (--indegree[c] == 0) ready.Enqueue(c);
        }
        stuck = doc.Nodes.Where(n => indegree[n] > 0).ToList();
        // Keep only nodes on a cycle: drop, until none is left, those whose output no stuck node reads.
        while (true)
        {
            var read = new HashSet<string>(stuck.SelectMany(s => s.Inputs).Select(i => i.Name));
            if (stuck.RemoveAll(n => !read.Contains(n.Output)) == 0) break;
        }
        return stuck.Count == 0 ? order : null;
    }

    private static GraphNode? CheckNode(NodeDecl n, Value[] inputs, OpDefinition spec, SourceMap map, Dictionary<string, TensorEntry> entries,
        Dictionary<string, Tensor?> loaded, HashSet<string> used, SafetensorsFile weights, string weightsName, DiagnosticBag diagnostics)
    {
        string file = map.FileName;
        bool ok = true;
        var tensors = new Dictionary<string, (Tensor Tensor, LocationInfo Location)>();
        foreach (string attr in spec.Tensors)
        {
            JsonProperty? p = n.Object.Property(attr);
            if (p is null)
            {
                if (spec.RequiredTensors.Contains(attr))
                {
                    diagnostics.Add(BbcuDiagnostics.InvalidModel, map.At(n.Object.Start, 1), file, $"node '{n.Label}': op '{n.Op}' needs a \"{attr}\" tensor (a state_dict key)");
                    ok = false;
                }
                continue;
            }
            if (p.Value.Kind == JsonKind.Null && !spec.RequiredTensors.Contains(attr)) continue;
            if (p.Value.Kind != JsonKind.String)
            {
                diagnostics.Add(BbcuDiagnostics.InvalidModel, map.At(p.Value), file, $"node '{n.Label}': \"{attr}\" must name a tensor (a string), not {p.Value.KindName}");
                ok = false;
                continue;
            }
            string key = p.Value.String;
            LocationInfo at = map.At(p.Value);
            used.Add(key);
            if (!entries.TryGetValue(key, out TensorEntry? entry))
            {
                diagnostics.Add(BbcuDiagnostics.TensorMissing, at, file, n.Label, key, weightsName);
                ok = false;
                continue;
            }
            if (!loaded.TryGetValue(key, out Tensor? tensor))
            {
                tensor = Load(entry, weights, at, weightsName, diagnostics);
                loaded[key] = tensor;
            }
            if (tensor is null) { ok = false; continue; }
            tensors[attr] = (tensor, at);
        }
        var numbers = new Dictionary<string, double>();
        foreach (string attr in spec.RequiredNumbers.Concat(spec.OptionalNumbers))
        {
            JsonProperty? p = n.Object.Property(attr);
            if (p is null)
            {
                if (spec.RequiredNumbers.Contains(attr))
                {
                    diagnostics.Add(BbcuDiagnostics.InvalidModel, map.At(n.Object.Start, 1), file, $"node '{n.Label}': op '{n.Op}' needs a number \"{attr}\"");
                    ok = false;
                }
                continue;
            }
            if (p.Value.Kind != JsonKind.Number || double.IsNaN(p.Value.Number) || float.IsInfinity((float)p.Value.Number))
            {
                diagnostics.Add(BbcuDiagnostics.InvalidModel, map.At(p.Value), file, $"node '{n.Label}': \"{attr}\" must be a finite number within the float32 range (the model computes in float32)");
                ok = false;
                continue;
            }
            numbers[attr] = p.Value.Number;
        }
        if (!ok) return null;

        LocationInfo nodeAt = map.At(n.OpNode);
        // What only the op knows: its tensors' shapes, its attributes' ranges, its output's channels and size.
        var check = new NodeCheck(n, inputs, tensors, numbers, map, diagnostics);
        spec.Infer(check);
        ok = check.Ok;
        int cout = check.OutChannels, scale = check.OutScale;
        if (ok && scale > MaxScale)
        {
            diagnostics.Add(BbcuDiagnostics.Unsupported, nodeAt, file, n.Label, $"its output would be {scale}× the input size; at most {MaxScale}× is supported");
            ok = false;
        }
        if (!ok) return null;

        var g = new GraphNode(spec, n.Label, inputs, new Value(n.Output, cout, scale), nodeAt);
        foreach (var kv in check.Strings) g.Strings[kv.Key] = kv.Value;
        foreach (var kv in tensors)
        {
            g.Tensors[kv.Key] = kv.Value.Tensor;
            g.TensorLocations[kv.Key] = kv.Value.Location;
        }
        foreach (var kv in numbers) g.Scalars[kv.Key] = kv.Value;
        return g;
    }

    private static Tensor? Load(TensorEntry entry, SafetensorsFile weights, LocationInfo at, string weightsName, DiagnosticBag diagnostics)
    {
        if (entry.Dtype != "F32" && entry.Dtype != "F16" && entry.Dtype != "BF16")
        {
            diagnostics.Add(BbcuDiagnostics.TensorDtype, at, weightsName, entry.Name, entry.Dtype);
            return null;
        }
        float[] data = weights.ReadFloats(entry);
        int bad = 0, first = -1;
        for (int i = 0; i < data.Length; i++)
            if (float.IsNaN(data[i]) || float.IsInfinity(data[i]))
            {
                if (bad++ == 0) first = i;
            }
        if (bad > 0)
        {
            diagnostics.Add(BbcuDiagnostics.NonFiniteWeight, at, weightsName, entry.Name, bad, first);
            return null;
        }
        return new Tensor(entry.Name, entry.Shape, data);
    }

    public static string ShapeText(this Tensor t) => string.Join(", ", t.Shape);
}
