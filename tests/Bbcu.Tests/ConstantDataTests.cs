using System;
using System.IO;
using System.Linq;
using Bbcu.Generator.Emission;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Bbcu.Tests;

/// <summary>
/// The model's constants live in their own generated file, in a form the compiler reads fast: the floats
/// as base64 in one string literal (a UTF-8 literal past the string heap's room), decoded once.
/// </summary>
public sealed class ConstantDataTests
{
    /// <summary>Retraining (same shapes, new weights) changes the data file only: the code stays reviewable.</summary>
    [Fact]
    public void NewWeightsOfTheSameShapesChangeOnlyTheDataFile()
    {
        string folder = Repo.Path("tests", "fixtures", "dncnn_c3_nc16_nb6");
        var tensors = SafetensorsIo.Read(Path.Combine(folder, "model.safetensors"));
        Assert.All(tensors.Values, t => Assert.Equal("F32", t.Dtype));
        byte[] retrained = SafetensorsIo.Write(tensors.OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => (t.Key, t.Value.Shape, t.Value.AsFloats().Select((v, i) => v * 0.75f + (i % 3 == 0 ? 0.01f : 0f)).ToArray())));
        GeneratorResult original = GeneratorHarness.RunFolder(folder);
        GeneratorResult changed = GeneratorHarness.RunModel(File.ReadAllText(Path.Combine(folder, "model.json")), retrained);
        Assert.DoesNotContain(changed.GeneratorDiagnostics, d => d.Severity == DiagnosticSeverity.Error);

        Assert.Equal(original.GeneratedSource, changed.GeneratedSource);
        Assert.NotEqual(original.GeneratedData, changed.GeneratedData);
        // The code file holds no constant values: spans over the data file's arrays.
        Assert.DoesNotContain("new float[]", original.GeneratedSource);
        Assert.Contains("new(BbcuData.Floats, ", original.GeneratedSource);
        Assert.Contains("BbcuConstants.Floats(", original.GeneratedData);
        Assert.DoesNotContain("u8)", original.GeneratedData);
    }

    /// <summary>Every float bit pattern survives both literal forms (NaN payloads, −0, subnormals, infinities).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FloatsLiteralRoundTripsEveryBitPattern(bool utf8)
    {
        int[] bits = { 0, unchecked((int)0x80000000), 1, 0x007FFFFF, 0x7F7FFFFF, 0x7F800000, unchecked((int)0xFF800000), 0x7FC00000, 0x7FC00001,
                       unchecked((int)0xFFBADBAD), 0x7F800001, 0x3EAAAAAB, unchecked((int)0xC0490FDB) };
        float[] values = Enumerable.Range(0, 300).Select(i => BitConverter.Int32BitsToSingle(bits[i % bits.Length] ^ (i / bits.Length))).ToArray();
        string literal = ModelEmitter.FloatsLiteral(values, utf8 ? 0 : int.MaxValue, "        ");
        Assert.Equal(utf8, literal.EndsWith("u8)", StringComparison.Ordinal));
        string source = $$"""
            namespace Data;
            public static class C
            {
                public static readonly float[] F = Bbcu.{{literal}};
            }
            """;
        GeneratorResult r = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(source), GeneratorHarness.CreateDriver(Array.Empty<AdditionalText>()));
        float[] decoded = (float[])r.LoadModel("Data.C").GetField("F")!.GetValue(null)!;
        FloatAssert.SameBits(values, decoded, utf8 ? "u8 literal" : "string literal");
    }

    [Theory]
    [InlineData(2, "AAAAAA==")]          // one float where two are expected
    [InlineData(1, "AAAAAAAAAAA=")]      // two floats where one is expected
    [InlineData(1, "AAA*AA==")]          // not base64
    [InlineData(1, "AAAAA")]             // truncated
    public void DecodingRejectsTextThatIsNotTheStatedFloats(int count, string text)
    {
        var e = Assert.Throws<ArgumentException>(() => BbcuConstants.Floats(count, text));
        Assert.Contains($"{count} floats", e.Message);
    }

    [Fact]
    public void DecodingSkipsLineBreaksAndIndentation()
    {
        float[] f = BbcuConstants.Floats(2, "AACAPw\n    AAAEA=\r\n");
        Assert.Equal(new[] { 1f, 2f }, f);
        Assert.Equal(new[] { 1f, 2f }, BbcuConstants.Floats(2, "AACAPwAAAEA="u8));
    }
}
