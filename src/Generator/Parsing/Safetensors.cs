using System;
using System.Collections.Generic;
using System.Text;

namespace Bbcu.Generator.Parsing;

/// <summary>One tensor's entry in a safetensors header.</summary>
internal sealed class TensorEntry
{
    public TensorEntry(string name, string dtype, int[] shape, long dataStart, long byteLength)
    {
        Name = name; Dtype = dtype; Shape = shape; DataStart = dataStart; ByteLength = byteLength;
    }

    public string Name { get; }
    public string Dtype { get; }
    public int[] Shape { get; }
    /// <summary>Offset of the first byte in the whole file.</summary>
    public long DataStart { get; }
    public long ByteLength { get; }

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }

    public string ShapeText => string.Join(", ", Shape);
}

internal sealed class SafetensorsException : Exception
{
    public SafetensorsException(string message) : base(message) { }
}

/// <summary>
/// Reads and validates a <c>.safetensors</c> file the way the reference implementation does:
/// 8-byte little-endian header length (capped at <see cref="MaxHeaderBytes"/>), a UTF-8 JSON object
/// header, known dtypes, <c>shape × dtype size = byte length</c>, offsets contiguous from 0 with no
/// holes or overlaps, and a data section whose length is exactly the last offset. Duplicate names
/// are rejected by the JSON reader.
/// </summary>
internal sealed class SafetensorsFile
{
    /// <summary>The reference implementation's limit on the header size (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Upper bound on the number of tensors, so a hostile header cannot make us loop for long.</summary>
    public const int MaxTensors = 1_000_000;

    private readonly byte[] _bytes;

    private SafetensorsFile(byte[] bytes, List<TensorEntry> tensors, Dictionary<string, string> metadata)
    {
        _bytes = bytes; Tensors = tensors; Metadata = metadata;
    }

    public IReadOnlyList<TensorEntry> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static int DtypeSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => 0,
    };

    public static SafetensorsFile Read(byte[] bytes)
    {
        if (bytes.Length < 8)
            throw new SafetensorsException($"the file is {bytes.Length} bytes long, shorter than the 8-byte header length");
        ulong headerLength = BitConverter.ToUInt64(bytes, 0);
        if (!BitConverter.IsLittleEndian) headerLength = Swap(headerLength);
        if (headerLength > MaxHeaderBytes)
            throw new SafetensorsException($"the header length field says {headerLength} bytes, over the {MaxHeaderBytes}-byte limit");
        if (headerLength > (ulong)(bytes.Length - 8))
            throw new SafetensorsException($"the header length field says {headerLength} bytes but only {bytes.Length - 8} bytes follow it");
        int n = (int)headerLength;
        if (n == 0 || bytes[8] != (byte)'{')
            throw new SafetensorsException("the header does not start with '{' (it must be a JSON object)");
        string headerText;
        try
        {
            headerText = new UTF8Encoding(false, true).GetString(bytes, 8, n);
        }
        catch (DecoderFallbackException)
        {
            throw new SafetensorsException("the header is not valid UTF-8");
        }
        JsonNode header;
        try
        {
            header = JsonReader.Parse(headerText);
        }
        catch (JsonParseException e)
        {
            var (line, col) = JsonReader.LineColumn(headerText, e.Position);
            throw new SafetensorsException($"the header is not valid JSON ({e.Message} at line {line}, column {col})");
        }
        if (header.Kind != JsonKind.Object)
            throw new SafetensorsException("the header is not a JSON object");

        long dataStart = 8 + n;
        long dataLength = bytes.Length - dataStart;
        var tensors = new List<TensorEntry>();
        var metadata = new Dictionary<string, string>();
        var spans = new List<(long Begin, long End, string Name)>();
        foreach (JsonProperty p in header.Properties)
        {
            if (p.Name == "__metadata__")
            {
                if (p.Value.Kind != JsonKind.Object)
                    throw new SafetensorsException("__metadata__ must be an object of strings");
                foreach (JsonProperty m in p.Value.Properties)
                {
                    if (m.Value.Kind != JsonKind.String)
                        throw new SafetensorsException($"__metadata__ value '{m.Name}' is not a string");
                    metadata[m.Name] = m.Value.String;
                }
                continue;
            }
            if (tensors.Count >= MaxTensors)
                throw new SafetensorsException($"more than {MaxTensors} tensors");
            tensors.Add(ReadEntry(p, dataStart, spans));
        }

        spans.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        string previous = "";
        foreach (var (begin, end, name) in spans)
        {
            if (begin < expected)
                throw new SafetensorsException($"tensor '{name}' (bytes {begin}..{end}) overlaps tensor '{previous}'");
            if (begin > expected)
                throw new SafetensorsException($"there is a hole in the data between byte {expected} and tensor '{name}' at byte {begin}; offsets must be contiguous from 0");
            expected = end;
            previous = name;
        }
        if (expected != dataLength)
            throw new SafetensorsException(expected < dataLength
                ? $"the data section holds {dataLength} bytes but the tensors cover only {expected}; the file has trailing bytes or a tensor is missing from the header"
                : $"the tensors need {expected} bytes of data but the file holds only {dataLength} (truncated?)");
        return new SafetensorsFile(bytes, tensors, metadata);
    }

    private static TensorEntry ReadEntry(JsonProperty p, long dataStart, List<(long, long, string)> spans)
    {
        string name = p.Name;
        JsonNode v = p.Value;
        if (v.Kind != JsonKind.Object)
            throw new SafetensorsException($"tensor '{name}': its header entry is {v.KindName}, not an object");
        JsonNode? dtypeNode = v.Property("dtype")?.Value;
        JsonNode? shapeNode = v.Property("shape")?.Value;
        JsonNode? offsetsNode = v.Property("data_offsets")?.Value;
        if (dtypeNode is null || dtypeNode.Kind != JsonKind.String)
            throw new SafetensorsException($"tensor '{name}': missing or non-string \"dtype\"");
        if (shapeNode is null || shapeNode.Kind != JsonKind.Array)
            throw new SafetensorsException($"tensor '{name}': missing or non-array \"shape\"");
        if (offsetsNode is null || offsetsNode.Kind != JsonKind.Array || offsetsNode.Items.Count != 2)
            throw new SafetensorsException($"tensor '{name}': \"data_offsets\" must be an array [begin, end]");
        foreach (JsonProperty extra in v.Properties)
            if (extra.Name != "dtype" && extra.Name != "shape" && extra.Name != "data_offsets")
                throw new SafetensorsException($"tensor '{name}': unknown header field \"{extra.Name}\"");
        string dtype = dtypeNode.String;
        int size = DtypeSize(dtype);
        if (size == 0)
            throw new SafetensorsException($"tensor '{name}': unknown dtype \"{dtype}\"");
        if (shapeNode.Items.Count > 8)
            throw new SafetensorsException($"tensor '{name}': rank {shapeNode.Items.Count} is above the supported 8");
        var shape = new int[shapeNode.Items.Count];
        decimal count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            JsonNode d = shapeNode.Items[i];
            if (d.Kind != JsonKind.Number || d.Number < 0 || d.Number != Math.Floor(d.Number) || d.Number > int.MaxValue)
                throw new SafetensorsException($"tensor '{name}': shape entries must be non-negative integers below 2^31");
            shape[i] = (int)d.Number;
            count *= shape[i];
            if (count > long.MaxValue / 8)
                throw new SafetensorsException($"tensor '{name}': the shape [{string.Join(", ", shape)}] is too large");
        }
        long begin = Offset(offsetsNode.Items[0], name), end = Offset(offsetsNode.Items[1], name);
        if (end < begin)
            throw new SafetensorsException($"tensor '{name}': data_offsets end {end} is before begin {begin}");
        if ((long)count * size != end - begin)
            throw new SafetensorsException($"tensor '{name}': shape [{string.Join(", ", shape)}] of {dtype} needs {(long)count * size} bytes but data_offsets span {end - begin}");
        spans.Add((begin, end, name));
        return new TensorEntry(name, dtype, shape, dataStart + begin, end - begin);
    }

    private static long Offset(JsonNode node, string name)
    {
        if (node.Kind != JsonKind.Number || node.Number < 0 || node.Number != Math.Floor(node.Number) || node.Number > 1e15)
            throw new SafetensorsException($"tensor '{name}': data_offsets must be non-negative integers");
        return (long)node.Number;
    }

    /// <summary>Reads a floating-point tensor, widening F16 and BF16 to float exactly.</summary>
    public float[] ReadFloats(TensorEntry t)
    {
        long count = t.ElementCount;
        var result = new float[count];
        int at = checked((int)t.DataStart);
        switch (t.Dtype)
        {
            case "F32":
                Buffer.BlockCopy(_bytes, at, result, 0, checked((int)t.ByteLength));
                if (!BitConverter.IsLittleEndian)
                    for (int i = 0; i < count; i++) result[i] = BitConverter.ToSingle(BitConverter.GetBytes(Swap(BitConverter.ToUInt32(_bytes, at + 4 * i))), 0);
                break;
            case "F16":
                for (int i = 0; i < count; i++) result[i] = HalfToSingle((ushort)(_bytes[at + 2 * i] | (_bytes[at + 2 * i + 1] << 8)));
                break;
            case "BF16":
                for (int i = 0; i < count; i++) result[i] = BitsToSingle((uint)(_bytes[at + 2 * i] | (_bytes[at + 2 * i + 1] << 8)) << 16);
                break;
            default:
                throw new InvalidOperationException($"dtype {t.Dtype} is not a float type");
        }
        return result;
    }

    private static float BitsToSingle(uint bits) => BitConverter.ToSingle(BitConverter.GetBytes(bits), 0);

    private static float HalfToSingle(ushort h)
    {
        uint sign = (uint)(h >> 15) << 31;
        int exp = (h >> 10) & 0x1f;
        uint mant = (uint)(h & 0x3ff);
        if (exp == 0x1f) return BitsToSingle(sign | 0x7f800000u | (mant << 13));
        if (exp == 0)
        {
            if (mant == 0) return BitsToSingle(sign);
            // Subnormal half: value = mant · 2^-24, exact in float.
            float v = mant * (1f / 16777216f);
            return sign != 0 ? -v : v;
        }
        return BitsToSingle(sign | (uint)(exp - 15 + 127) << 23 | (mant << 13));
    }

    private static ulong Swap(ulong v)
    {
        ulong r = 0;
        for (int i = 0; i < 8; i++) { r = (r << 8) | (v & 0xff); v >>= 8; }
        return r;
    }

    private static uint Swap(uint v) => (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}
