using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bbcu;

public static partial class BinaryKernels
{
    /// <summary>Pixels per pass of <see cref="PackBandAvx512"/>: each channel's part of a chunk is read in one
    /// sequential sweep (planes are often a multiple of 1 KiB apart, so touching every channel per 16 pixels
    /// would fight over a few L1 sets); the masks of a chunk (8 KiB) stay in L1 until transposed.</summary>
    private const int PackChunk = 512;

    /// <summary>
    /// AVX-512 + GFNI sign-and-pack of pixels <c>[start, end)</c>, sixteen pixels per block: for each channel
    /// one compare of 16 floats against the threshold gives a 16-bit mask (bit = pixel); the masks of 64
    /// channels form a 64×16 bit matrix, which is transposed into sixteen 64-bit words (bit = channel) by
    /// gathering 8×8 blocks (<c>vpermi2b</c>), transposing each block's bits (<c>vgf2p8affineqb</c>
    /// with the identity as data and the block as matrix) and its bytes (<c>vpermb</c>). The non-zero
    /// words and the flags are written from the equality masks, and when no channel of a block is exactly
    /// at its threshold (the usual case) without a transpose. A tail of fewer than 16 pixels takes the
    /// portable loop. Same bits as <see cref="PackBand"/>'s portable code.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackBandAvx512(ref PackState s, int start, int end)
    {
        int plane = s.Plane, words = s.Words, channels = s.Channels;
        ulong* pk = s.Packed;
        const int Blocks = PackChunk / 16;
        // [block][channel] masks, 16 bits = 16 pixels: sign (below the threshold) and non-zero (not at it).
        ushort* lt = stackalloc ushort[Blocks * 64];
        ushort* nz = stackalloc ushort[Blocks * 64];
        uint* anyZero = stackalloc uint[Blocks];
        // vpermi2b indices for pixel half h: byte k of qword cg takes channel 8·cg + 7 − k, i.e. source byte 2·channel + h
        // (a block's masks are [channel][2 bytes]); channel order within a qword is reversed so that the affine
        // transform below yields T[pixel] bit j = channel 8·cg + j.
        Vector512<byte> gather0 = GatherIndex(0), gather1 = GatherIndex(1);
        Vector512<byte> identity = Vector512.Create(0x8040201008040201UL).AsByte();
        Vector512<byte> bytesOut = ByteTransposeIndex();
        ulong tail = (channels & 63) == 0 ? ulong.MaxValue : (1UL << (channels & 63)) - 1;
        int p0 = start;
        for (; p0 <= end - 16; p0 += PackChunk)
        {
            int blocks = Math.Min(Blocks, (end - p0) / 16);
            for (int w = 0; w < words; w++)
            {
                int c0 = w * 64, n = Math.Min(64, channels - c0);
                new Span<uint>(anyZero, blocks).Clear();
                for (int c = 0; c < 64; c++)
                {
                    if (c >= n)
                    {
                        for (int b = 0; b < blocks; b++) { lt[b * 64 + c] = 0; nz[b * 64 + c] = 0; }
                        continue;
                    }
                    float* xc = s.X + (long)(c0 + c) * plane + p0;
                    Vector512<float> t = Vector512.Create(s.Thresholds[c0 + c]);
                    for (int b = 0; b < blocks; b++)
                    {
                        // This channel's line of the next chunk: 64 planes read a chunk at a time are more streams
                        // than the hardware prefetchers follow (measured: 1.9 → 0.8 ms for 64 channels at 320×180).
                        Sse.Prefetch0(xc + PackChunk + 16 * b);
                        Vector512<float> v = Vector512.Load(xc + 16 * b);
                        lt[b * 64 + c] = (ushort)Vector512.LessThan(v, t).ExtractMostSignificantBits();
                        uint eq = (uint)Vector512.Equals(v, t).ExtractMostSignificantBits();
                        nz[b * 64 + c] = (ushort)~eq;
                        anyZero[b] |= eq;
                    }
                }
                Vector512<ulong> all = Vector512.Create(n == 64 ? ulong.MaxValue : (1UL << n) - 1);
                for (int b = 0; b < blocks; b++)
                {
                    long p = p0 + 16 * b;
                    ulong* nonzero = pk + (long)(words + w) * plane + p;
                    Transpose64x16(lt + b * 64, pk + (long)w * plane + p, gather0, gather1, identity, bytesOut);
                    if (anyZero[b] == 0)
                    {
                        Vector512.Store(all, nonzero);
                        Vector512.Store(all, nonzero + 8);
                    }
                    else
                        Transpose64x16(nz + b * 64, nonzero, gather0, gather1, identity, bytesOut);
                }
            }
            // Flags: dense when every non-zero word is full.
            for (int b = 0; b < blocks; b++)
            {
                ulong* nz0 = pk + (long)words * plane + p0 + 16 * b;
                Vector512<ulong> dense0 = Vector512<ulong>.AllBitsSet, dense1 = Vector512<ulong>.AllBitsSet;
                for (int w = 0; w < words; w++)
                {
                    Vector512<ulong> want = Vector512.Create(w == words - 1 ? tail : ulong.MaxValue);
                    dense0 &= Vector512.Equals(Vector512.Load(nz0 + (long)w * plane), want);
                    dense1 &= Vector512.Equals(Vector512.Load(nz0 + (long)w * plane + 8), want);
                }
                uint dense = (uint)(dense0.ExtractMostSignificantBits() | (dense1.ExtractMostSignificantBits() << 8));
                byte* kinds = s.Kinds + p0 + 16 * b;
                for (int i = 0; i < 16; i++) kinds[i] = ((dense >> i) & 1) != 0 ? Dense : HasZeros;
            }
            if (blocks < Blocks) { p0 += 16 * blocks; break; }
        }
        if (p0 < end) PackBandPortable(ref s, p0, end);
    }

    /// <summary>Index for <c>vpermi2b</c> over the 128 mask bytes ([channel][2]): qword cg, byte k ← channel 8·cg + 7 − k, half h.</summary>
    private static Vector512<byte> GatherIndex(int h)
    {
        Span<byte> idx = stackalloc byte[64];
        for (int cg = 0; cg < 8; cg++)
            for (int k = 0; k < 8; k++)
                idx[cg * 8 + k] = (byte)(2 * (8 * cg + 7 - k) + h);
        return Vector512.Create((ReadOnlySpan<byte>)idx);
    }

    /// <summary>Index for <c>vpermb</c>: output byte (pixel i, channel group cg) = input byte (cg, i).</summary>
    private static Vector512<byte> ByteTransposeIndex()
    {
        Span<byte> idx = stackalloc byte[64];
        for (int i = 0; i < 8; i++)
            for (int cg = 0; cg < 8; cg++)
                idx[i * 8 + cg] = (byte)(cg * 8 + i);
        return Vector512.Create((ReadOnlySpan<byte>)idx);
    }

    /// <summary>Sixteen 64-bit words (pixel p: bit c = bit p of <paramref name="masks"/>[c]) from 64 16-bit masks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Transpose64x16(ushort* masks, ulong* dst, Vector512<byte> gather0, Vector512<byte> gather1,
        Vector512<byte> identity, Vector512<byte> bytesOut)
    {
        Vector512<byte> lo = Vector512.Load((byte*)masks), hi = Vector512.Load((byte*)masks + 64);
        Vector512<byte> b0 = Avx512Vbmi.PermuteVar64x8x2(lo, gather0, hi);
        Vector512<byte> b1 = Avx512Vbmi.PermuteVar64x8x2(lo, gather1, hi);
        Vector512<byte> t0 = Gfni.V512.GaloisFieldAffineTransform(identity, b0, 0);
        Vector512<byte> t1 = Gfni.V512.GaloisFieldAffineTransform(identity, b1, 0);
        Vector512.Store(Avx512Vbmi.PermuteVar64x8(t0, bytesOut).AsUInt64(), dst);
        Vector512.Store(Avx512Vbmi.PermuteVar64x8(t1, bytesOut).AsUInt64(), dst + 8);
    }
}
