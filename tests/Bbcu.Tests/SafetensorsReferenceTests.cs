using System;
using System.Buffers.Binary;
using System.Linq;
using System.Text;
using Bbcu.Generator.Parsing;
using Xunit;

namespace Bbcu.Tests;

/// <summary>
/// The safetensors reader accepts exactly what the reference implementation (huggingface safetensors,
/// <c>read_metadata</c> with serde_json) accepts. Each case was run through the reference's own code
/// (commit 24b0b2857fef, built offline) and the expected verdict is the reference's; the rule numbers
/// (R1–R24) are those of docs/safetensors.md, which quotes the reference code behind each.
/// </summary>
public sealed class SafetensorsReferenceTests
{
    private static string T(string name, string dtype, string shape, string offsets) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}";

    private static byte[] File(string header, int dataBytes) => File(Encoding.UTF8.GetBytes(header), dataBytes);

    private static byte[] File(byte[] header, int dataBytes)
    {
        var result = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)header.Length);
        header.CopyTo(result, 8);
        return result;
    }

    private static string Nested(int depth, string inner) => new string('[', depth) + inner + new string(']', depth);

    /// <summary>Files the reference accepts.</summary>
    public static TheoryData<string, string, int> Accepted => new()
    {
        { "R6 whitespace around the object", "\t\n{}\r ", 0 },
        { "R6 spaces before '{'", "   {" + T("t", "F32", "[1]", "[0,4]") + "}", 4 },
        { "R6 padding after the object", "{" + T("t", "F32", "[1]", "[0,4]") + "}      ", 4 },
        { "R7 empty object", "{}", 0 },
        { "R8 metadata null", "{\"__metadata__\":null}", 0 },
        { "R8 metadata repeated key: last wins", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0 },
        { "R9 the same tensor twice", "{" + T("a", "F32", "[1]", "[0,4]") + "," + T("a", "F32", "[1]", "[0,4]") + "}", 4 },
        { "R9 a repeated name keeps the last entry", "{" + T("a", "U8", "[4]", "[0,4]") + "," + T("a", "U8", "[2]", "[0,2]") + "}", 2 },
        { "R9 an earlier misaligned entry is replaced", "{" + T("a", "F4", "[3]", "[0,2]") + "," + T("a", "F32", "[1]", "[0,4]") + "}", 4 },
        { "R9 any key is a tensor name", "{" + T("", "U8", "[1]", "[0,1]") + "," + T("__METADATA__", "U8", "[1]", "[1,2]") + "}", 2 },
        { "R10 unknown field", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"foo\":\"bar\"}}", 4 },
        { "R10 unknown fields of any JSON", "{\"t\":{\"dtype\":\"F32\",\"a\":{\"b\":[1,2.5,-3e9,null,true]},\"shape\":[1],\"c\":null,\"data_offsets\":[0,4]}}", 4 },
        { "R10 an unknown field repeated", "{\"t\":{\"x\":1,\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":2}}", 4 },
        { "R10 escaped field names", "{\"t\":{\"dty\\u0070e\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4 },
        { "R10 array form", "{\"t\":[\"F32\",[1],[0,4]]}", 4 },
        { "R11 dtype as a one-key map", "{\"t\":{\"dtype\":{\"F32\":null},\"shape\":[1],\"data_offsets\":[0,4]}}", 4 },
        { "R12 dims up to 2^64-1", "{" + T("t", "F32", "[0,18446744073709551615]", "[0,0]") + "}", 0 },
        { "R12 a dim of 2^32 in a zero-sized tensor", "{" + T("t", "F32", "[4294967296,0]", "[0,0]") + "}", 0 },
        { "R13 rank 9", "{" + T("t", "F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") + "}", 4 },
        { "R14 header order does not matter", "{" + T("b", "F32", "[1]", "[4,8]") + "," + T("a", "F32", "[1]", "[0,4]") + "}", 8 },
        { "R15 zero-sized tensors at the start and the end", "{" + T("z1", "F32", "[0]", "[0,0]") + "," + T("a", "F32", "[1]", "[0,4]") + "," + T("z2", "F32", "[0]", "[4,4]") + "}", 4 },
        { "R16 product left to right, 0 last", "{" + T("t", "F32", "[2147483647,2147483647,0]", "[0,0]") + "}", 0 },
        { "R19 a scalar", "{" + T("t", "I32", "[]", "[0,4]") + "}", 4 },
        { "R21 unaligned data", "{" + T("t", "F64", "[1]", "[0,8]") + "} ", 8 },
        { "R23 a surrogate pair escape", "{" + T("\\ud83d\\ude00", "F32", "[1]", "[0,4]") + "}", 4 },
        { "R22 127 nested containers", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"deep\":" + Nested(125, "") + "}}", 4 },
        { "R22 scalars do not count", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"deep\":" + Nested(125, "0") + "}}", 4 },
        { "R24 a float that underflows to 0", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"u\":1.5e-400}}", 4 },
    };

    /// <summary>Files the reference rejects, and a fragment of our message.</summary>
    public static TheoryData<string, string, int, string> Rejected => new()
    {
        { "R6 NUL padding", "{}\0\0", 0, "unexpected text after the end" },
        { "R6 form feed before '{'", "\f{}", 0, "unexpected character '\\u000C'" },
        { "R6 a byte-order mark", "\uFEFF{}", 0, "unexpected character '\\uFEFF'" },
        { "R7 empty header", "", 0, "the header ends where a value was expected" },
        { "R7 not an object", "[]", 0, "the header is an array, not a JSON object" },
        { "R8 metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "\"__metadata__\" appears twice" },
        { "R8 metadata twice, once escaped", "{\"__metadata\\u005f_\":{},\"__metadata__\":{}}", 0, "\"__metadata__\" appears twice" },
        { "R8 metadata value not a string", "{\"__metadata__\":{\"k\":1,\"k\":\"x\"}}", 0, "__metadata__ value 'k' is the integer 1, not a string" },
        { "R8 metadata an array", "{\"__metadata__\":[]}", 0, "\"__metadata__\" is an array" },
        { "R9 every repeated entry must be valid", "{" + T("a", "XX", "[1]", "[0,4]") + "," + T("a", "F32", "[1]", "[0,4]") + "}", 4, "unknown dtype \"XX\"" },
        { "R9 the last entry decides the size", "{" + T("a", "U8", "[2]", "[0,2]") + "," + T("a", "U8", "[4]", "[0,4]") + "}", 2, "the tensors need 4 bytes of data but the file holds only 2" },
        { "R10 dtype twice", "{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "the field \"dtype\" appears twice" },
        { "R10 shape missing", "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "the field \"shape\" is missing" },
        { "R10 array form of 2", "{\"t\":[\"F32\",[1]]}", 4, "its header entry is an array of 2" },
        { "R10 array form of 4", "{\"t\":[\"F32\",[1],[0,4],1]}", 4, "its header entry is an array of 4" },
        { "R10 entry null", "{\"t\":null}", 0, "its header entry is null" },
        { "R11 dtype map with a non-null value", "{\"t\":{\"dtype\":{\"F32\":{}},\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"dtype\" is an object" },
        { "R11 dtype in lower case", "{" + T("t", "f32", "[1]", "[0,4]") + "}", 4, "unknown dtype \"f32\"" },
        { "R11 dtype a number", "{\"t\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"dtype\" is the integer 7" },
        { "R12 shape 32.0", "{" + T("t", "F32", "[32.0]", "[0,128]") + "}", 128, "a shape entry is the number 32.0" },
        { "R12 shape 1e0", "{" + T("t", "F32", "[1e0]", "[0,4]") + "}", 4, "a shape entry is the number 1e0" },
        { "R12 shape 1E0", "{" + T("t", "F32", "[1E0]", "[0,4]") + "}", 4, "a shape entry is the number 1E0" },
        { "R12 shape -0", "{" + T("t", "F32", "[-0]", "[0,0]") + "}", 0, "a shape entry is the number -0" },
        { "R12 shape -1", "{" + T("t", "F32", "[-1]", "[0,0]") + "}", 0, "a shape entry is the integer -1" },
        { "R12 offset 0.0", "{" + T("t", "F32", "[1]", "[0.0,4]") + "}", 4, "a data_offsets entry is the number 0.0" },
        { "R12 offset 4e0", "{" + T("t", "F32", "[1]", "[0,4e0]") + "}", 4, "a data_offsets entry is the number 4e0" },
        { "R12 offset -0", "{" + T("t", "F32", "[1]", "[-0,4]") + "}", 4, "a data_offsets entry is the number -0" },
        { "R12 a dim of 2^64", "{" + T("t", "F32", "[0,18446744073709551616]", "[0,0]") + "}", 0, "a shape entry is the number 18446744073709551616" },
        { "R12 a leading zero", "{" + T("t", "F32", "[01]", "[0,4]") + "}", 4, "a number with a leading zero" },
        { "R12 three offsets", "{" + T("t", "F32", "[1]", "[0,4,4]") + "}", 4, "\"data_offsets\" must be an array [begin, end]" },
        { "R16 shape product overflows", "{" + T("t", "F32", "[4294967296,4294967296,0]", "[0,0]") + "}", 0, "overflows a 64-bit size" },
        { "R16 reference test_validation_overflow 1", "{" + T("t", "I32", "[2,18446744073709551614]", "[0,16]") + "}", 16, "overflows a 64-bit size" },
        { "R16 reference test_validation_overflow 2", "{" + T("t", "I32", "[2,9223372036854775807]", "[0,16]") + "}", 16, "overflows a 64-bit size" },
        { "R16 bits overflow", "{" + T("t", "U8", "[2305843009213693952]", "[0,1]") + "}", 1, "overflows a 64-bit size" },
        { "R17 three F4 values", "{" + T("t", "F4", "[3]", "[0,2]") + "}", 2, "3 element(s) of F4 are not a whole number of bytes" },
        { "R17 two F6 values", "{" + T("t", "F6_E3M2", "[2]", "[0,2]") + "}", 2, "2 element(s) of F6_E3M2 are not a whole number of bytes" },
        { "R17 a scalar F4", "{" + T("t", "F4", "[]", "[0,1]") + "}", 1, "1 element(s) of F4 are not a whole number of bytes" },
        { "R18 two F4 values in two bytes", "{" + T("t", "F4", "[1,2]", "[0,2]") + "}", 2, "needs 1 bytes but data_offsets span 2" },
        { "R15 a zero-sized tensor past the end", "{" + T("a", "F32", "[1]", "[0,4]") + "," + T("z", "F32", "[0]", "[5,5]") + "}", 4, "there is a hole in the data between byte 4 and tensor 'z' at byte 5" },
        { "R23 a lone high surrogate in a name", "{" + T("\\ud800", "F32", "[1]", "[0,4]") + "}", 4, "a \\u escape of a high surrogate not followed" },
        { "R23 a lone low surrogate in a name", "{" + T("\\udc00", "F32", "[1]", "[0,4]") + "}", 4, "a \\u escape of a low surrogate without a high one" },
        { "R23 a high surrogate before a plain escape", "{" + T("\\ud800\\u0041", "F32", "[1]", "[0,4]") + "}", 4, "a \\u escape of a high surrogate not followed" },
        { "R23 a lone surrogate in metadata", "{\"__metadata__\":{\"k\":\"\\ud800\"}}", 0, "a \\u escape of a high surrogate not followed" },
        { "R23 a lone surrogate in an ignored field", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":\"\\udfff\"}}", 4, "a \\u escape of a low surrogate" },
        { "R23 a raw control character", "{\"t\u0001\":{}}", 0, "a control character inside a string" },
        { "R22 128 nested containers", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"deep\":" + Nested(126, "") + "}}", 4, "nested more than 127 deep" },
        { "R24 a float past a double", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1e400}}", 4, "the number 1e400 is out of range" },
        { "R24 an integer of 400 digits", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":" + new string('9', 400) + "}}", 4, "is out of range" },
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void AcceptsWhatTheReferenceAccepts(string rule, string header, int dataBytes)
    {
        var e = Record.Exception(() => SafetensorsFile.Read(File(header, dataBytes)));
        Assert.True(e is null, $"{rule}: rejected: {e?.Message}");
    }

    [Theory]
    [MemberData(nameof(Rejected))]
    public void RejectsWhatTheReferenceRejects(string rule, string header, int dataBytes, string fragment)
    {
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(File(header, dataBytes)));
        Assert.True(e.Message.Contains(fragment, StringComparison.Ordinal), $"{rule}: message '{e.Message}' lacks '{fragment}'");
    }

    /// <summary>R11: every dtype of the format, eight values each (sub-byte types fill whole bytes).</summary>
    [Theory]
    [InlineData("BOOL", 8)] [InlineData("F4", 4)] [InlineData("F6_E2M3", 6)] [InlineData("F6_E3M2", 6)] [InlineData("U8", 8)] [InlineData("I8", 8)]
    [InlineData("F8_E5M2", 8)] [InlineData("F8_E4M3", 8)] [InlineData("F8_E8M0", 8)] [InlineData("F8_E4M3FNUZ", 8)] [InlineData("F8_E5M2FNUZ", 8)]
    [InlineData("I16", 16)] [InlineData("U16", 16)] [InlineData("F16", 16)] [InlineData("BF16", 16)] [InlineData("I32", 32)] [InlineData("U32", 32)]
    [InlineData("F32", 32)] [InlineData("C64", 64)] [InlineData("F64", 64)] [InlineData("I64", 64)] [InlineData("U64", 64)]
    public void EveryDtypeOfTheFormatIsRead(string dtype, int bits)
    {
        SafetensorsFile f = SafetensorsFile.Read(File("{" + T("t", dtype, "[8]", $"[0,{bits}]") + "}", bits));
        TensorEntry t = Assert.Single(f.Tensors);
        Assert.Equal((dtype, bits, 8L), (t.Dtype, SafetensorsFile.DtypeBits(dtype), t.ElementCount));
    }

    /// <summary>R9: the entry that counts is the last; it keeps the place of the name's first entry.</summary>
    [Fact]
    public void ARepeatedNameKeepsItsLastEntry()
    {
        SafetensorsFile f = SafetensorsFile.Read(File("{" + T("a", "U8", "[4]", "[0,4]") + "," + T("b", "U8", "[1]", "[2,3]") + "," + T("a", "U8", "[2]", "[0,2]") + "}", 3));
        Assert.Equal(new[] { "a", "b" }, f.Tensors.Select(t => t.Name));
        Assert.Equal(new[] { 2 }, f.Tensors[0].Shape);
    }

    /// <summary>R13: no limit on the number of tensors; the reader is linear in them (100 000 here).</summary>
    [Fact]
    public void AHundredThousandTensorsAreRead()
    {
        string header = "{" + string.Join(",", Enumerable.Range(0, 100_000).Select(i => T($"t{i}", "U8", "[0]", "[0,0]"))) + "}";
        Assert.Equal(100_000, SafetensorsFile.Read(File(header, 0)).Tensors.Count);
    }
}
