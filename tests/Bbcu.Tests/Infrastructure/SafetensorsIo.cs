using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace Bbcu.Tests.Infrastructure;

/// <summary>A test-side safetensors reader and writer, independent of the generator's reader.</summary>
public static class SafetensorsIo
{
    public sealed record TensorData(string Dtype, int[] Shape, byte[] Bytes)
    {
        public float[] AsFloats()
        {
            switch (Dtype)
            {
                case "F32":
                {
                    var r = new float[Bytes.Length / 4];
                    for (int i = 0; i < r.Length; i++) r[i] = BinaryPrimitives.ReadSingleLittleEndian(Bytes.AsSpan(4 * i));
                    return r;
                }
                case "F64":
                {
                    var r = new float[Bytes.Length / 8];
                    for (int i = 0; i < r.Length; i++) r[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(Bytes.AsSpan(8 * i));
                    return r;
                }
                case "F16":
                {
                    var r = new float[Bytes.Length / 2];
                    for (int i = 0; i < r.Length; i++) r[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(Bytes.AsSpan(2 * i));
                    return r;
                }
                case "BF16":
                {
                    var r = new float[Bytes.Length / 2];
                    for (int i = 0; i < r.Length; i++) r[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(2 * i)) << 16);
                    return r;
                }
                default: throw new InvalidOperationException($"not a float dtype: {Dtype}");
            }
        }

        public double[] AsDoubles()
        {
            if (Dtype != "F64") return AsFloats().Select(f => (double)f).ToArray();
            var r = new double[Bytes.Length / 8];
            for (int i = 0; i < r.Length; i++) r[i] = BinaryPrimitives.ReadDoubleLittleEndian(Bytes.AsSpan(8 * i));
            return r;
        }
    }

    public static Dictionary<string, TensorData> Read(string path) => Read(File.ReadAllBytes(path));

    public static Dictionary<string, TensorData> Read(byte[] bytes)
    {
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var result = new Dictionary<string, TensorData>();
        foreach (JsonProperty p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") continue;
            string dtype = p.Value.GetProperty("dtype").GetString()!;
            int[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            long[] off = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            result[p.Name] = new TensorData(dtype, shape, bytes.AsSpan((int)(8 + n + off[0]), (int)(off[1] - off[0])).ToArray());
        }
        return result;
    }

    /// <summary>Rewrites a weights file with every value multiplied by <paramref name="factor"/> (an edit that changes every output).</summary>
    public static void Scale(string path, float factor) =>
        File.WriteAllBytes(path, Write(Read(path).OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => (t.Key, t.Value.Shape, t.Value.AsFloats().Select(v => v * factor).ToArray()))));

    /// <summary>Writes F32 tensors in the given order (contiguous, no holes).</summary>
    public static byte[] Write(IEnumerable<(string Name, int[] Shape, float[] Data)> tensors, string dtype = "F32")
    {
        var header = new StringBuilder("{");
        var data = new MemoryStream();
        bool first = true;
        var b = new byte[4];
        foreach (var (name, shape, values) in tensors)
        {
            long begin = data.Length;
            foreach (float v in values)
            {
                switch (dtype)
                {
                    case "F32": BinaryPrimitives.WriteSingleLittleEndian(b, v); data.Write(b, 0, 4); break;
                    case "F16": BinaryPrimitives.WriteHalfLittleEndian(b, (Half)v); data.Write(b, 0, 2); break;
                    case "BF16": BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)(BitConverter.SingleToInt32Bits(v) >> 16)); data.Write(b, 0, 2); break;
                    default: throw new ArgumentException(dtype);
                }
            }
            if (!first) header.Append(',');
            first = false;
            header.Append(JsonSerializer.Serialize(name)).Append(":{\"dtype\":\"").Append(dtype).Append("\",\"shape\":[")
                .Append(string.Join(",", shape)).Append("],\"data_offsets\":[").Append(begin).Append(',').Append(data.Length).Append("]}");
        }
        header.Append('}');
        byte[] h = Encoding.UTF8.GetBytes(header.ToString());
        var result = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(result, h.Length);
        h.CopyTo(result, 8);
        data.ToArray().CopyTo(result, 8 + h.Length);
        return result;
    }
}
