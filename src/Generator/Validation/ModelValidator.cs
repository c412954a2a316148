using System;
using System.Collections.Generic;
using System.Linq;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Parsing;

namespace Bbcu.Generator.Validation;

/// <summary>
/// Stage 2: checks the graph (values defined once, no undefined reads, no cycles), resolves every
/// tensor in the weights file (presence, dtype, finiteness, shape) and infers each value's channels.
/// </summary>
internal static class ModelValidator
{
    /// <summary>What each op takes: its number of inputs, tensors (required/optional) and numbers.</summary>
    private sealed record OpSpec(int Arity, string[] RequiredTensors, string[] OptionalTensors, string[] RequiredNumbers, string[] OptionalNumbers)
    {
        /// <summary>Other properties the op's own check reads (strings, booleans).</summary>
        public string[] Other { get; init; } = Array.Empty<string>();
    }

    private static readonly Dictionary<string, OpSpec> Ops = new()
    {
        ["conv2d"] = new(1, new[] { "weight" }, new[] { "bias" }, Array.Empty<string>(), new[] { "padding" }),
        ["binary_conv2d"] = new(1, new[] { "weight" }, new[] { "input_bias", "bias" }, Array.Empty<string>(), Array.Empty<string>()),
        ["rprelu"] = new(1, new[] { "bias0", "slope", "bias1" }, Array.Empty<string>(), Array.Empty<string>(), Array.Empty<string>()),
        ["prelu"] = new(1, new[] { "slope" }, Array.Empty<string>(), Array.Empty<string>(), Array.Empty<string>()),
        ["relu"] = new(1, Array.Empty<string>(), Array.Empty<string>(), Array.Empty<string>(), Array.Empty<string>()),
        ["leaky_relu"] = new(1, Array.Empty<string>(), Array.Empty<string>(), new[] { "negative_slope" }, Array.Empty<string>()),
        ["add"] = new(2, Array.Empty<string>(), Array.Empty<string>(), Array.Empty<string>(), Array.Empty<string>()),
        ["sub"] = new(2, Array.Empty<string>(), Array.Empty<string>(), Array.Empty<string>(), Array.Empty<string>()),
        ["mul"] = new(1, Array.Empty<string>(), Array.Empty<string>(), new[] { "scalar" }, Array.Empty<string>()),
        ["div"] = new(1, Array.Empty<string>(), Array.Empty<string>(), new[] { "scalar" }, Array.Empty<string>()),
        ["pixel_shuffle"] = new(1, Array.Empty<string>(), Array.Empty<string>(), new[] { "factor" }, Array.Empty<string>()),
        ["upsample"] = new(1, Array.Empty<string>(), Array.Empty<string>(), new[] { "factor" }, Array.Empty<string>()) { Other = new[] { "mode", "align_corners" } },
        ["batch_norm"] = new(1, new[] { "weight", "bias", "running_mean", "running_var" }, Array.Empty<string>(), Array.Empty<string>(), new[] { "eps" }),
        ["channel_expand"] = new(1, Array.Empty<string>(), Array.Empty<string>(), new[] { "repeats" }, Array.Empty<string>()),
    };

    /// <summary>Largest pixel-shuffle or upsampling factor, and largest spatial scale of any value.</summary>
    public const int MaxFactor = 8;
    public const int MaxScale = 16;

    private static readonly HashSet<string> CommonKeys = new() { "op", "name", "inputs", "output", "comment" };

    public static string SupportedOps => string.Join(", ", Ops.Keys);

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
            if (!Ops.TryGetValue(n.Op, out OpSpec? spec))
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
                if (CommonKeys.Contains(p.Name) || spec.RequiredTensors.Contains(p.Name) || spec.OptionalTensors.Contains(p.Name)
                    || spec.RequiredNumbers.Contains(p.Name) || spec.OptionalNumbers.Contains(p.Name) || spec.Other.Contains(p.Name))
                    continue;
                string allowed = string.Join(", ", spec.RequiredTensors.Concat(spec.OptionalTensors).Concat(spec.RequiredNumbers).Concat(spec.OptionalNumbers).Concat(spec.Other));
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
            OpSpec spec = Ops[n.Op];
            foreach (string a in spec.RequiredTensors.Concat(spec.OptionalTensors))
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
        foreach (NodeDecl n in order)
        {
            var inputs = n.Inputs.Select(i => values.TryGetValue(i.Name, out Value? v) ? v : null).ToArray();
            if (inputs.Any(v => v is null)) { ok = false; continue; } // an earlier node failed
            GraphNode? g = CheckNode(n, inputs!, Ops[n.Op], map, entries, loaded, used, weights, weightsName, diagnostics);
            if (g is null) { ok = false; continue; }
            values[n.Output] = g.Output;
            if (live.Contains(n.Output)) nodes.Add(g);
            else diagnostics.Add(BbcuDiagnostics.UnusedValue, map.At(n.OutputNode), file, n.Label, n.Output);
        }

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

    private static GraphNode? CheckNode(NodeDecl n, Value[] inputs, OpSpec spec, SourceMap map, Dictionary<string, TensorEntry> entries,
        Dictionary<string, Tensor?> loaded, HashSet<string> used, SafetensorsFile weights, string weightsName, DiagnosticBag diagnostics)
    {
        string file = map.FileName;
        bool ok = true;
        var tensors = new Dictionary<string, (Tensor Tensor, LocationInfo Location)>();
        foreach (string attr in spec.RequiredTensors.Concat(spec.OptionalTensors))
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
        int cin = inputs[0].Channels;
        int cout = cin;
        int scale = inputs[0].Scale;
        var strings = new Dictionary<string, string>();
        int Factor(string attr, int min)
        {
            double f = numbers[attr];
            if (f == Math.Floor(f) && f >= min && f <= MaxFactor) return (int)f;
            diagnostics.Add(BbcuDiagnostics.Unsupported, map.At(n.Object.Property(attr)!.Value), file, n.Label,
                $"\"{attr}\" is {f}; an integer from {min} to {MaxFactor} is supported");
            ok = false;
            return 1;
        }
        void Shape(string attr, int[] expected, params int[][] alternatives)
        {
            var (t, at) = tensors[attr];
            if (Same(t.Shape, expected) || alternatives.Any(a => Same(t.Shape, a))) return;
            diagnostics.Add(BbcuDiagnostics.TensorShape, at, file, n.Label, t.Name, string.Join(", ", expected), string.Join(", ", t.Shape));
            ok = false;
        }
        void PerChannel(string attr, int channels, bool nchw)
        {
            if (!tensors.ContainsKey(attr)) return;
            if (nchw) Shape(attr, new[] { 1, channels, 1, 1 }, new[] { channels });
            else Shape(attr, new[] { channels });
        }
        void Channels(int expected, Value value, LocationInfo at)
        {
            if (expected == value.Channels) return;
            diagnostics.Add(BbcuDiagnostics.ChannelMismatch, at, file, n.Label, expected, value.Name, value.Channels);
            ok = false;
        }

        switch (n.Op)
        {
            case "conv2d":
            case "binary_conv2d":
            {
                var (w, wAt) = tensors["weight"];
                if (w.Shape.Length != 4)
                {
                    diagnostics.Add(BbcuDiagnostics.TensorShape, wAt, file, n.Label, w.Name, "Cout, Cin, k, k", w.ShapeText());
                    return null;
                }
                int k = w.Shape[2];
                bool binary = n.Op == "binary_conv2d";
                if (w.Shape[2] != w.Shape[3] || k % 2 == 0 || k > 11 || (binary && k != 3))
                {
                    diagnostics.Add(BbcuDiagnostics.Unsupported, wAt, file, n.Label,
                        $"kernel {w.Shape[2]}×{w.Shape[3]} of '{w.Name}' is not supported; " + (binary ? "binary convolutions must be 3×3" : "full-precision convolutions need a square odd kernel up to 11×11"));
                    return null;
                }
                cout = w.Shape[0];
                if (cout < 1 || cout > ModelParser.MaxChannels || w.Shape[1] < 1)
                {
                    diagnostics.Add(BbcuDiagnostics.Unsupported, wAt, file, n.Label, $"'{w.Name}' has {cout} output channels; 1 to {ModelParser.MaxChannels} are supported");
                    return null;
                }
                Channels(w.Shape[1], inputs[0], wAt);
                PerChannel("bias", cout, nchw: false);
                if (binary) PerChannel("input_bias", cin, nchw: true);
                if (numbers.TryGetValue("padding", out double pad) && pad != k / 2)
                {
                    diagnostics.Add(BbcuDiagnostics.Unsupported, map.At(n.Object.Property("padding")!.Value), file, n.Label,
                        $"padding {pad} is not supported; a {k}×{k} convolution uses 'same' zero padding {k / 2}");
                    ok = false;
                }
                break;
            }
            case "rprelu":
                PerChannel("bias0", cin, nchw: true);
                PerChannel("bias1", cin, nchw: true);
                Shape("slope", new[] { cin }, new[] { 1 });
                break;
            case "prelu":
                Shape("slope", new[] { cin }, new[] { 1 });
                break;
            case "add":
            case "sub":
                Channels(cin, inputs[1], map.At(n.Inputs[1].Node));
                if (inputs[1].Scale != scale)
                {
                    diagnostics.Add(BbcuDiagnostics.SizeMismatch, map.At(n.Inputs[1].Node), file, n.Label,
                        inputs[0].Name, inputs[0].Scale, inputs[1].Name, inputs[1].Scale);
                    ok = false;
                }
                break;
            case "pixel_shuffle":
            {
                int r = Factor("factor", 1);
                if (ok && cin % (r * r) != 0)
                {
                    diagnostics.Add(BbcuDiagnostics.ChannelMismatch, map.At(n.Inputs[0].Node), file, n.Label, $"a multiple of {r * r} (factor²)", inputs[0].Name, cin);
                    ok = false;
                }
                cout = cin / (r * r);
                scale *= r;
                break;
            }
            case "upsample":
            {
                int r = Factor("factor", 1);
                scale *= r;
                JsonNode? mode = n.Object.Property("mode")?.Value;
                JsonNode? corners = n.Object.Property("align_corners")?.Value;
                if (mode is null || mode.Kind != JsonKind.String || (mode.String != "nearest" && mode.String != "bilinear"))
                {
                    diagnostics.Add(BbcuDiagnostics.InvalidModel, mode is null ? map.At(n.Object.Start, 1) : map.At(mode), file,
                        $"node '{n.Label}': upsample needs \"mode\": \"nearest\" or \"bilinear\"");
                    ok = false;
                    break;
                }
                strings["mode"] = mode.String;
                if (corners is not null && corners.Kind != JsonKind.False)
                {
                    string why = corners.Kind == JsonKind.True
                        ? "align_corners = true is not supported (BBCU networks use false); export with align_corners=False"
                        : "\"align_corners\" must be false";
                    diagnostics.Add(mode.String == "nearest" ? BbcuDiagnostics.InvalidModel : BbcuDiagnostics.Unsupported, map.At(corners), file,
                        mode.String == "nearest" ? $"node '{n.Label}': nearest upsampling takes no \"align_corners\"" : n.Label, why);
                    ok = false;
                }
                break;
            }
            case "batch_norm":
                foreach (string t in new[] { "weight", "bias", "running_mean", "running_var" }) PerChannel(t, cin, nchw: false);
                if (numbers.TryGetValue("eps", out double eps) && !(eps > 0))
                {
                    diagnostics.Add(BbcuDiagnostics.InvalidModel, map.At(n.Object.Property("eps")!.Value), file, $"node '{n.Label}': \"eps\" must be positive");
                    ok = false;
                }
                if (ok && tensors["running_var"].Tensor.Data.Any(v => v < 0))
                {
                    diagnostics.Add(BbcuDiagnostics.InvalidModel, tensors["running_var"].Location, file, $"node '{n.Label}': running_var '{tensors["running_var"].Tensor.Name}' has negative entries; a variance is ≥ 0");
                    ok = false;
                }
                break;
            case "channel_expand":
            {
                double s = numbers["repeats"];
                if (s != Math.Floor(s) || s < 1 || s * cin + 1 > ModelParser.MaxChannels)
                {
                    diagnostics.Add(BbcuDiagnostics.Unsupported, map.At(n.Object.Property("repeats")!.Value), file, n.Label,
                        $"\"repeats\" is {s}; an integer ≥ 1 with repeats·channels + 1 ≤ {ModelParser.MaxChannels} is supported");
                    ok = false;
                    break;
                }
                cout = (int)s * cin + 1;
                break;
            }
            case "div":
                if ((float)numbers["scalar"] == 0f)
                {
                    diagnostics.Add(BbcuDiagnostics.InvalidModel, map.At(n.Object.Property("scalar")!.Value), file,
                        $"node '{n.Label}': division by zero (the scalar is 0 in float32); use a non-zero \"scalar\"");
                    ok = false;
                }
                break;
        }
        if (ok && scale > MaxScale)
        {
            diagnostics.Add(BbcuDiagnostics.Unsupported, nodeAt, file, n.Label, $"its output would be {scale}× the input size; at most {MaxScale}× is supported");
            ok = false;
        }
        if (!ok) return null;

        var g = new GraphNode(n.Op, n.Label, inputs, new Value(n.Output, cout, scale), nodeAt);
        foreach (var kv in strings) g.Strings[kv.Key] = kv.Value;
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

    private static bool Same(int[] a, int[] b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return false;
        return true;
    }

    public static string ShapeText(this Tensor t) => string.Join(", ", t.Shape);
}
