using System;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bbcu.Bench;

/// <summary>
/// The XOR+popcount ceiling of one 64→64 3×3 binary layer at W×H: for every pixel, 9 tap words
/// (64 channels each, read from a zero-padded packed map) against 64 output channels' 9 weight
/// words: W·H·64·9 XOR+popcounts of 64 bits, nothing else (no sign-pack, no epilogue, no stores
/// beyond one 64-entry accumulator row per pixel).
/// </summary>
public sealed unsafe class Roofline : IDisposable
{
    private const int Cout = 64, Taps = 9;
    private readonly int _w, _h, _stride;
    private readonly ulong* _map;        // (H+2)·(W+2) words, zero border
    private readonly ulong* _wOut;       // [Cout][Taps]  (scalar layout)
    private readonly ulong* _wTap;       // [Taps][Cout]  (AVX2 layout: 4 consecutive outputs per vector)
    private readonly ulong* _acc;        // one row of Cout sums

    /// <summary>Random packed map and weights for a W×H layer.</summary>
    public Roofline(int width, int height, int seed = 3)
    {
        _w = width; _h = height; _stride = width + 2;
        var r = new Random(seed);
        _map = Alloc((long)(height + 2) * _stride);
        for (int y = 1; y <= height; y++)
            for (int x = 1; x <= width; x++)
                _map[(long)y * _stride + x] = (ulong)r.NextInt64() ^ ((ulong)r.Next() << 40);
        _wOut = Alloc(Cout * Taps);
        _wTap = Alloc(Cout * Taps);
        for (int o = 0; o < Cout; o++)
            for (int t = 0; t < Taps; t++)
            {
                ulong v = (ulong)r.NextInt64() ^ ((ulong)r.Next() << 40);
                _wOut[o * Taps + t] = v;
                _wTap[t * Cout + o] = v;
            }
        _acc = Alloc(Cout);
    }

    /// <summary>Bit operations (XOR+popcount of 64-bit words) per call.</summary>
    public long Words => (long)_w * _h * Cout * Taps;

    private static ulong* Alloc(long n)
    {
        var p = (ulong*)NativeMemory.AlignedAlloc((nuint)(n * 8), 64);
        new Span<ulong>(p, checked((int)n)).Clear();
        return p;
    }

    /// <summary>Scalar <see cref="BitOperations.PopCount(ulong)"/>, pointers, ulong accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Scalar()
    {
        ulong check = 0;
        int s = _stride;
        ulong* acc = _acc;
        for (int y = 0; y < _h; y++)
        {
            ulong* row = _map + (long)y * s;
            for (int x = 0; x < _w; x++)
            {
                ulong* p = row + x;
                ulong x0 = p[0], x1 = p[1], x2 = p[2];
                ulong x3 = p[s], x4 = p[s + 1], x5 = p[s + 2];
                ulong x6 = p[2 * s], x7 = p[2 * s + 1], x8 = p[2 * s + 2];
                ulong* wp = _wOut;
                for (int o = 0; o < Cout; o++, wp += Taps)
                {
                    ulong a = (ulong)BitOperations.PopCount(x0 ^ wp[0]) + (ulong)BitOperations.PopCount(x1 ^ wp[1])
                            + (ulong)BitOperations.PopCount(x2 ^ wp[2]);
                    ulong b = (ulong)BitOperations.PopCount(x3 ^ wp[3]) + (ulong)BitOperations.PopCount(x4 ^ wp[4])
                            + (ulong)BitOperations.PopCount(x5 ^ wp[5]);
                    ulong c = (ulong)BitOperations.PopCount(x6 ^ wp[6]) + (ulong)BitOperations.PopCount(x7 ^ wp[7])
                            + (ulong)BitOperations.PopCount(x8 ^ wp[8]);
                    acc[o] = a + b + c;
                }
                check += acc[x & (Cout - 1)];
            }
        }
        return check;
    }

    /// <summary>
    /// AVX2 nibble lookup (Mula): per 4 output channels, XOR the 9 broadcast tap words with the
    /// weights, count bits per byte with two vpshufb, add the bytes over the taps (≤ 72 per byte)
    /// and reduce with vpsadbw into 4 64-bit sums. Falls back to <see cref="Scalar"/> without AVX2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Avx2Lut()
    {
        if (!Avx2.IsSupported) return Scalar();
        Vector256<byte> lut = Vector256.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                                     0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        Vector256<byte> low = Vector256.Create((byte)0x0f);
        ulong check = 0;
        int s = _stride;
        ulong* acc = _acc;
        for (int y = 0; y < _h; y++)
        {
            ulong* row = _map + (long)y * s;
            for (int x = 0; x < _w; x++)
            {
                ulong* p = row + x;
                Vector256<byte> t0 = Vector256.Create(p[0]).AsByte(), t1 = Vector256.Create(p[1]).AsByte(), t2 = Vector256.Create(p[2]).AsByte();
                Vector256<byte> t3 = Vector256.Create(p[s]).AsByte(), t4 = Vector256.Create(p[s + 1]).AsByte(), t5 = Vector256.Create(p[s + 2]).AsByte();
                Vector256<byte> t6 = Vector256.Create(p[2 * s]).AsByte(), t7 = Vector256.Create(p[2 * s + 1]).AsByte(), t8 = Vector256.Create(p[2 * s + 2]).AsByte();
                byte* w = (byte*)_wTap;
                const int tapBytes = Cout * 8;
                for (int g = 0; g < Cout; g += 4, w += 32)
                {
                    Vector256<byte> sum = Count(Avx.LoadAlignedVector256(w) ^ t0, lut, low);
                    sum += Count(Avx.LoadAlignedVector256(w + tapBytes) ^ t1, lut, low);
                    sum += Count(Avx.LoadAlignedVector256(w + 2 * tapBytes) ^ t2, lut, low);
                    sum += Count(Avx.LoadAlignedVector256(w + 3 * tapBytes) ^ t3, lut, low);
                    sum += Count(Avx.LoadAlignedVector256(w + 4 * tapBytes) ^ t4, lut, low);
                    sum += Count(Avx.LoadAlignedVector256(w + 5 * tapBytes) ^ t5, lut, low);
                    sum += Count(Avx.LoadAlignedVector256(w + 6 * tapBytes) ^ t6, lut, low);
                    sum += Count(Avx.LoadAlignedVector256(w + 7 * tapBytes) ^ t7, lut, low);
                    sum += Count(Avx.LoadAlignedVector256(w + 8 * tapBytes) ^ t8, lut, low);
                    Avx.Store(acc + g, Avx2.SumAbsoluteDifferences(sum, Vector256<byte>.Zero).AsUInt64());
                }
                check += acc[x & (Cout - 1)];
            }
        }
        return check;
    }

    /// <summary>
    /// AVX-512, eight pixels per vector (the runtime kernel's formulation): a tap's words of eight
    /// neighbouring pixels are one 512-bit load, shared by all 64 output channels; per channel the nine
    /// taps are XORed with the channel's broadcast weight words and then either reduced by Harley–Seal
    /// carry-save adders (<paramref name="harleySeal"/>: vpternlogq to bit planes of weight 1, 2, 4, 8,
    /// each counted by a pre-weighted nibble table) or each counted by the nibble table (vpshufb), the
    /// bytes summed per pixel with vpsadbw. Falls back to <see cref="Avx2Lut"/> without AVX-512BW.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Avx512(bool harleySeal)
    {
        if (!Avx512BW.IsSupported) return Avx2Lut();
        Vector512<byte> one = Vector512.Create(Vector128.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
        Vector512<byte> two = one + one, four = two + two, eight = four + four, low = Vector512.Create((byte)0x0f);
        Vector512<ulong> check = Vector512<ulong>.Zero;
        int s = _stride;
        for (int y = 0; y < _h; y++)
        {
            ulong* row = _map + (long)y * s;
            for (int x = 0; x + 8 <= _w; x += 8)
            {
                ulong* p = row + x;
                Vector512<ulong> t0 = Vector512.Load(p), t1 = Vector512.Load(p + 1), t2 = Vector512.Load(p + 2);
                Vector512<ulong> t3 = Vector512.Load(p + s), t4 = Vector512.Load(p + s + 1), t5 = Vector512.Load(p + s + 2);
                Vector512<ulong> t6 = Vector512.Load(p + 2 * s), t7 = Vector512.Load(p + 2 * s + 1), t8 = Vector512.Load(p + 2 * s + 2);
                ulong* w = _wOut;
                for (int o = 0; o < Cout; o++, w += Taps)
                {
                    Vector512<ulong> x0 = t0 ^ Vector512.Create(w[0]), x1 = t1 ^ Vector512.Create(w[1]), x2 = t2 ^ Vector512.Create(w[2]);
                    Vector512<ulong> x3 = t3 ^ Vector512.Create(w[3]), x4 = t4 ^ Vector512.Create(w[4]), x5 = t5 ^ Vector512.Create(w[5]);
                    Vector512<ulong> x6 = t6 ^ Vector512.Create(w[6]), x7 = t7 ^ Vector512.Create(w[7]), x8 = t8 ^ Vector512.Create(w[8]);
                    Vector512<byte> bytes;
                    if (harleySeal)
                    {
                        Vector512<ulong> s1 = Avx512F.TernaryLogic(x0, x1, x2, 0x96), c1 = Avx512F.TernaryLogic(x0, x1, x2, 0xE8);
                        Vector512<ulong> s2 = Avx512F.TernaryLogic(x3, x4, x5, 0x96), c2 = Avx512F.TernaryLogic(x3, x4, x5, 0xE8);
                        Vector512<ulong> s3 = Avx512F.TernaryLogic(x6, x7, x8, 0x96), c3 = Avx512F.TernaryLogic(x6, x7, x8, 0xE8);
                        Vector512<ulong> ones = Avx512F.TernaryLogic(s1, s2, s3, 0x96), c4 = Avx512F.TernaryLogic(s1, s2, s3, 0xE8);
                        Vector512<ulong> s5 = Avx512F.TernaryLogic(c1, c2, c3, 0x96), c5 = Avx512F.TernaryLogic(c1, c2, c3, 0xE8);
                        Vector512<ulong> twos = s5 ^ c4, c6 = s5 & c4, fours = c5 ^ c6, eights = c5 & c6;
                        bytes = Count512(ones, one, low) + Count512(twos, two, low) + Count512(fours, four, low) + Count512(eights, eight, low);
                    }
                    else
                        bytes = Count512(x0, one, low) + Count512(x1, one, low) + Count512(x2, one, low) + Count512(x3, one, low)
                                + Count512(x4, one, low) + Count512(x5, one, low) + Count512(x6, one, low) + Count512(x7, one, low)
                                + Count512(x8, one, low);
                    check += Avx512BW.SumAbsoluteDifferences(bytes, Vector512<byte>.Zero).AsUInt64();
                }
            }
        }
        return Vector512.Sum(check);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Count512(Vector512<ulong> v, Vector512<byte> table, Vector512<byte> low)
        => Avx512BW.Shuffle(table, v.AsByte() & low) + Avx512BW.Shuffle(table, Vector512.ShiftRightLogical(v, 4).AsByte() & low);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Count(Vector256<byte> v, Vector256<byte> lut, Vector256<byte> low)
        => Avx2.Shuffle(lut, v & low) + Avx2.Shuffle(lut, Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & low);

    /// <summary>Frees the native buffers.</summary>
    public void Dispose()
    {
        NativeMemory.AlignedFree(_map);
        NativeMemory.AlignedFree(_wOut);
        NativeMemory.AlignedFree(_wTap);
        NativeMemory.AlignedFree(_acc);
    }
}
