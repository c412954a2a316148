using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bbcu;

public static partial class BinaryKernels
{
    /// <summary>
    /// AVX2 sign-and-pack of pixels <c>[start, end)</c>, eight pixels per block: for each channel one compare of
    /// eight floats against the threshold gives an 8-bit mask (<c>vmovmskps</c>, bit = pixel); the masks of 64
    /// channels (64 bytes, byte = channel) are transposed into eight 64-bit words (bit = channel) by shifting
    /// each 16-bit lane left so that pixel p's bit becomes every byte's top bit, and <c>vpmovmskb</c> collects
    /// the top bits of 32 channels at once. Pixels go in chunks of <see cref="PackChunk"/> so that each channel is
    /// read in one sequential sweep (with the next chunk's line prefetched). The non-zero words and the flags
    /// come from the equality masks, without a transpose when no channel of a block is exactly at its threshold.
    /// A tail of fewer than eight pixels takes the portable loop. Same bits as the portable code.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackBandAvx2(ref PackState s, int start, int end)
    {
        int plane = s.Plane, words = s.Words, channels = s.Channels;
        ulong* pk = s.Packed;
        const int Blocks = PackChunk / 8;
        // [block][channel] masks, 8 bits = 8 pixels: sign (below the threshold) and non-zero (not at it).
        byte* lt = stackalloc byte[Blocks * 64];
        byte* nz = stackalloc byte[Blocks * 64];
        byte* anyZero = stackalloc byte[Blocks];
        int p0 = start;
        for (; p0 <= end - 8; p0 += PackChunk)
        {
            int blocks = Math.Min(Blocks, (end - p0) / 8);
            for (int w = 0; w < words; w++)
            {
                int c0 = w * 64, n = Math.Min(64, channels - c0);
                new Span<byte>(anyZero, blocks).Clear();
                for (int c = 0; c < 64; c++)
                {
                    if (c >= n)
                    {
                        for (int b = 0; b < blocks; b++) { lt[b * 64 + c] = 0; nz[b * 64 + c] = 0; }
                        continue;
                    }
                    float* xc = s.X + (long)(c0 + c) * plane + p0;
                    Vector256<float> t = Vector256.Create(s.Thresholds[c0 + c]);
                    for (int b = 0; b < blocks; b++)
                    {
                        if ((b & 1) == 0) Sse.Prefetch0(xc + PackChunk + 8 * b); // this channel's line of the next chunk
                        Vector256<float> v = Avx.LoadVector256(xc + 8 * b);
                        lt[b * 64 + c] = (byte)Avx.MoveMask(Avx.CompareLessThan(v, t));
                        byte eq = (byte)Avx.MoveMask(Avx.CompareEqual(v, t));
                        nz[b * 64 + c] = (byte)~eq;
                        anyZero[b] |= eq;
                    }
                }
                ulong all = n == 64 ? ulong.MaxValue : (1UL << n) - 1;
                for (int b = 0; b < blocks; b++)
                {
                    long p = p0 + 8 * b;
                    Transpose64x8(lt + b * 64, pk + (long)w * plane + p);
                    ulong* nonzero = pk + (long)(words + w) * plane + p;
                    if (anyZero[b] == 0)
                    {
                        Vector256.Store(Vector256.Create(all), nonzero);
                        Vector256.Store(Vector256.Create(all), nonzero + 4);
                    }
                    else
                        Transpose64x8(nz + b * 64, nonzero);
                }
            }
            WriteFlags(ref s, p0, p0 + 8 * blocks);
            if (blocks < Blocks) { p0 += 8 * blocks; break; }
        }
        if (p0 < end) PackBandPortable(ref s, p0, end);
    }

    /// <summary>Eight 64-bit words (pixel p: bit c = bit p of <paramref name="masks"/>[c]) from 64 8-bit masks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Transpose64x8(byte* masks, ulong* dst)
    {
        Vector256<short> lo = Avx.LoadVector256(masks).AsInt16(), hi = Avx.LoadVector256(masks + 32).AsInt16();
        // Pixel p: bit p of every byte moved to its top bit by a 16-bit shift by 7 − p (the low byte's top bit
        // comes from the low byte, the high byte's from the high byte), then collected by vpmovmskb.
        dst[0] = TopBits(Avx2.ShiftLeftLogical(lo, 7), Avx2.ShiftLeftLogical(hi, 7));
        dst[1] = TopBits(Avx2.ShiftLeftLogical(lo, 6), Avx2.ShiftLeftLogical(hi, 6));
        dst[2] = TopBits(Avx2.ShiftLeftLogical(lo, 5), Avx2.ShiftLeftLogical(hi, 5));
        dst[3] = TopBits(Avx2.ShiftLeftLogical(lo, 4), Avx2.ShiftLeftLogical(hi, 4));
        dst[4] = TopBits(Avx2.ShiftLeftLogical(lo, 3), Avx2.ShiftLeftLogical(hi, 3));
        dst[5] = TopBits(Avx2.ShiftLeftLogical(lo, 2), Avx2.ShiftLeftLogical(hi, 2));
        dst[6] = TopBits(Avx2.ShiftLeftLogical(lo, 1), Avx2.ShiftLeftLogical(hi, 1));
        dst[7] = TopBits(lo, hi);
    }

    /// <summary>The top bits of the 32 bytes of <paramref name="lo"/> (bits 0–31) and of <paramref name="hi"/> (bits 32–63).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong TopBits(Vector256<short> lo, Vector256<short> hi) =>
        (uint)Avx2.MoveMask(lo.AsByte()) | ((ulong)(uint)Avx2.MoveMask(hi.AsByte()) << 32);
}
