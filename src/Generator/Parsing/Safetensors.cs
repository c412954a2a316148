using System;
using System.Collections.Generic;
using System.Text;

namespace Bbcu.Generator.Parsing;

/// <summary>One tensor's entry in a safetensors header.</summary>
internal sealed class TensorEntry
{
    public TensorEntry(string name, string dtype, ulong[] dims, long dataStart, long byteLength)
    {
        Name = name; Dtype = dtype; Dims = dims; DataStart = dataStart; ByteLength = byteLength;
        Shape = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++) Shape[i] = dims[i] <= int.MaxValue ? (int)dims[i] : -1;
    }

    public string Name { get; }
    public string Dtype { get; }
    /// <summary>The shape as the file states it (any 64-bit sizes, as the reference allows).</summary>
    public ulong[] Dims { get; }
    /// <summary>The shape as <c>int</c>s; a size above 2^31−1 (only possible in a zero-sized tensor) is −1, which no model shape matches.</summary>
    public int[] Shape { get; }
    /// <summary>Offset of the first byte in the whole file.</summary>
    public long DataStart { get; }
    public long ByteLength { get; }

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (ulong d in Dims) n = checked(n * (long)d);
            return n;
        }
    }

    public string ShapeText => string.Join(", ", Dims);
}

internal sealed class SafetensorsException : Exception
{
    public SafetensorsException(string message) : base(message) { }
}

/// <summary>
/// Reads and validates a <c>.safetensors</c> file, accepting exactly the files the reference
/// implementation (huggingface safetensors, <c>read_metadata</c>) accepts: 8-byte little-endian header
/// length up to 100 MB; a UTF-8 JSON object header as serde_json reads it (<see cref="SafetensorsHeaderReader"/>);
/// an optional <c>__metadata__</c> map of strings (or null); each other key a tensor whose info is an
/// object with exactly one <c>dtype</c>, <c>shape</c> and <c>data_offsets</c> (unknown fields ignored) or
/// the array <c>[dtype, shape, data_offsets]</c>; a repeated tensor name keeps its last entry; sizes
/// and offsets are plain unsigned 64-bit integers; offsets tile the data from 0 with no holes; and
/// the data section ends exactly at the last offset. docs/safetensors.md lists each rule with the
/// reference code that decides it.
/// </summary>
internal sealed class SafetensorsFile
{
    /// <summary>The reference implementation's limit on the header size (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly byte[] _bytes;

    private SafetensorsFile(byte[] bytes, List<TensorEntry> tensors, Dictionary<string, string> metadata)
    {
        _bytes = bytes; Tensors = tensors; Metadata = metadata;
    }

    /// <summary>The tensors, in header order (the last entry of a repeated name, at the place of its first).</summary>
    public IReadOnlyList<TensorEntry> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The reference's 22 dtypes and their sizes in bits (<c>Dtype::bitsize</c>); 0 for any other name.</summary>
    public static int DtypeBits(string dtype) => dtype switch
    {
        "F4" => 4,
        "F6_E2M3" or "F6_E3M2" => 6,
        "BOOL" or "U8" or "I8" or "F8_E5M2" or "F8_E4M3" or "F8_E8M0" or "F8_E4M3FNUZ" or "F8_E5M2FNUZ" => 8,
        "I16" or "U16" or "F16" or "BF16" => 16,
        "I32" or "U32" or "F32" => 32,
        "C64" or "F64" or "I64" or "U64" => 64,
        _ => 0,
    };

    private const string DtypeList = "BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64";

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
        string headerText;
        try
        {
            headerText = new UTF8Encoding(false, true).GetString(bytes, 8, n);
        }
        catch (DecoderFallbackException)
        {
            throw new SafetensorsException("the header is not valid UTF-8");
        }
        HeaderValue header;
        try
        {
            header = SafetensorsHeaderReader.Parse(headerText);
        }
        catch (HeaderSyntaxException e)
        {
            var (line, col) = JsonReader.LineColumn(headerText, e.Position);
            throw new SafetensorsException($"the header is not valid JSON ({e.Message} at line {line}, column {col})");
        }
        if (header.Kind != HeaderKind.Object)
            throw new SafetensorsException($"the header is {header.KindName}, not a JSON object");

        // Every entry is checked (as serde deserializes every one); a repeated tensor name keeps the last.
        var metadata = new Dictionary<string, string>();
        bool sawMetadata = false;
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        var infos = new List<(string Name, string Dtype, ulong[] Dims, ulong Begin, ulong End)>();
        foreach (KeyValuePair<string, HeaderValue> p in header.Entries!)
        {
            if (p.Key == "__metadata__")
            {
                if (sawMetadata) throw new SafetensorsException("\"__metadata__\" appears twice in the header");
                sawMetadata = true;
                ReadMetadata(p.Value, metadata);
                continue;
            }
            var info = ReadInfo(p.Key, p.Value);
            if (byName.TryGetValue(p.Key, out int at)) infos[at] = info;
            else
            {
                byName.Add(p.Key, infos.Count);
                infos.Add(info);
            }
        }

        // validate(): sorted by (begin, end), each tensor starts where the previous one ended.
        var order = new List<int>(infos.Count);
        for (int i = 0; i < infos.Count; i++) order.Add(i);
        order.Sort((a, b) => infos[a].Begin != infos[b].Begin ? infos[a].Begin.CompareTo(infos[b].Begin)
            : infos[a].End != infos[b].End ? infos[a].End.CompareTo(infos[b].End) : a.CompareTo(b));
        ulong expected = 0;
        string previous = "";
        foreach (int i in order)
        {
            var (name, dtype, dims, begin, end) = infos[i];
            if (end < begin)
                throw new SafetensorsException($"tensor '{name}': data_offsets end {end} is before begin {begin}");
            if (begin < expected)
                throw new SafetensorsException($"tensor '{name}' (bytes {begin}..{end}) overlaps tensor '{previous}'");
            if (begin > expected)
                throw new SafetensorsException($"there is a hole in the data between byte {expected} and tensor '{name}' at byte {begin}; offsets must be contiguous from 0");
            expected = end;
            previous = name;
            ulong count = 1;
            foreach (ulong d in dims)
                count = CheckedMultiply(count, d, name, dims);
            ulong bits = CheckedMultiply(count, (ulong)DtypeBits(dtype), name, dims);
            if (bits % 8 != 0)
                throw new SafetensorsException($"tensor '{name}': {count} element(s) of {dtype} are not a whole number of bytes");
            if (bits / 8 != end - begin)
                throw new SafetensorsException($"tensor '{name}': shape [{string.Join(", ", dims)}] of {dtype} needs {bits / 8} bytes but data_offsets span {end - begin}");
        }
        ulong dataLength = (ulong)(bytes.Length - 8 - n);
        if (expected != dataLength)
            throw new SafetensorsException(expected < dataLength
                ? $"the data section holds {dataLength} bytes but the tensors cover only {expected}; the file has trailing bytes or a tensor is missing from the header"
                : $"the tensors need {expected} bytes of data but the file holds only {dataLength} (truncated?)");

        long dataStart = 8 + n;
        var tensors = new List<TensorEntry>(infos.Count);
        foreach (var (name, dtype, dims, begin, end) in infos)
            tensors.Add(new TensorEntry(name, dtype, dims, dataStart + (long)begin, (long)(end - begin)));
        return new SafetensorsFile(bytes, tensors, metadata);
    }

    private static ulong CheckedMultiply(ulong a, ulong b, string name, ulong[] dims)
    {
        if (a != 0 && b > ulong.MaxValue / a)
            throw new SafetensorsException($"tensor '{name}': the shape [{string.Join(", ", dims)}] overflows a 64-bit size");
        return a * b;
    }

    /// <summary><c>Option&lt;HashMap&lt;String, String&gt;&gt;</c>: null, or an object whose values are all strings (last one wins).</summary>
    private static void ReadMetadata(HeaderValue v, Dictionary<string, string> metadata)
    {
        if (v.Kind == HeaderKind.Null) return;
        if (v.Kind != HeaderKind.Object)
            throw new SafetensorsException($"\"__metadata__\" is {v.KindName}; it must be an object of strings (or null)");
        foreach (KeyValuePair<string, HeaderValue> m in v.Entries!)
        {
            if (m.Value.Kind != HeaderKind.String)
                throw new SafetensorsException($"__metadata__ value '{m.Key}' is {m.Value.KindName}, not a string");
            metadata[m.Key] = m.Value.Text;
        }
    }

    /// <summary>
    /// A <c>TensorInfo</c>: an object with <c>dtype</c>, <c>shape</c> and <c>data_offsets</c> once each (other
    /// fields ignored), or the array <c>[dtype, shape, data_offsets]</c>.
    /// </summary>
    private static (string, string, ulong[], ulong, ulong) ReadInfo(string name, HeaderValue v)
    {
        HeaderValue? dtype = null, shape = null, offsets = null;
        if (v.Kind == HeaderKind.Object)
        {
            foreach (KeyValuePair<string, HeaderValue> f in v.Entries!)
            {
                switch (f.Key)
                {
                    case "dtype": dtype = Once(dtype, f.Value, name, f.Key); break;
                    case "shape": shape = Once(shape, f.Value, name, f.Key); break;
                    case "data_offsets": offsets = Once(offsets, f.Value, name, f.Key); break;
                }
            }
            foreach (var (field, value) in new[] { ("dtype", dtype), ("shape", shape), ("data_offsets", offsets) })
                if (value is null) throw new SafetensorsException($"tensor '{name}': the field \"{field}\" is missing");
        }
        else if (v.Kind == HeaderKind.Array)
        {
            if (v.Items!.Count != 3)
                throw new SafetensorsException($"tensor '{name}': its header entry is an array of {v.Items.Count}; the array form is [dtype, shape, data_offsets]");
            (dtype, shape, offsets) = (v.Items[0], v.Items[1], v.Items[2]);
        }
        else
            throw new SafetensorsException($"tensor '{name}': its header entry is {v.KindName}; it must be an object {{\"dtype\", \"shape\", \"data_offsets\"}}");

        string dtypeName = Dtype(dtype!, name);
        if (shape!.Kind != HeaderKind.Array)
            throw new SafetensorsException($"tensor '{name}': \"shape\" is {shape.KindName}, not an array");
        var dims = new ulong[shape.Items!.Count];
        for (int i = 0; i < dims.Length; i++) dims[i] = Size(shape.Items[i], name, "shape entry");
        if (offsets!.Kind != HeaderKind.Array || offsets.Items!.Count != 2)
            throw new SafetensorsException($"tensor '{name}': \"data_offsets\" must be an array [begin, end]");
        ulong begin = Size(offsets.Items[0], name, "data_offsets entry"), end = Size(offsets.Items[1], name, "data_offsets entry");
        return (name, dtypeName, dims, begin, end);
    }

    private static HeaderValue Once(HeaderValue? seen, HeaderValue value, string name, string field) =>
        seen is null ? value : throw new SafetensorsException($"tensor '{name}': the field \"{field}\" appears twice");

    /// <summary>A dtype: its name as a string, or a one-key object <c>{"NAME": null}</c> (serde's map form of an enum).</summary>
    private static string Dtype(HeaderValue v, string name)
    {
        string dtype;
        if (v.Kind == HeaderKind.String) dtype = v.Text;
        else if (v.Kind == HeaderKind.Object && v.Entries!.Count == 1 && v.Entries[0].Value.Kind == HeaderKind.Null) dtype = v.Entries[0].Key;
        else throw new SafetensorsException($"tensor '{name}': \"dtype\" is {v.KindName}, not a dtype name");
        if (DtypeBits(dtype) == 0)
            throw new SafetensorsException($"tensor '{name}': unknown dtype \"{dtype}\" (the format's dtypes are {DtypeList})");
        return dtype;
    }

    /// <summary>A <c>usize</c>: a plain non-negative integer (no sign, fraction or exponent) up to 2^64−1.</summary>
    private static ulong Size(HeaderValue v, string name, string what) =>
        v.Kind == HeaderKind.UInt ? v.UInt
            : throw new SafetensorsException($"tensor '{name}': a {what} is {v.KindName}; sizes and offsets must be non-negative integers written without a sign, fraction or exponent");

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
