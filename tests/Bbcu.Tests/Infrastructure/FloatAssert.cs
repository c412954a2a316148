using System;
using System.Globalization;
using Xunit;

namespace Bbcu.Tests.Infrastructure;

/// <summary>How close an output came to its reference (see <see cref="FloatAssert.Close(ReadOnlySpan{float}, ReadOnlySpan{double}, double, string)"/>).</summary>
public readonly record struct Closeness(double MaxAbsDiff, int WorstIndex, double Psnr)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"max |diff| = {MaxAbsDiff:E3} at {WorstIndex}, PSNR = {Psnr:F1} dB");
}

/// <summary>
/// The one way tests compare float outputs. Two kinds of claim, kept apart:
/// <list type="bullet">
/// <item><see cref="SameBits"/>: "the same bits" means the same 32-bit pattern for every element, so
/// +0 vs −0 and different NaN payloads are differences (<c>Assert.Equal(float[])</c> and
/// <c>SequenceEqual</c> call them equal).</item>
/// <item><see cref="Close(ReadOnlySpan{float}, ReadOnlySpan{double}, double, string)"/>: "matches to a
/// tolerance" fails on any NaN or ±∞ in either array before it measures anything (LINQ's
/// <c>Max()</c> skips NaN, so a maximum over differences can hide a NaN pixel).</item>
/// </list>
/// </summary>
public static class FloatAssert
{
    /// <summary>Fails unless both spans have the same length and every element the same bit pattern.</summary>
    public static void SameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        int first = -1, count = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])) continue;
            if (first < 0) first = i;
            count++;
        }
        if (count == 0) return;
        Assert.Fail($"{what}: {count} of {expected.Length} values differ in their bits; first at {first}: " +
                    $"expected {Show(expected[first])}, got {Show(actual[first])}");
    }

    /// <summary>Fails unless both spans have the same length and every element the same value, bit for bit.</summary>
    public static void SameBits(ReadOnlySpan<ulong> expected, ReadOnlySpan<ulong> actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} words, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            if (expected[i] != actual[i])
                Assert.Fail($"{what}: word {i} is 0x{actual[i]:X16}, expected 0x{expected[i]:X16}");
    }

    /// <summary>
    /// Fails if any value of <paramref name="actual"/> or <paramref name="expected"/> is NaN or ±∞, or if
    /// any |actual − expected| exceeds <paramref name="tolerance"/>; returns the closeness for the log.
    /// </summary>
    public static Closeness Close(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double tolerance, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        Assert.True(actual.Length > 0, $"{what}: no values to compare");
        AllFinite(actual, what + " (output)");
        AllFinite(expected, what + " (reference)");
        double max = 0, sq = 0;
        int worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = Math.Abs(actual[i] - expected[i]);
            sq += d * d;
            if (d > max) { max = d; worst = i; }
        }
        double mse = sq / actual.Length;
        var c = new Closeness(max, worst, mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(1 / mse));
        Assert.True(max <= tolerance,
            $"{what}: {c}: value {Show(actual[worst])} vs reference {expected[worst].ToString("R", CultureInfo.InvariantCulture)}, tolerance {tolerance:E3}");
        return c;
    }

    /// <inheritdoc cref="Close(ReadOnlySpan{float}, ReadOnlySpan{double}, double, string)"/>
    public static Closeness Close(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string what)
    {
        var wide = new double[expected.Length];
        for (int i = 0; i < wide.Length; i++) wide[i] = expected[i];
        return Close(actual, wide, tolerance, what);
    }

    /// <summary>Fails naming the first NaN or ±∞ and how many there are.</summary>
    public static void AllFinite(ReadOnlySpan<float> values, string what)
    {
        int first = -1, count = 0;
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) { if (first < 0) first = i; count++; }
        if (count > 0) Assert.Fail($"{what}: {count} of {values.Length} values are NaN or infinite; first at {first}: {Show(values[first])}");
    }

    /// <inheritdoc cref="AllFinite(ReadOnlySpan{float}, string)"/>
    public static void AllFinite(ReadOnlySpan<double> values, string what)
    {
        int first = -1, count = 0;
        for (int i = 0; i < values.Length; i++)
            if (!double.IsFinite(values[i])) { if (first < 0) first = i; count++; }
        if (count > 0) Assert.Fail($"{what}: {count} of {values.Length} values are NaN or infinite; first at {first}: {values[first]}");
    }

    private static string Show(float v) =>
        $"{v.ToString("R", CultureInfo.InvariantCulture)} (0x{BitConverter.SingleToInt32Bits(v):X8})";
}
