using System;
using System.Buffers.Binary;
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Bbcu;

/// <summary>
/// Decodes a generated model's float constants. The generator writes them as base64 of their
/// little-endian IEEE 754 bits in one string literal (one token for the compiler, where a float literal
/// per value took seconds at paper scale, and a UTF-8 <c>u8</c> literal is bound byte by byte); the model
/// decodes them once, on first use, into a static array that every call then reads without allocating.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class BbcuConstants
{
    /// <summary>
    /// The <paramref name="count"/> floats that <paramref name="base64"/> encodes (the generator's form: a
    /// string literal, which costs the compiler one token); white space inside it is skipped.
    /// </summary>
    /// <exception cref="ArgumentException">The text is not base64 of exactly <paramref name="count"/> floats.</exception>
    public static float[] Floats(int count, string base64)
    {
        ArgumentNullException.ThrowIfNull(base64);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var values = new float[count];
        Span<byte> bytes = MemoryMarshal.AsBytes(values.AsSpan());
        // Decodes into a buffer one block larger, so that text for more floats than count is caught.
        byte[] buffer = new byte[bytes.Length + 3];
        if (!Convert.TryFromBase64Chars(base64, buffer, out int written) || written != bytes.Length)
            throw new ArgumentException($"The constants are not base64 of {count} floats; rebuild the model.", nameof(base64));
        buffer.AsSpan(0, written).CopyTo(bytes);
        if (!BitConverter.IsLittleEndian)
        {
            Span<int> bits = MemoryMarshal.Cast<float, int>(values.AsSpan());
            for (int i = 0; i < bits.Length; i++) bits[i] = BinaryPrimitives.ReverseEndianness(bits[i]);
        }
        return values;
    }

    /// <summary>
    /// The same from a UTF-8 literal, the form the generator uses for constants too large for the
    /// assembly's string heap.
    /// </summary>
    /// <exception cref="ArgumentException">The text is not base64 of exactly <paramref name="count"/> floats.</exception>
    public static float[] Floats(int count, ReadOnlySpan<byte> base64) => Floats(count, System.Text.Encoding.ASCII.GetString(base64));
}
