using System;
using System.Linq;
using Bbcu.Tests.Infrastructure;
using Xunit;

namespace Bbcu.Tests;

/// <summary>
/// The runtime's binary kernels against a plain reference of the semantics (sign with 0, zero padding,
/// exactly-zero weights), on random shapes; and invariance of the result under any split into row bands.
/// Whichever ISA path this process takes (AVX2, or the portable one under DOTNET_EnableAVX2=0 /
/// DOTNET_EnableHWIntrinsic=0, as .ci/run also runs) must give these exact integers.
/// </summary>
public sealed class KernelTests
{
    public static TheoryData<int, int, int, int, bool> Shapes() => new()
    {
        { 1, 1, 1, 1, false }, { 3, 4, 5, 3, false }, { 63, 5, 7, 2, true }, { 64, 64, 9, 6, false }, { 65, 3, 4, 9, true },
        { 130, 130, 6, 5, false }, { 64, 7, 1, 8, true }, { 17, 9, 8, 1, false }, { 128, 65, 3, 3, true },
    };

    /// <summary>Packs weights in the kernel's documented layout: signs and masks [⌈Cout/4⌉][9][words][4], counts [Cout][9].</summary>
    internal static (ulong[] Signs, ulong[] Mask, int[] Counts) PackWeights(float[] w, int cin, int cout)
    {
        int words = (cin + 63) / 64, groups = (cout + 3) / 4;
        var signs = new ulong[groups * 9 * words * 4];
        var mask = new ulong[signs.Length];
        var counts = new int[cout * 9];
        for (int o = 0; o < cout; o++)
            for (int c = 0; c < cin; c++)
                for (int tap = 0; tap < 9; tap++)
                {
                    float v = w[(o * cin + c) * 9 + tap];
                    int at = ((o / 4 * 9 + tap) * words + c / 64) * 4 + o % 4;
                    if (v < 0) signs[at] |= 1UL << (c % 64);
                    if (v != 0) { mask[at] |= 1UL << (c % 64); counts[o * 9 + tap]++; }
                }
        return (signs, mask, counts);
    }

    /// <summary>Signs and packs a CHW map against thresholds <paramref name="t"/> (the kernel's input layout).</summary>
    internal static (ulong[] Packed, byte[] Kinds) SignPacked(float[] x, int cin, int plane, float[] t)
    {
        var packed = new ulong[2 * ((cin + 63) / 64) * plane];
        var kinds = new byte[plane];
        BinaryKernels.SignPack(x, cin, plane, t, packed, kinds);
        return (packed, kinds);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BinaryConvMatchesTheReference(int cin, int cout, int width, int height, bool zeroWeights)
    {
        var rng = new Random(cin * 1000 + cout * 10 + width);
        int plane = width * height;
        // Activations on a coarse grid so that many equal their threshold exactly.
        var x = Enumerable.Range(0, cin * plane).Select(_ => (float)(rng.Next(-3, 4) * 0.5)).ToArray();
        var t = Enumerable.Range(0, cin).Select(_ => (float)(rng.Next(-2, 3) * 0.5)).ToArray();
        var w = Enumerable.Range(0, cout * cin * 9).Select(_ => zeroWeights && rng.Next(5) == 0 ? 0f : (float)(rng.NextDouble() - 0.5)).ToArray();

        // Reference: integer sums of sign(x − t)·sign(w) over taps inside the image.
        var expected = new float[cout * plane];
        for (int o = 0; o < cout; o++)
            for (int r = 0; r < height; r++)
                for (int col = 0; col < width; col++)
                {
                    int sum = 0;
                    for (int c = 0; c < cin; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int rr = r + ky - 1, cc = col + kx - 1;
                                if (rr < 0 || rr >= height || cc < 0 || cc >= width) continue;
                                sum += Math.Sign(x[c * plane + rr * width + cc] - t[c]) * Math.Sign(w[(o * cin + c) * 9 + ky * 3 + kx]);
                            }
                    expected[o * plane + r * width + col] = sum;
                }

        var (signs, mask, counts) = PackWeights(w, cin, cout);
        bool anyZero = w.Any(v => v == 0);
        var (packed, kinds) = SignPacked(x, cin, plane, t);
        var ones = Enumerable.Repeat(1f, cout).ToArray();
        var zeros = new float[cout];
        var y = new float[cout * plane];
        BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, anyZero ? mask : default, anyZero ? counts : default,
            ones, zeros, default, default, default, y);
        FloatAssert.SameBits(expected, y, $"Conv3x3 {cin}→{cout} {width}×{height} vs the reference sums");

        // Any split into row bands gives the same bits.
        var banded = new float[y.Length];
        for (int r0 = 0; r0 < height; r0 += 2)
            BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, anyZero ? mask : default, anyZero ? counts : default,
                ones, zeros, default, default, default, banded, r0, Math.Min(height, r0 + 2));
        FloatAssert.SameBits(y, banded, "Conv3x3 in row bands of 2 vs one call");
    }

    [Fact]
    public void EpilogueAppliesScaleShiftPReluBiasAndResidualInThatOrder()
    {
        int cin = 2, cout = 2, width = 1, height = 1;
        var x = new[] { 1f, -1f };
        var w = new float[cout * cin * 9];
        w[4] = 1; w[9 + 4] = -1;   // output 0: +x0 − x1 at the centre tap (every other weight is exactly 0)
        w[18 + 4] = -1;            // output 1: −x0
        var (signs, mask, counts) = PackWeights(w, cin, cout);
        var packed = new ulong[2];
        var kinds = new byte[1];
        BinaryKernels.SignPack(x, cin, 1, new float[2], packed, kinds);
        var y = new float[2];
        // s = [1·1 + (−1)·(−1), (−1)·1] = [2, −1]; z = α·s + shift; PReLU; + bias1; + residual.
        BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, mask, counts,
            new[] { 0.5f, 2f }, new[] { 0.25f, 0.5f }, new[] { 0.1f, 0.25f }, new[] { 1f, 2f }, new[] { 10f, 20f }, y);
        Assert.Equal(0.5f * 2 + 0.25f + 1f + 10f, y[0]);               // positive: PReLU passes it
        Assert.Equal(0.25f * (2f * -1 + 0.5f) + 2f + 20f, y[1]);        // negative: slope applies
    }

    public static TheoryData<int, int, int, int> FusedShapes() => new()
    {
        { 64, 64, 17, 9 }, { 3, 5, 6, 4 }, { 64, 130, 11, 5 }, { 130, 64, 9, 7 }, { 16, 1, 1, 1 }, { 64, 64, 2, 13 },
    };

    /// <summary>
    /// A conv that also packs the next layer's input (thresholds compared on each finished row) writes
    /// exactly the packed words and flags that a separate SignPack of its output gives, for every row split.
    /// Thresholds are integers and the sums are integers, so many outputs sit exactly on their threshold.
    /// </summary>
    [Theory]
    [MemberData(nameof(FusedShapes))]
    public void FusedPackOfTheNextLayerEqualsASeparateSignPack(int cin, int cout, int width, int height)
    {
        var rng = new Random(cin * 7 + cout * 3 + width);
        int plane = width * height, nextWords = (cout + 63) / 64;
        var x = Enumerable.Range(0, cin * plane).Select(_ => (float)(rng.Next(-3, 4) * 0.5)).ToArray();
        var t = Enumerable.Range(0, cin).Select(_ => (float)(rng.Next(-2, 3) * 0.5)).ToArray();
        var w = Enumerable.Range(0, cout * cin * 9).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var next = Enumerable.Range(0, cout).Select(_ => (float)rng.Next(-3, 4)).ToArray();
        var residual = Enumerable.Range(0, cout * plane).Select(_ => (float)rng.Next(-2, 3)).ToArray();
        var (signs, _, _) = PackWeights(w, cin, cout);
        var (packed, kinds) = SignPacked(x, cin, plane, t);
        var ones = Enumerable.Repeat(1f, cout).ToArray();
        var zeros = new float[cout];

        var y = new float[cout * plane];
        BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, default, default, ones, zeros, default, default, residual, y);
        var expectedPacked = new ulong[2 * nextWords * plane];
        var expectedKinds = new byte[plane];
        BinaryKernels.SignPack(y, cout, plane, next, expectedPacked, expectedKinds);
        if (plane >= 20) Assert.Contains(expectedKinds, k => k == BinaryKernels.HasZeros); // the test exercises exact zeros

        for (int band = 1; band <= height; band += Math.Max(1, height / 2))
        {
            var fusedY = new float[y.Length];
            var fusedPacked = Enumerable.Repeat(ulong.MaxValue, expectedPacked.Length).ToArray(); // stale bits must be overwritten
            var fusedKinds = Enumerable.Repeat((byte)7, plane).ToArray();
            for (int r0 = 0; r0 < height; r0 += band)
                BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, default, default, ones, zeros, default, default, residual,
                    fusedY, r0, Math.Min(height, r0 + band), nextThresholds: next, nextPacked: fusedPacked, nextKinds: fusedKinds);
            FloatAssert.SameBits(y, fusedY, $"output with the fused pack, bands of {band}");
            FloatAssert.SameBits(expectedPacked, fusedPacked, $"fused pack, bands of {band}, vs SignPack");
            Assert.Equal(expectedKinds, fusedKinds);
        }
    }

    [Fact]
    public void FusedPackRejectsShortOrOverlappingBuffers()
    {
        var packed = new ulong[2];
        var kinds = new byte[1];
        var signs = new ulong[9 * 4];
        var one = new[] { 1f };
        var e = Assert.Throws<ArgumentException>(() => BinaryKernels.Conv3x3(packed, kinds, 1, 1, 1, 1, signs, default, default, one, one,
            default, default, default, new float[1], nextThresholds: one, nextPacked: new ulong[1], nextKinds: new byte[1]));
        Assert.Contains("2 words", e.Message);
        e = Assert.Throws<ArgumentException>(() => BinaryKernels.Conv3x3(packed, kinds, 1, 1, 1, 1, signs, default, default, one, one,
            default, default, default, new float[1], nextThresholds: one, nextPacked: packed, nextKinds: new byte[1]));
        Assert.Contains("overlap", e.Message);
    }

    /// <summary>
    /// The generated code runs a binary conv in place (output buffer = residual buffer) when the residual
    /// is not read later; that must give exactly the separate-buffer result, including widths whose last
    /// interior columns are not a whole number of 4-pixel quads.
    /// </summary>
    [Theory]
    [InlineData(64, 64, 19, 6)]
    [InlineData(64, 8, 23, 5)]
    [InlineData(64, 64, 7, 7)]
    [InlineData(130, 64, 9, 7)]
    [InlineData(3, 5, 6, 4)]
    public void InPlaceResidualEqualsSeparateBuffers(int cin, int cout, int width, int height)
    {
        var rng = new Random(cin + cout + width * height);
        int plane = width * height;
        var x = Enumerable.Range(0, cin * plane).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var w = Enumerable.Range(0, cout * cin * 9).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var (signs, _, _) = PackWeights(w, cin, cout);
        var (packed, kinds) = SignPacked(x, cin, plane, new float[cin]);
        var alpha = Enumerable.Range(0, cout).Select(_ => (float)rng.NextDouble()).ToArray();
        var shift = Enumerable.Range(0, cout).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var slopes = Enumerable.Range(0, cout).Select(_ => 0.25f).ToArray();
        var residual = Enumerable.Range(0, cout * plane).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

        var expected = new float[cout * plane];
        BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, default, default, alpha, shift, slopes, default, residual, expected);
        foreach (int degree in new[] { 1, 2 })
        {
            var inPlace = (float[])residual.Clone();
            BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, default, default, alpha, shift, slopes, default, inPlace, inPlace, degree: degree);
            FloatAssert.SameBits(expected, inPlace, $"in place on {degree} thread(s) vs separate buffers");
        }
    }
}
