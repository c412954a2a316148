using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bbcu.Tests.Fuzzing;

/// <summary>A model file pair under mutation: the JSON text's UTF-8 bytes and the weights file's bytes.</summary>
internal sealed class FuzzCase
{
    public FuzzCase(byte[] json, byte[] weights)
    {
        Json = json;
        Weights = weights;
    }

    public byte[] Json { get; set; }
    public byte[] Weights { get; set; }

    /// <summary>The model text as the compiler decodes an AdditionalFiles item (UTF-8, invalid bytes replaced).</summary>
    public string JsonText => Encoding.UTF8.GetString(Json);

    public FuzzCase Clone() => new((byte[])Json.Clone(), (byte[])Weights.Clone());
}

/// <summary>
/// Byte- and structure-level mutations of a valid model/weights pair: truncation, bit flips, spans
/// deleted or repeated, hostile numbers and strings, deep nesting, duplicate keys, rewired graphs,
/// safetensors length fields set huge or negative-as-unsigned, offsets overlapping or out of range,
/// wrong dtypes, zero-sized and giant shapes, NaN/Inf/denormal weights, duplicate tensor names.
/// Each mutator is named, so that a failure says which one made the case.
/// </summary>
internal static class Mutators
{
    private const string NumberPattern = "number";
    private const string StringPattern = "string";

    private static readonly string[] HostileNumbers =
    {
        "1e309", "-1e309", "NaN", "Infinity", "-0", "4.9e-324", "1e-320", "99999999999999999999", "-1", "0", "2147483648",
        "-2147483649", "1.5", "1e9", "4096", "4097", "65", "0.0", "1e-45", "3.4028235e38", "18446744073709551616", "01", "1.", ".5", "+1", "0x10",
    };

    public static readonly (string Name, Action<Random, FuzzCase> Apply)[] All =
    {
        ("json.truncate", (r, c) => c.Json = c.Json[..r.Next(c.Json.Length)]),
        ("json.flip-bits", (r, c) => FlipBits(r, c.Json)),
        ("json.delete-span", (r, c) => c.Json = DeleteSpan(r, c.Json)),
        ("json.repeat-span", (r, c) => c.Json = RepeatSpan(r, c.Json)),
        ("json.insert-chars", (r, c) => c.Json = InsertChars(r, c.Json)),
        ("json.hostile-number", (r, c) => c.Json = ReplaceToken(r, c.Json, NumberPattern, HostileNumbers)),
        ("json.hostile-string", (r, c) => c.Json = ReplaceToken(r, c.Json, StringPattern, HostileStrings(r, c.Json))),
        ("json.deep-nesting", (r, c) => c.Json = DeepNesting(r, c.Json)),
        ("json.duplicate-key", (r, c) => c.Json = DuplicateKey(r, c.Json)),
        ("json.drop-node", (r, c) => EditModel(c, r, DropNode)),
        ("json.rewire", (r, c) => EditModel(c, r, Rewire)),
        ("json.channels", (r, c) => EditModel(c, r, Channels)),
        ("json.op", (r, c) => EditModel(c, r, ChangeOp)),
        ("json.attribute", (r, c) => EditModel(c, r, ChangeAttribute)),
        ("json.rename", (r, c) => EditModel(c, r, RenameValue)),
        ("st.truncate", (r, c) => c.Weights = c.Weights[..r.Next(c.Weights.Length)]),
        ("st.flip-bits", (r, c) => FlipBits(r, c.Weights, headerBias: true)),
        ("st.header-length", (r, c) => HeaderLength(r, c)),
        ("st.offsets", (r, c) => EditHeader(c, r, Offsets)),
        ("st.shape", (r, c) => EditHeader(c, r, Shape)),
        ("st.dtype", (r, c) => EditHeader(c, r, Dtype)),
        ("st.rename", (r, c) => EditHeader(c, r, Rename)),
        ("st.duplicate-name", (r, c) => DuplicateTensorName(r, c)),
        ("st.values", (r, c) => HostileValues(r, c)),
        ("st.header-text", (r, c) => HeaderText(r, c)),
        ("st.metadata", (r, c) => EditHeader(c, r, Metadata)),
    };


    private static string[] HostileStrings(Random r, byte[] json)
    {
        var fromDoc = Tokens(json, StringPattern).Select(t => Encoding.UTF8.GetString(json, t.Start, t.Length)).Distinct().ToArray();
        return new[]
        {
            "\"\"", "\"\\u0000\"", "\"\\ud800\"", "\"" + new string('a', 100_000) + "\"", "\"名前\"", "\"../../etc/passwd\"", "\"nearest\"", "\"bilinear\"",
            "\"conv2d\"", "\"binary_conv2d\"", "\"add\"", "\"x\"", "\"\\\"\"", "\"\\q\"", "\"a\nb\"",
            "\"a\\u2028public static int Injected = 1;//\"", "\"\\u0085x\"", "\"\u2029\"", "\"*/ \\r\\n #error x\"",
            fromDoc.Length > 0 ? fromDoc[r.Next(fromDoc.Length)] : "\"x\"",
        };
    }

    private static void FlipBits(Random r, byte[] bytes, bool headerBias = false)
    {
        if (bytes.Length == 0) return;
        int n = 1 + r.Next(8);
        int headerEnd = bytes.Length >= 8 ? (int)Math.Min(bytes.Length, 8 + Math.Max(0, Math.Min(int.MaxValue - 8L, BinaryPrimitives.ReadInt64LittleEndian(bytes)))) : bytes.Length;
        for (int i = 0; i < n; i++)
        {
            int at = headerBias && r.Next(2) == 0 ? r.Next(headerEnd) : r.Next(bytes.Length);
            bytes[at] ^= (byte)(1 << r.Next(8));
        }
    }

    private static byte[] DeleteSpan(Random r, byte[] b)
    {
        if (b.Length == 0) return b;
        int at = r.Next(b.Length), len = Math.Min(b.Length - at, 1 + r.Next(64));
        return b[..at].Concat(b[(at + len)..]).ToArray();
    }

    private static byte[] RepeatSpan(Random r, byte[] b)
    {
        if (b.Length == 0) return b;
        int at = r.Next(b.Length), len = Math.Min(b.Length - at, 1 + r.Next(200));
        int to = r.Next(b.Length + 1);
        int times = r.Next(4) == 0 ? 1 + r.Next(2000) : 1;
        var span = b[at..(at + len)];
        return b[..to].Concat(Enumerable.Repeat(span, times).SelectMany(s => s)).Concat(b[to..]).ToArray();
    }

    private static byte[] InsertChars(Random r, byte[] b)
    {
        const string alphabet = "{}[]\",:0123456789-+eE. \t\n\\/ntfuaslr\u0000\u00e9\uffff";
        var sb = new StringBuilder();
        int n = 1 + r.Next(8);
        for (int i = 0; i < n; i++) sb.Append(alphabet[r.Next(alphabet.Length)]);
        byte[] ins = Encoding.UTF8.GetBytes(sb.ToString());
        if (r.Next(8) == 0) ins = new[] { (byte)0xC3 }; // a lone UTF-8 lead byte
        int at = r.Next(b.Length + 1);
        return b[..at].Concat(ins).Concat(b[at..]).ToArray();
    }

    /// <summary>Spans of JSON number or string tokens (a light tokenizer; the input is valid JSON or close to it).</summary>
    private static List<(int Start, int Length)> Tokens(byte[] b, string kind)
    {
        var list = new List<(int, int)>();
        for (int i = 0; i < b.Length; i++)
        {
            if (b[i] == '"')
            {
                int j = i + 1;
                while (j < b.Length && b[j] != '"') j += b[j] == '\\' ? 2 : 1;
                if (kind == StringPattern && j < b.Length) list.Add((i, j - i + 1));
                i = j;
            }
            else if (b[i] == '-' || (b[i] >= '0' && b[i] <= '9'))
            {
                int j = i;
                while (j < b.Length && "-+.eE0123456789".IndexOf((char)b[j]) >= 0) j++;
                if (kind == NumberPattern) list.Add((i, j - i));
                i = j - 1;
            }
        }
        return list;
    }

    private static byte[] ReplaceToken(Random r, byte[] b, string kind, string[] choices)
    {
        var tokens = Tokens(b, kind);
        if (tokens.Count == 0) return b;
        var (start, len) = tokens[r.Next(tokens.Count)];
        byte[] with = Encoding.UTF8.GetBytes(choices[r.Next(choices.Length)]);
        return b[..start].Concat(with).Concat(b[(start + len)..]).ToArray();
    }

    private static byte[] DeepNesting(Random r, byte[] b)
    {
        // Replace a value with `[[[…0…]]]` (or `{"a":{"a":…}}`) nested 50 to 100 000 levels.
        var tokens = Tokens(b, r.Next(2) == 0 ? NumberPattern : StringPattern);
        if (tokens.Count == 0) return b;
        var (start, len) = tokens[r.Next(tokens.Count)];
        int depth = new[] { 50, 63, 64, 65, 200, 10_000, 100_000 }[r.Next(7)];
        bool objects = r.Next(2) == 0;
        var sb = new StringBuilder();
        for (int i = 0; i < depth; i++) sb.Append(objects ? "{\"a\":" : "[");
        sb.Append('0');
        for (int i = 0; i < depth; i++) sb.Append(objects ? '}' : ']');
        if (r.Next(4) == 0) sb.Length -= depth / 2; // unbalanced
        return b[..start].Concat(Encoding.UTF8.GetBytes(sb.ToString())).Concat(b[(start + len)..]).ToArray();
    }

    private static byte[] DuplicateKey(Random r, byte[] b)
    {
        // Copy a `"key": value,` member right after itself.
        string text = Encoding.UTF8.GetString(b);
        var keys = System.Text.RegularExpressions.Regex.Matches(text, "\"[a-z_]+\"\\s*:\\s*(\"[^\"]*\"|-?[0-9.eE+-]+|true|false|null),");
        if (keys.Count == 0) return b;
        var m = keys[r.Next(keys.Count)];
        return Encoding.UTF8.GetBytes(text.Insert(m.Index + m.Length, m.Value));
    }

    // ----- structure-level edits of the model document (System.Text.Json.Nodes) -----

    private static void EditModel(FuzzCase c, Random r, Action<Random, JsonObject> edit)
    {
        JsonObject doc;
        try
        {
            doc = JsonNode.Parse(c.Json)!.AsObject();
            _ = doc.Count; // materialises the members: duplicate keys (an earlier mutation) throw here
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or ArgumentException) { return; }
        try
        {
            edit(r, doc);
            c.Json = Encoding.UTF8.GetBytes(doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
        {
            // An earlier mutation left text System.Text.Json cannot re-serialise (a lone surrogate escape, …): skip this one.
        }
    }

    private static JsonArray? Nodes(JsonObject doc) => doc["nodes"] as JsonArray;

    private static void DropNode(Random r, JsonObject doc)
    {
        if (Nodes(doc) is { Count: > 0 } nodes) nodes.RemoveAt(r.Next(nodes.Count));
    }

    private static void Rewire(Random r, JsonObject doc)
    {
        if (Nodes(doc) is not { Count: > 0 } nodes) return;
        var names = nodes.Select(n => n?["output"]?.GetValue<string>()).Where(n => n is not null).Append("x").Append("nope").ToList();
        var node = nodes[r.Next(nodes.Count)]!.AsObject();
        if (node["inputs"] is JsonArray inputs && inputs.Count > 0)
        {
            int which = r.Next(inputs.Count);
            switch (r.Next(4))
            {
                case 0: inputs[which] = names[r.Next(names.Count)]; break;                  // any value, a later one (cycle) included
                case 1: inputs[which] = node["output"]?.GetValue<string>(); break;           // its own output
                case 2: inputs.Add(names[r.Next(names.Count)]); break;                       // one input too many
                default: inputs.Clear(); break;                                              // none
            }
        }
        if (r.Next(4) == 0 && doc["outputs"] is JsonArray outs && outs.Count > 0) outs[0] = names[r.Next(names.Count)];
        if (r.Next(6) == 0) node["output"] = names[r.Next(names.Count)];                    // a duplicate output name
    }

    /// <summary>Names that try to leave a comment or literal of the generated source (C# ends a line comment at U+0085, U+2028, U+2029 too).</summary>
    private static readonly string[] HostileNames =
    {
        "a\u2028public static int Injected = 1;//", "b\u2029} class Injected2 { //", "c\u0085#error injected", "d\r\npublic static int Injected3;",
        "*/ public static int Injected4; /*", "</summary><code>", "\"; } static int Injected5 = \"", "\\", "{0}{1}", " ", "é名前", new string('n', 5000),
    };

    /// <summary>Renames the model, its description, a node's label or a value (everywhere it is used) to a hostile name.</summary>
    private static void RenameValue(Random r, JsonObject doc)
    {
        string name = HostileNames[r.Next(HostileNames.Length)];
        var nodes = Nodes(doc);
        switch (r.Next(4))
        {
            case 0: doc["name"] = name; break;
            case 1: doc["description"] = name; break;
            case 2:
                if (nodes is { Count: > 0 } && nodes[r.Next(nodes.Count)] is JsonObject node) node["name"] = name;
                break;
            default:
                if (nodes is not { Count: > 0 } || nodes[r.Next(nodes.Count)]?["output"]?.GetValue<string>() is not string old) break;
                foreach (JsonNode? n in nodes)
                {
                    if (n is not JsonObject o) continue;
                    if (o["output"]?.GetValue<string>() == old) o["output"] = name;
                    if (o["inputs"] is JsonArray ins)
                        for (int i = 0; i < ins.Count; i++)
                            if (ins[i]?.GetValue<string>() == old) ins[i] = name;
                }
                if (doc["outputs"] is JsonArray outs)
                    for (int i = 0; i < outs.Count; i++)
                        if (outs[i]?.GetValue<string>() == old) outs[i] = name;
                break;
        }
    }

    private static void Channels(Random r, JsonObject doc)
    {
        if (doc["inputs"] is JsonArray { Count: > 0 } inputs && inputs[0] is JsonObject input)
            input["channels"] = new[] { 0, -1, 1, 2, 4, 64, 4096, 4097, int.MaxValue, int.MinValue }[r.Next(10)];
    }

    private static readonly string[] Ops =
    {
        "conv2d", "binary_conv2d", "sign", "add", "sub", "mul", "div", "relu", "prelu", "leaky_relu", "rprelu", "pixel_shuffle",
        "upsample", "batch_norm", "channel_expand", "learnable_bias", "concat", "nope", "",
    };

    private static void ChangeOp(Random r, JsonObject doc)
    {
        if (Nodes(doc) is { Count: > 0 } nodes && nodes[r.Next(nodes.Count)] is JsonObject node) node["op"] = Ops[r.Next(Ops.Length)];
    }

    private static readonly string[] Attributes = { "stride", "padding", "groups", "dilation", "factor", "scale", "mode", "align_corners", "scalar", "eps", "negative_slope", "repeats", "bias", "weight", "kernel_size" };

    private static void ChangeAttribute(Random r, JsonObject doc)
    {
        if (Nodes(doc) is not { Count: > 0 } nodes || nodes[r.Next(nodes.Count)] is not JsonObject node) return;
        string attr = Attributes[r.Next(Attributes.Length)];
        JsonNode? value = r.Next(6) switch
        {
            0 => JsonValue.Create(r.Next(-3, 20)),
            1 => JsonValue.Create(1e300),
            2 => JsonValue.Create("nearest"),
            3 => JsonValue.Create(true),
            4 => new JsonArray(1, 2, 3),
            _ => null,
        };
        if (value is null) node.Remove(attr);
        else node[attr] = value;
    }

    // ----- safetensors -----

    private static void HeaderLength(Random r, FuzzCase c)
    {
        if (c.Weights.Length < 8) return;
        long n = BinaryPrimitives.ReadInt64LittleEndian(c.Weights);
        ulong[] values = { 0, 1, 2, (ulong)n - 1, (ulong)n + 1, (ulong)c.Weights.Length, (ulong)c.Weights.Length - 8, 100_000_000, 100_000_001,
            int.MaxValue, (ulong)long.MaxValue, ulong.MaxValue, ulong.MaxValue - 7, 1UL << 32 };
        BinaryPrimitives.WriteUInt64LittleEndian(c.Weights, values[r.Next(values.Length)]);
    }

    /// <summary>Parses the header, lets <paramref name="edit"/> change it, and writes the file back with a correct length field.</summary>
    private static void EditHeader(FuzzCase c, Random r, Action<Random, JsonObject> edit)
    {
        if (c.Weights.Length < 8) return;
        long n = BinaryPrimitives.ReadInt64LittleEndian(c.Weights);
        if (n < 2 || n > c.Weights.Length - 8) return;
        JsonObject header;
        try
        {
            header = JsonNode.Parse(c.Weights.AsSpan(8, (int)n))!.AsObject();
            _ = header.Count; // duplicate keys throw here
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or ArgumentException) { return; }
        byte[] h;
        try
        {
            edit(r, header);
            h = Encoding.UTF8.GetBytes(header.ToJsonString());
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
        {
            return; // (as in EditModel)
        }
        c.Weights = WithHeader(c.Weights, n, h);
    }

    private static List<JsonObject> TensorEntries(JsonObject header) =>
        header.Where(p => p.Key != "__metadata__" && p.Value is JsonObject).Select(p => p.Value!.AsObject()).ToList();

    private static void Offsets(Random r, JsonObject header)
    {
        var entries = TensorEntries(header);
        if (entries.Count == 0) return;
        JsonObject t = entries[r.Next(entries.Count)];
        if (t["data_offsets"] is not JsonArray { Count: 2 } o) return;
        long begin = o[0]!.GetValue<long>(), end = o[1]!.GetValue<long>();
        JsonObject other = entries[r.Next(entries.Count)];
        long oBegin = other["data_offsets"]![0]!.GetValue<long>();
        (JsonNode? a, JsonNode? b) = r.Next(9) switch
        {
            0 => (JsonValue.Create(end), JsonValue.Create(begin)),                       // reversed
            1 => (JsonValue.Create(oBegin), JsonValue.Create(oBegin + (end - begin))),   // overlapping another tensor
            2 => (JsonValue.Create(begin + 4), JsonValue.Create(end + 4)),               // shifted past its neighbour / the end
            3 => (JsonValue.Create(-4L), JsonValue.Create(end)),                         // negative
            4 => (JsonValue.Create(begin), JsonValue.Create(long.MaxValue)),             // huge
            5 => (JsonValue.Create(begin), JsonValue.Create(18446744073709551615.0)),    // 2^64 as a number
            6 => (JsonValue.Create(begin + 0.5), JsonValue.Create(end)),                 // not an integer
            7 => (JsonValue.Create(begin), JsonValue.Create(end - 4)),                   // one element short
            _ => (JsonValue.Create(begin), JsonValue.Create(end * 1000)),                // beyond the file
        };
        t["data_offsets"] = new JsonArray(a, b);
    }

    private static void Shape(Random r, JsonObject header)
    {
        var entries = TensorEntries(header);
        if (entries.Count == 0) return;
        JsonObject t = entries[r.Next(entries.Count)];
        JsonArray shape = r.Next(8) switch
        {
            0 => new JsonArray(),
            1 => new JsonArray(0, 3, 3, 3),
            2 => new JsonArray(2147483648L, 2147483648L, 9, 9),
            3 => new JsonArray(-1, 4, 3, 3),
            4 => new JsonArray(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
            5 => new JsonArray(65536, 65536, 65536, 65536),
            6 => new JsonArray(3.5, 2),
            _ => new JsonArray(1),
        };
        t["shape"] = shape;
        if (r.Next(3) == 0 && t["data_offsets"] is JsonArray o)
        {
            // Make the offsets agree with a giant element count, so the size check alone cannot catch it.
            long begin = o[0]!.GetValue<long>();
            long giant = unchecked(4L * 2147483648L * 2147483648L * 81L); // wraps, as a careless reader's product would
            t["data_offsets"] = new JsonArray(JsonValue.Create(begin), JsonValue.Create(unchecked(begin + giant)));
        }
    }

    private static readonly string[] Dtypes = { "F16", "BF16", "F64", "I64", "I32", "I8", "U8", "BOOL", "F8_E4M3", "f32", "F32 ", "", "XYZ" };

    private static void Dtype(Random r, JsonObject header)
    {
        var entries = TensorEntries(header);
        if (entries.Count > 0) entries[r.Next(entries.Count)]["dtype"] = r.Next(10) == 0 ? JsonValue.Create(32) : Dtypes[r.Next(Dtypes.Length)];
    }

    private static void Rename(Random r, JsonObject header)
    {
        var keys = header.Select(p => p.Key).Where(k => k != "__metadata__").ToList();
        if (keys.Count == 0) return;
        string key = keys[r.Next(keys.Count)];
        JsonNode? value = header[key];
        header.Remove(key);
        switch (r.Next(3))
        {
            case 0: break;                                                   // tensor missing
            case 1: header[key + ".extra"] = value; break;                   // renamed
            default: header[key] = value; header["unused.weight"] = value?.DeepClone(); break; // an extra tensor aliasing the same bytes
        }
    }

    private static void Metadata(Random r, JsonObject header)
    {
        header["__metadata__"] = r.Next(4) switch
        {
            0 => new JsonObject { ["a"] = 1 },
            1 => new JsonObject { ["big"] = new string('m', 1 << 20) },
            2 => JsonValue.Create("not an object"),
            _ => new JsonArray(),
        };
    }

    private static void DuplicateTensorName(Random r, FuzzCase c)
    {
        // Text level (a JSON object model cannot hold duplicate keys): repeat one `"name":{…}` member.
        if (c.Weights.Length < 8) return;
        long n = BinaryPrimitives.ReadInt64LittleEndian(c.Weights);
        if (n < 2 || n > c.Weights.Length - 8) return;
        string text = Encoding.UTF8.GetString(c.Weights, 8, (int)n);
        var members = System.Text.RegularExpressions.Regex.Matches(text, "\"[^\"]+\":\\{[^{}]*\\}");
        if (members.Count == 0) return;
        var m = members[r.Next(members.Count)];
        string edited = text.Insert(m.Index + m.Length, "," + m.Value);
        byte[] h = Encoding.UTF8.GetBytes(edited);
        c.Weights = WithHeader(c.Weights, n, h);
    }

    private static void HostileValues(Random r, FuzzCase c)
    {
        if (c.Weights.Length < 8) return;
        long n = BinaryPrimitives.ReadInt64LittleEndian(c.Weights);
        if (n < 0 || 8 + n + 4 > c.Weights.Length) return;
        float[] values = { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e-45f, 1e-40f, -0f, 0f, float.MaxValue, -float.MaxValue, 1e30f };
        int dataStart = (int)(8 + n), count = (c.Weights.Length - dataStart) / 4;
        int k = 1 + r.Next(r.Next(3) == 0 ? count : 16);
        for (int i = 0; i < k; i++)
        {
            int at = dataStart + 4 * r.Next(count);
            BinaryPrimitives.WriteSingleLittleEndian(c.Weights.AsSpan(at), values[r.Next(values.Length)]);
        }
    }

    private static void HeaderText(Random r, FuzzCase c)
    {
        if (c.Weights.Length < 8) return;
        long n = BinaryPrimitives.ReadInt64LittleEndian(c.Weights);
        if (n < 0 || n > c.Weights.Length - 8) return;
        byte[] header = r.Next(6) switch
        {
            0 => Encoding.UTF8.GetBytes("{"),
            1 => new byte[] { 0xFF, 0xFE, (byte)'{', (byte)'}' },
            2 => Encoding.UTF8.GetBytes("[]"),
            3 => Encoding.UTF8.GetBytes("{}" + new string(' ', r.Next(64))),
            4 => Encoding.UTF8.GetBytes(new string('{', 10_000)),
            _ => c.Weights[8..(int)(8 + n)].Concat(new byte[] { 0 }).ToArray(),
        };
        c.Weights = WithHeader(c.Weights, n, header);
    }

    /// <summary>The safetensors file with its <paramref name="oldLength"/>-byte header replaced by <paramref name="header"/> (length field updated).</summary>
    private static byte[] WithHeader(byte[] weights, long oldLength, byte[] header)
    {
        byte[] data = weights[(int)(8 + oldLength)..];
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(file, header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }
}
