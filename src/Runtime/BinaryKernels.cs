using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Bbcu;

/// <summary>
/// Binary (1-bit) kernels: sign-and-pack of activations and the 3×3 XNOR/popcount convolution
/// (generated code only).
/// </summary>
/// <remarks>
/// <para><b>Packed layout.</b> A packed map holds, per pixel, <c>2·words</c> 64-bit words
/// (<c>words = ⌈C/64⌉</c>): first the <i>sign</i> words (bit <c>c</c> set when channel <c>c</c> is
/// negative after thresholding), then the <i>non-zero</i> words (bit <c>c</c> set when channel
/// <c>c</c> is not exactly at its threshold). Bits past <c>C</c> are 0 in both. One flag byte per pixel
/// says whether every channel is non-zero (<see cref="Dense"/>) or some are exactly 0
/// (<see cref="HasZeros"/>), so the common case needs one popcount per word.</para>
/// <para><b>Exact PyTorch semantics.</b> <c>torch.sign</c> gives 0 for an input exactly at the
/// threshold and for an exactly-zero weight; zero padding contributes 0. The convolution counts only
/// taps whose activation and weight are both non-zero: for such taps
/// <c>Σ sign(x)·sign(w) = count − 2·popcount(x ⊕ w)</c>.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class BinaryKernels
{
    /// <summary>Pixel flag: every channel is ±1.</summary>
    public const byte Dense = 0;

    /// <summary>Pixel flag: some channel is exactly at its threshold (sign 0).</summary>
    public const byte HasZeros = 1;

    /// <summary>
    /// Thresholds and packs a CHW map: channel <c>c</c> of pixel <c>p</c> is <c>sign(x[c,p] − t[c])</c>,
    /// which equals PyTorch's <c>sign(x + b)</c> exactly for <c>t = −b</c> (IEEE addition is exact in
    /// sign and rounds to zero only when the exact sum is zero).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SignPack(ReadOnlySpan<float> x, int channels, int plane, ReadOnlySpan<float> thresholds,
        Span<ulong> packed, Span<byte> kinds)
    {
        int words = (channels + 63) >> 6;
        int stride = 2 * words;
        packed.Slice(0, plane * stride).Clear();
        for (int c = 0; c < channels; c++)
        {
            float t = thresholds[c];
            int word = c >> 6;
            ulong bit = 1UL << (c & 63);
            ReadOnlySpan<float> xc = x.Slice(c * plane, plane);
            for (int p = 0; p < plane; p++)
            {
                float v = xc[p];
                int at = p * stride + word;
                if (v < t) packed[at] |= bit;
                if (v != t) packed[at + words] |= bit;
            }
        }
        ulong tail = (channels & 63) == 0 ? ulong.MaxValue : (1UL << (channels & 63)) - 1;
        for (int p = 0; p < plane; p++)
        {
            ReadOnlySpan<ulong> nz = packed.Slice(p * stride + words, words);
            bool dense = nz[words - 1] == tail;
            for (int w = 0; w < words - 1 && dense; w++)
                dense = nz[w] == ulong.MaxValue;
            kinds[p] = dense ? Dense : HasZeros;
        }
    }

    /// <summary>
    /// 3×3, stride-1, zero-padded binary convolution of a packed map followed by the folded epilogue
    /// <c>z = α[o]·s + shift[o]</c>; <c>z = z &gt; 0 ? z : slope[o]·z</c> (when <paramref name="slopes"/> is
    /// given); <c>z += bias1[o]</c> (when given); <c>z += residual[o, p]</c> (when given).
    /// </summary>
    /// <param name="packed">Packed input (see the remarks on <see cref="BinaryKernels"/>).</param>
    /// <param name="kinds">Per-pixel flags from <see cref="SignPack"/>.</param>
    /// <param name="weights">Sign bits of the weights, <c>[Cout][9 taps][words]</c>, bit set for negative.</param>
    /// <param name="weightMask">Non-zero bits of the weights in the same layout, or empty when no weight is 0.</param>
    /// <param name="weightCount">Non-zero weights per <c>[Cout][tap]</c>, or empty when no weight is 0.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv3x3(ReadOnlySpan<ulong> packed, ReadOnlySpan<byte> kinds, int width, int height,
        int cin, int cout, ReadOnlySpan<ulong> weights, ReadOnlySpan<ulong> weightMask, ReadOnlySpan<int> weightCount,
        ReadOnlySpan<float> alpha, ReadOnlySpan<float> shift, ReadOnlySpan<float> slopes, ReadOnlySpan<float> bias1,
        ReadOnlySpan<float> residual, Span<float> y)
    {
        int words = (cin + 63) >> 6;
        int stride = 2 * words;
        int plane = width * height;
        bool masked = !weightMask.IsEmpty;
        Span<int> acc = stackalloc int[cout]; // cout ≤ 4096: the generator rejects wider binary layers (BBCU022)
        Span<ulong> gathered = stackalloc ulong[9 * words];
        int full = 9 * cin;
        for (int r = 0; r < height; r++)
        {
            int ky0 = r == 0 ? 1 : 0, ky1 = r == height - 1 ? 2 : 3;
            for (int col = 0; col < width; col++)
            {
                int kx0 = col == 0 ? 1 : 0, kx1 = col == width - 1 ? 2 : 3;
                // Fast path: an interior pixel whose 9 taps are all ±1 and no weight is 0:
                // s[o] = 9·Cin − 2·popcount(taps ⊕ W[o]) over 9·words contiguous words.
                bool fast = !masked && ky0 == 0 && ky1 == 3 && kx0 == 0 && kx1 == 3;
                for (int ky = 0; ky < 3 && fast; ky++)
                    for (int kx = 0; kx < 3 && fast; kx++)
                    {
                        int q = (r + ky - 1) * width + (col + kx - 1);
                        if (kinds[q] != Dense) fast = false;
                        else packed.Slice(q * stride, words).CopyTo(gathered.Slice((ky * 3 + kx) * words, words));
                    }
                if (fast)
                {
                    XorPopcount(gathered, weights, cout, full, acc);
                }
                else
                {
                    acc.Clear();
                    AccumulateGeneral(packed, kinds, width, r, col, ky0, ky1, kx0, kx1, words, stride, cin, cout, weights, weightMask, weightCount, acc);
                }
                int p = r * width + col;
                for (int o = 0; o < cout; o++)
                {
                    float z = alpha[o] * acc[o] + shift[o];
                    if (!slopes.IsEmpty) z = z > 0f ? z : slopes[o] * z;
                    if (!bias1.IsEmpty) z += bias1[o];
                    if (!residual.IsEmpty) z += residual[o * plane + p];
                    y[o * plane + p] = z;
                }
            }
        }
    }

    /// <summary><c>acc[o] = full − 2·Σ popcount(x ⊕ W[o])</c> over one pixel's gathered taps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void XorPopcount(ReadOnlySpan<ulong> x, ReadOnlySpan<ulong> weights, int cout, int full, Span<int> acc)
    {
        int n = x.Length;
        fixed (ulong* px = x)
        fixed (ulong* pw0 = weights)
        {
            ulong* pw = pw0;
            for (int o = 0; o < cout; o++, pw += n)
            {
                int m0 = 0, m1 = 0;
                int i = 0;
                for (; i + 1 < n; i += 2)
                {
                    m0 += BitOperations.PopCount(px[i] ^ pw[i]);
                    m1 += BitOperations.PopCount(px[i + 1] ^ pw[i + 1]);
                }
                if (i < n) m0 += BitOperations.PopCount(px[i] ^ pw[i]);
                acc[o] = full - 2 * (m0 + m1);
            }
        }
    }

    /// <summary>Any pixel: taps inside the image only, zero activations and zero weights counted as 0.</summary>
    private static void AccumulateGeneral(ReadOnlySpan<ulong> packed, ReadOnlySpan<byte> kinds, int width, int r, int col,
        int ky0, int ky1, int kx0, int kx1, int words, int stride, int cin, int cout,
        ReadOnlySpan<ulong> weights, ReadOnlySpan<ulong> weightMask, ReadOnlySpan<int> weightCount, Span<int> acc)
    {
        bool masked = !weightMask.IsEmpty;
        for (int ky = ky0; ky < ky1; ky++)
        {
            for (int kx = kx0; kx < kx1; kx++)
            {
                int q = (r + ky - 1) * width + (col + kx - 1);
                int tap = ky * 3 + kx;
                ReadOnlySpan<ulong> xs = packed.Slice(q * stride, words);
                if (kinds[q] == Dense)
                {
                    for (int o = 0; o < cout; o++)
                    {
                        int at = (o * 9 + tap) * words;
                        int mismatches = 0;
                        if (!masked)
                        {
                            for (int w = 0; w < words; w++)
                                mismatches += BitOperations.PopCount(xs[w] ^ weights[at + w]);
                            acc[o] += cin - 2 * mismatches;
                        }
                        else
                        {
                            for (int w = 0; w < words; w++)
                                mismatches += BitOperations.PopCount((xs[w] ^ weights[at + w]) & weightMask[at + w]);
                            acc[o] += weightCount[o * 9 + tap] - 2 * mismatches;
                        }
                    }
                }
                else
                {
                    ReadOnlySpan<ulong> nz = packed.Slice(q * stride + words, words);
                    for (int o = 0; o < cout; o++)
                    {
                        int at = (o * 9 + tap) * words;
                        int count = 0, mismatches = 0;
                        for (int w = 0; w < words; w++)
                        {
                            ulong m = masked ? nz[w] & weightMask[at + w] : nz[w];
                            count += BitOperations.PopCount(m);
                            mismatches += BitOperations.PopCount((xs[w] ^ weights[at + w]) & m);
                        }
                        acc[o] += count - 2 * mismatches;
                    }
                }
            }
        }
    }
}
