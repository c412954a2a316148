using System;
using System.Linq;
using Bbcu.Tests.Infrastructure;
using Xunit;

namespace Bbcu.Tests;

/// <summary>
/// The kernels touch only their buffers: every input and output sits flush against an inaccessible page
/// (<see cref="GuardedMemory"/>), at its end and, in a second run, at its start, so one element read or
/// written outside a buffer faults. Shapes cover every output-channel remainder mod 4 (the binary conv
/// works in groups of four channels), one- and two-word inputs, border-only and interior images, with and
/// without zero weights, the residual, in place, and the fused next-layer pack. Values are checked too:
/// each result equals the same call on ordinary arrays.
/// </summary>
public sealed class BufferBoundsTests
{
    public static TheoryData<int, int, int, int, bool, GuardedMemory.GuardSide> Conv3x3Cases()
    {
        var d = new TheoryData<int, int, int, int, bool, GuardedMemory.GuardSide>();
        foreach (GuardedMemory.GuardSide side in new[] { GuardedMemory.GuardSide.End, GuardedMemory.GuardSide.Start })
            foreach (var (cin, cout, w, h, zeros) in new[]
                     {
                         (1, 1, 1, 1, false), (64, 1, 17, 9, false), (64, 2, 13, 6, false), (64, 3, 11, 5, false), (64, 5, 19, 7, false),
                         (64, 64, 23, 8, false), (16, 65, 17, 9, false), (65, 5, 12, 6, false), (130, 7, 9, 5, true), (3, 9, 6, 4, true),
                     })
                d.Add(cin, cout, w, h, zeros, side);
        return d;
    }

    [Theory]
    [MemberData(nameof(Conv3x3Cases))]
    public void BinaryConvStaysInsideItsBuffers(int cin, int cout, int width, int height, bool zeroWeights, GuardedMemory.GuardSide side)
    {
        var rng = new Random(cin * 31 + cout * 7 + width + (int)side);
        int plane = width * height, words = (cin + 63) / 64, nextWords = (cout + 63) / 64;
        float[] x = Enumerable.Range(0, cin * plane).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float[] t = new float[cin];
        float[] wf = Enumerable.Range(0, cout * cin * 9).Select(_ => zeroWeights && rng.Next(5) == 0 ? 0f : (float)(rng.NextDouble() - 0.5)).ToArray();
        var (signs, mask, counts) = KernelTests.PackWeights(wf, cin, cout);
        var (packed, kinds) = KernelTests.SignPacked(x, cin, plane, t);
        float[] alpha = Floats(rng, cout), shift = Floats(rng, cout), slopes = Floats(rng, cout), bias1 = Floats(rng, cout);
        float[] residual = Floats(rng, cout * plane), next = Floats(rng, cout);

        // The same calls on ordinary arrays: the expected values.
        var expected = new float[cout * plane];
        BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, zeroWeights ? mask : default, zeroWeights ? counts : default,
            alpha, shift, slopes, bias1, residual, expected);
        var expectedPacked = new ulong[2 * nextWords * plane];
        var expectedKinds = new byte[plane];
        BinaryKernels.SignPack(expected, cout, plane, next, expectedPacked, expectedKinds);

        using var g = new GuardedMemory(side);
        Span<ulong> gp = g.Alloc<ulong>(packed.Length, packed), gs = g.Alloc<ulong>(signs.Length, signs);
        Span<ulong> gm = zeroWeights ? g.Alloc<ulong>(mask.Length, mask) : default;
        Span<int> gc = zeroWeights ? g.Alloc<int>(counts.Length, counts) : default;
        Span<byte> gk = g.Alloc<byte>(kinds.Length, kinds);
        Span<float> ga = g.Alloc<float>(cout, alpha), gsh = g.Alloc<float>(cout, shift), gsl = g.Alloc<float>(cout, slopes), gb = g.Alloc<float>(cout, bias1);
        Span<float> gr = g.Alloc<float>(residual.Length, residual), gy = g.Alloc<float>(cout * plane), gn = g.Alloc<float>(cout, next);
        foreach (int degree in new[] { 1, 2 })
        {
            gy.Clear();
            BinaryKernels.Conv3x3(gp, gk, width, height, cin, cout, gs, gm, gc, ga, gsh, gsl, gb, gr, gy, degree: degree);
            FloatAssert.SameBits(expected, gy, $"guarded, {degree} thread(s)");
        }
        // In place over the residual, packing the next layer's input.
        Span<float> inPlace = g.Alloc<float>(residual.Length, residual);
        Span<ulong> gnp = g.Alloc<ulong>(expectedPacked.Length);
        Span<byte> gnk = g.Alloc<byte>(plane);
        BinaryKernels.Conv3x3(gp, gk, width, height, cin, cout, gs, gm, gc, ga, gsh, gsl, gb, inPlace, inPlace,
            nextThresholds: gn, nextPacked: gnp, nextKinds: gnk);
        FloatAssert.SameBits(expected, inPlace, "guarded, in place with the fused pack");
        FloatAssert.SameBits(expectedPacked, gnp, "guarded fused pack");
        Assert.True(expectedKinds.AsSpan().SequenceEqual(gnk), "guarded fused flags");
    }

    [Theory]
    [InlineData(1, 1, 1, 1, 1)]
    [InlineData(3, 8, 17, 9, 3)]
    [InlineData(8, 3, 19, 6, 3)]
    [InlineData(5, 5, 23, 7, 5)]
    [InlineData(2, 3, 14, 13, 11)]
    [InlineData(13, 1, 9, 9, 1)]
    public void FloatConvAndResamplingStayInsideTheirBuffers(int cin, int cout, int width, int height, int k)
    {
        var rng = new Random(cin + cout * 3 + width * 5 + k);
        int plane = width * height;
        float[] x = Floats(rng, cin * plane), w = Floats(rng, cout * cin * k * k), b = Floats(rng, cout), sl = Floats(rng, cout);
        var expected = new float[cout * plane];
        FloatKernels.Conv2d(x, expected, width, height, cin, cout, k, w, b, BbcuActivation.PRelu, 0f, sl);
        var up = new float[cin * plane * 9];
        ResampleKernels.UpsampleBilinear(x, up, cin, 3, width, height);
        var shuffled = new float[cin * plane];
        if (cin % 4 == 0) ResampleKernels.PixelShuffle(x, shuffled, cin / 4, 2, width, height);
        foreach (GuardedMemory.GuardSide side in new[] { GuardedMemory.GuardSide.End, GuardedMemory.GuardSide.Start })
        {
            using var g = new GuardedMemory(side);
            Span<float> gx = g.Alloc<float>(x.Length, x), gw = g.Alloc<float>(w.Length, w), gb = g.Alloc<float>(cout, b), gs = g.Alloc<float>(cout, sl);
            Span<float> gy = g.Alloc<float>(cout * plane);
            foreach (int degree in new[] { 1, 2 })
            {
                FloatKernels.Conv2d(gx, gy, width, height, cin, cout, k, gw, gb, BbcuActivation.PRelu, 0f, gs, degree);
                FloatAssert.SameBits(expected, gy, $"guarded Conv2d {side}, {degree} thread(s)");
            }
            Span<float> gu = g.Alloc<float>(up.Length);
            ResampleKernels.UpsampleBilinear(gx, gu, cin, 3, width, height);
            FloatAssert.SameBits(up, gu, $"guarded bilinear ×3 {side}");
            if (cin % 4 == 0)
            {
                Span<float> gps = g.Alloc<float>(shuffled.Length);
                ResampleKernels.PixelShuffle(gx, gps, cin / 4, 2, width, height);
                FloatAssert.SameBits(shuffled, gps, $"guarded pixel shuffle {side}");
            }
        }
    }

    private static float[] Floats(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
