using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bbcu;

public static partial class BinaryKernels
{
    /// <summary>Widest layer (in groups of four output channels) the fused AVX2 path takes: its per-call
    /// epilogue constants live on the stack (8 vectors per group, 16 KiB at 256 channels).</summary>
    private const int MaxFusedGroups = 64;

    /// <summary>
    /// AVX2 path for layers with at most 64 input channels (one word per tap) and no zero weights, the
    /// shape of every released BBCU body. Interior pixels are taken four at a time: for each group of
    /// four output channels the 9 taps of each pixel are XORed with the group's weights and counted by
    /// nibble lookup, the four pixels' sums are transposed in registers to channel-major order and the
    /// epilogue (α, shift, PReLU, bias, residual) runs on them at once, writing four pixels of each
    /// channel: no staging buffer and one pass over the output. The top and bottom rows take the same
    /// quads over the six taps of their two rows inside the image. The first and last column, pixels with
    /// a tap exactly at its threshold and the odd columns go through <see cref="PixelScalar"/>, which does the same
    /// integer sums and the same float operations in the same order, so every pixel gets the bits the
    /// scalar and AdvSimd paths give.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ConvBandAvx2OneWord<TLayer>(ref ConvState s, int start, int end) where TLayer : struct, IBinaryConvLayer
    {
        int width = s.Width, height = s.Height, cout = CoutOf<TLayer>(ref s), groups = (cout + Group - 1) / Group;
        bool wholeGroups = cout % Group == 0; // a constant when TLayer is a generated layer: the channel checks below fold away
        long plane = (long)width * height;
        int full = 9 * CinOf<TLayer>(ref s);
        int* acc = stackalloc int[groups * Group];
        ulong* gathered = stackalloc ulong[9];

        // Per group, channels (4g, 4g+2) share the vector of the unpack-low half and (4g+1, 4g+3) the
        // unpack-high half: α, shift, slope and bias1 of each pair as [a a a a | b b b b].
        Vector256<float>* consts = stackalloc Vector256<float>[groups * 8];
        for (int g = 0; g < groups; g++)
            for (int half = 0; half < 2; half++)
            {
                int o0 = g * Group + half, o1 = o0 + 2;
                Vector256<float>* c = consts + g * 8 + half * 4;
                c[0] = Pair(s.Alpha, o0, o1, cout);
                c[1] = Pair(s.Shift, o0, o1, cout);
                c[2] = s.Slopes == null ? default : Pair(s.Slopes, o0, o1, cout);
                c[3] = s.Bias1 == null ? default : Pair(s.Bias1, o0, o1, cout);
            }

        int* weightPop = stackalloc int[groups * Group * 9];
        WeightPops(ref s, cout, weightPop);

        Vector256<byte> lut = Vector256.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                                     0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        Vector256<byte> low = Vector256.Create((byte)0x0f);
        Vector256<int> fullV = Vector256.Create(full);
        bool prelu = PReluOf<TLayer>(ref s), hasBias1 = Bias1Of<TLayer>(ref s);
        ulong* pk = s.Packed;
        byte* kd = s.Kinds;
        float* y = s.Y, res = ResidualOf<TLayer>(ref s) ? s.Residual : null;
        bool inPlace = res == y;

        Vector256<int> full6V = Vector256.Create(6 * CinOf<TLayer>(ref s));
        for (int r = s.RowStart + start; r < s.RowStart + end; r++)
        {
            // The top and bottom rows have no row above / below: their quads count the six taps of the two
            // rows inside the image (s = 6·Cin − 2·popcount), the integer PixelScalar computes for them.
            RowKind kind = RowKindOf(r, height);
            int col = 0;
            while (col < width)
            {
                int quads = QuadRun(kd, kind, r, ref col, width, inPlace);
                if (quads == 0)
                {
                    PixelScalar(ref s, r, col, acc, gathered, weightPop);
                    col++;
                    continue;
                }
                long q = (long)r * width + col;
                ulong* t = pk + q - width - 1, m = t + width, b = m + width;
                // Top and bottom rows: the two rows inside the image and the weights of their six taps.
                bool edge = kind != RowKind.Interior;
                ulong* e0 = kind == RowKind.Top ? m : t, e1 = kind == RowKind.Top ? b : m;
                int edgeWeights = kind == RowKind.Top ? 3 * 32 : 0;
                Vector256<int> rowFull = edge ? full6V : fullV;
                byte* w = (byte*)s.Weights;
                for (int g = 0; g < groups; g++, w += 9 * 32)
                {
                    Vector256<float>* c = consts + g * 8;
                    int o = g * Group;
                    for (int k = 0; k < 4 * quads; k += 4)
                    {
                        // The next group's residual, one line per channel every fourth quad (as in the AVX-512 path).
                        if (res != null && (k & 12) == 0 && g + 1 < groups) PrefetchGroup(res + (o + Group) * plane + q + k, plane);
                        Vector256<ulong> s0, s1, s2, s3;
                        if (edge)
                        {
                            s0 = PixelCount6(e0 + k, e1 + k, w + edgeWeights, lut, low);
                            s1 = PixelCount6(e0 + k + 1, e1 + k + 1, w + edgeWeights, lut, low);
                            s2 = PixelCount6(e0 + k + 2, e1 + k + 2, w + edgeWeights, lut, low);
                            s3 = PixelCount6(e0 + k + 3, e1 + k + 3, w + edgeWeights, lut, low);
                        }
                        else
                        {
                            s0 = PixelCount(t + k, m + k, b + k, w, lut, low);
                            s1 = PixelCount(t + k + 1, m + k + 1, b + k + 1, w, lut, low);
                            s2 = PixelCount(t + k + 2, m + k + 2, b + k + 2, w, lut, low);
                            s3 = PixelCount(t + k + 3, m + k + 3, b + k + 3, w, lut, low);
                        }
                        // Each sᵢ holds channels 4g..4g+3 of pixel i in 64-bit lanes (values < 2¹⁶). Interleave
                        // pixels 0,1 and 2,3 into 32-bit lanes, then take 64-bit halves: [o0: p0..p3 | o2: p0..p3]
                        // and [o1: p0..p3 | o3: p0..p3].
                        Vector256<ulong> s01 = s0 | Avx2.ShiftLeftLogical(s1, 32);
                        Vector256<ulong> s23 = s2 | Avx2.ShiftLeftLogical(s3, 32);
                        Vector256<int> c02 = Avx2.UnpackLow(s01, s23).AsInt32();
                        Vector256<int> c13 = Avx2.UnpackHigh(s01, s23).AsInt32();
                        Store(Epilogue8(rowFull - (c02 + c02), c, prelu, hasBias1, res, o, o + 2, plane, q + k, cout, wholeGroups), y, o, o + 2, plane, q + k, cout, wholeGroups);
                        Store(Epilogue8(rowFull - (c13 + c13), c + 4, prelu, hasBias1, res, o + 1, o + 3, plane, q + k, cout, wholeGroups), y, o + 1, o + 3, plane, q + k, cout, wholeGroups);
                    }
                }
                col += 4 * quads;
            }
            if (PacksNextOf<TLayer>(ref s)) PackBand(s.Next, r * width, (r + 1) * width);
        }
    }

    /// <summary>
    /// Most quads (4 pixels each) per run of <see cref="ConvBandAvx2OneWord{TLayer}"/>: in practice a whole row.
    /// Measured on Zen 3 at 320×180, 64→64: runs of 4 quads 17.5 ms, 8 quads 15 ms, a whole row 12–13.5 ms.
    /// </summary>
    private const int RunQuads = 256;

    /// <summary>
    /// The run of quads (4 pixels each) that starts at <paramref name="col"/> of row <paramref name="r"/>, as
    /// many as <see cref="QuadFast"/> allows up to <see cref="RunQuads"/>; 0 when the pixel at
    /// <paramref name="col"/> must go alone (<see cref="PixelScalar"/>). The vector paths sweep a run group
    /// by group: each group then streams through four output and four residual planes in order, which the
    /// hardware prefetchers follow, and keeps its weights in L1 and registers. (Visiting all channels per
    /// quad touches 2·Cout planes at once; planes of W·H floats are often a multiple of 1 KiB apart, so
    /// those lines also fight over a few L1 sets.)
    /// </summary>
    /// <remarks>
    /// The last interior columns: when no quad fits at <paramref name="col"/>, a quad ending at
    /// <c>width − 2</c> that overlaps the previous one (recomputing some pixels gives the same bits) instead
    /// of one pixel at a time; <paramref name="col"/> moves back to it. Not when the output overwrites the
    /// residual (<paramref name="inPlace"/>): the overlapped pixels' residual is gone.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int QuadRun(byte* kinds, RowKind kind, int r, ref int col, int width, bool inPlace)
    {
        if (!QuadFast(kinds, kind, r, col, width))
        {
            if (inPlace || col <= 1 || col + 4 <= width - 1 || col >= width - 1 || !QuadFast(kinds, kind, r, width - 5, width)) return 0;
            col = width - 5;
        }
        int quads = 1;
        while (quads < RunQuads && QuadFast(kinds, kind, r, col + 4 * quads, width)) quads++;
        return quads;
    }

    /// <summary>
    /// popcount(W) per tap and output channel (<c>[tap·lanes + o]</c>, <c>lanes = 4·⌈Cout/4⌉</c>; the padding
    /// lanes' weights are 0) of a one-word layer, for border pixels (see <see cref="PixelScalar"/>).
    /// </summary>
    private static unsafe void WeightPops(ref ConvState s, int cout, int* weightPop)
    {
        int lanes = (cout + Group - 1) / Group * Group;
        for (int tap = 0; tap < 9; tap++)
            for (int o = 0; o < lanes; o++)
                weightPop[tap * lanes + o] = BitOperations.PopCount(s.Weights[(o / Group * 9 + tap) * Group + o % Group]);
    }

    /// <summary>Where row <paramref name="r"/> of a map <paramref name="height"/> rows high lies.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static RowKind RowKindOf(int r, int height) =>
        height == 1 ? RowKind.Single : r == 0 ? RowKind.Top : r == height - 1 ? RowKind.Bottom : RowKind.Interior;

    /// <summary>Where a row lies: its quads count nine taps (interior), six (top: no row above; bottom: none below), or none (a one-row image).</summary>
    private enum RowKind { Interior, Top, Bottom, Single }

    /// <summary>
    /// Whether the four pixels of row <paramref name="r"/> from <paramref name="col"/> are away from the left
    /// and right borders and all their taps inside the image are ±1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool QuadFast(byte* kinds, RowKind kind, int r, int col, int width) =>
        kind != RowKind.Single && col > 0 && col + 4 <= width - 1 && (kind == RowKind.Interior
            ? QuadDense(kinds + (long)(r - 1) * width + col - 1, width)
            : QuadDense2(kinds + (long)(kind == RowKind.Top ? r : r - 1) * width + col - 1, width));

    /// <summary>Whether the 2×6 flag bytes around four consecutive pixels of a top or bottom row (top-left at <paramref name="k"/>) are all <see cref="Dense"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool QuadDense2(byte* k, int width) =>
        (Unsafe.ReadUnaligned<uint>(k) | Unsafe.ReadUnaligned<ushort>(k + 4)
         | Unsafe.ReadUnaligned<uint>(k + width) | Unsafe.ReadUnaligned<ushort>(k + width + 4)) == 0;

    private static unsafe Vector256<float> Pair(float* values, int o0, int o1, int cout) =>
        Vector256.Create(Vector128.Create(o0 < cout ? values[o0] : 0f), Vector128.Create(o1 < cout ? values[o1] : 0f));

    /// <summary>Whether the 3×6 flag bytes around four consecutive pixels (top-left at <paramref name="k"/>) are all <see cref="Dense"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool QuadDense(byte* k, int width) =>
        (Unsafe.ReadUnaligned<uint>(k) | Unsafe.ReadUnaligned<ushort>(k + 4)
         | Unsafe.ReadUnaligned<uint>(k + width) | Unsafe.ReadUnaligned<ushort>(k + width + 4)
         | Unsafe.ReadUnaligned<uint>(k + 2 * width) | Unsafe.ReadUnaligned<ushort>(k + 2 * width + 4)) == 0;

    /// <summary>Popcounts of the 9 taps (rows <paramref name="t"/>, <paramref name="m"/>, <paramref name="b"/>) against four output channels' weights, as four 64-bit sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<ulong> PixelCount(ulong* t, ulong* m, ulong* b, byte* w, Vector256<byte> lut, Vector256<byte> low)
    {
        Vector256<byte> sum = Count(Vector256.Create(t[0]).AsByte() ^ Avx.LoadVector256(w), lut, low);
        sum += Count(Vector256.Create(t[1]).AsByte() ^ Avx.LoadVector256(w + 32), lut, low);
        sum += Count(Vector256.Create(t[2]).AsByte() ^ Avx.LoadVector256(w + 64), lut, low);
        sum += Count(Vector256.Create(m[0]).AsByte() ^ Avx.LoadVector256(w + 96), lut, low);
        sum += Count(Vector256.Create(m[1]).AsByte() ^ Avx.LoadVector256(w + 128), lut, low);
        sum += Count(Vector256.Create(m[2]).AsByte() ^ Avx.LoadVector256(w + 160), lut, low);
        sum += Count(Vector256.Create(b[0]).AsByte() ^ Avx.LoadVector256(w + 192), lut, low);
        sum += Count(Vector256.Create(b[1]).AsByte() ^ Avx.LoadVector256(w + 224), lut, low);
        sum += Count(Vector256.Create(b[2]).AsByte() ^ Avx.LoadVector256(w + 256), lut, low);
        return Avx2.SumAbsoluteDifferences(sum, Vector256<byte>.Zero).AsUInt64();
    }

    /// <summary>Popcounts of the six taps of two rows (<paramref name="a"/> above <paramref name="b"/>) against four output channels' weights (<paramref name="w"/>: the first of the six taps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<ulong> PixelCount6(ulong* a, ulong* b, byte* w, Vector256<byte> lut, Vector256<byte> low)
    {
        Vector256<byte> sum = Count(Vector256.Create(a[0]).AsByte() ^ Avx.LoadVector256(w), lut, low);
        sum += Count(Vector256.Create(a[1]).AsByte() ^ Avx.LoadVector256(w + 32), lut, low);
        sum += Count(Vector256.Create(a[2]).AsByte() ^ Avx.LoadVector256(w + 64), lut, low);
        sum += Count(Vector256.Create(b[0]).AsByte() ^ Avx.LoadVector256(w + 96), lut, low);
        sum += Count(Vector256.Create(b[1]).AsByte() ^ Avx.LoadVector256(w + 128), lut, low);
        sum += Count(Vector256.Create(b[2]).AsByte() ^ Avx.LoadVector256(w + 160), lut, low);
        return Avx2.SumAbsoluteDifferences(sum, Vector256<byte>.Zero).AsUInt64();
    }

    /// <summary>The epilogue on two channels × four pixels, the same operations as <see cref="Epilogue"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> Epilogue8(Vector256<int> sums, Vector256<float>* c, bool prelu, bool hasBias1,
        float* res, int o0, int o1, long plane, long q, int cout, bool whole)
    {
        Vector256<float> z = Vector256.ConvertToSingle(sums) * c[0] + c[1];
        if (prelu) z = Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<float>.Zero), z, z * c[2]);
        if (hasBias1) z += c[3];
        // Channels past Cout (a last group of 1–3 channels) read nothing: their planes do not exist.
        if (res != null)
            z += Vector256.Create(whole || o0 < cout ? Vector128.Load(res + o0 * plane + q) : default, whole || o1 < cout ? Vector128.Load(res + o1 * plane + q) : default);
        return z;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(Vector256<float> z, float* y, int o0, int o1, long plane, long q, int cout, bool whole)
    {
        if (whole || o0 < cout) Vector128.Store(z.GetLower(), y + o0 * plane + q);
        if (whole || o1 < cout) Vector128.Store(z.GetUpper(), y + o1 * plane + q);
    }

    /// <summary>
    /// One pixel, any position. When no weight is 0 and every tap inside the image is ±1 (borders
    /// included), the nine tap words are counted at once, taps outside the image as 0 words, whose
    /// count <c>popcount(W)</c> (<paramref name="weightPop"/>, per channel and tap) is then taken back:
    /// <c>s = v·Cin − 2·(Σ popcount − Σ_outside popcount(W))</c> over the <c>v</c> taps inside. Otherwise
    /// <see cref="AccumulateGeneral"/>. Then the epilogue for every channel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PixelScalar(ref ConvState s, int r, int col, int* acc, ulong* gathered, int* weightPop)
    {
        int width = s.Width, height = s.Height, cout = s.Cout, cin = s.Cin;
        int words = (cin + 63) >> 6, n = 9 * words, groups = (cout + Group - 1) / Group;
        long plane = (long)width * height;
        int ky0 = r == 0 ? 1 : 0, ky1 = r == height - 1 ? 2 : 3;
        int kx0 = col == 0 ? 1 : 0, kx1 = col == width - 1 ? 2 : 3;
        bool fast = s.Mask == null;
        int nOutside = 0;
        int* outside = stackalloc int[9]; // the taps outside the image
        for (int ky = 0; ky < 3 && fast; ky++)
            for (int kx = 0; kx < 3 && fast; kx++)
            {
                bool inside = ky >= ky0 && ky < ky1 && kx >= kx0 && kx < kx1;
                long q = (long)(r + ky - 1) * width + (col + kx - 1);
                if (!inside) outside[nOutside++] = ky * 3 + kx;
                if (inside && s.Kinds[q] != Dense) fast = false;
                else
                    for (int w = 0; w < words; w++) gathered[(ky * 3 + kx) * words + w] = inside ? s.Packed[w * plane + q] : 0UL;
            }
        if (fast)
        {
            XorPopcount(gathered, n, s.Weights, groups, acc);
            // s = v·Cin − 2·(Σ popcount − Σ_outside popcount(W)), four channels at a time (acc and weightPop
            // have 4·groups lanes; integer arithmetic, so the order does not matter).
            int lanes = groups * Group;
            Vector128<int> vFull = Vector128.Create((9 - nOutside) * cin);
            for (int i = 0; i < lanes; i += Group)
            {
                Vector128<int> counts = Vector128.Load(acc + i);
                for (int t = 0; t < nOutside; t++) counts -= Vector128.Load(weightPop + outside[t] * lanes + i);
                Vector128.Store(vFull - (counts + counts), acc + i);
            }
        }
        else
        {
            for (int i = 0; i < cout; i++) acc[i] = 0;
            AccumulateGeneral(s.Packed, s.Kinds, width, (int)plane, r, col, ky0, ky1, kx0, kx1, words, n, cin, cout, s.Weights, s.Mask, s.Counts, acc);
        }
        long p = (long)r * width + col;
        // The epilogue across channels, four at a time (the same operations as Epilogue per element;
        // 128-bit, which every vector ISA has); the residual and the output are one value per channel plane.
        float* res = s.Residual == null ? null : s.Residual + p;
        float* y = s.Y + p;
        int o = 0;
        for (; o <= cout - 4; o += 4)
        {
            Vector128<float> z = Vector128.ConvertToSingle(Vector128.Load(acc + o)) * Vector128.Load(s.Alpha + o) + Vector128.Load(s.Shift + o);
            if (s.Slopes != null) z = Vector128.ConditionalSelect(Vector128.GreaterThan(z, Vector128<float>.Zero), z, z * Vector128.Load(s.Slopes + o));
            if (s.Bias1 != null) z += Vector128.Load(s.Bias1 + o);
            if (res != null) z += Vector128.Create(res[o * plane], res[(o + 1) * plane], res[(o + 2) * plane], res[(o + 3) * plane]);
            for (int j = 0; j < 4; j++) y[(o + j) * plane] = z.GetElement(j);
        }
        for (; o < cout; o++)
            Epilogue(acc + o, 1, s.Alpha[o], s.Shift[o], s.Slopes == null ? float.NaN : s.Slopes[o],
                s.Bias1 == null ? 0f : s.Bias1[o], s.Bias1 != null, res == null ? null : res + o * plane, y + o * plane);
    }
}
