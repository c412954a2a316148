using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace Bbcu;

public static partial class BinaryKernels
{
    /// <summary>
    /// Arm64 AdvSimd (NEON) path for layers with at most 64 input channels (one word per tap) and no zero
    /// weights. Pixels are taken four at a time (a quad) against one group of four output channels,
    /// <b>pixel pairs across the vector</b>: a tap's words of two neighbouring pixels are two consecutive
    /// words of the packed plane, so one unaligned 128-bit load gives a tap of pixels (0, 1) and another
    /// of pixels (2, 3); five loads per row of taps serve all three taps of the row. The weight words are
    /// broadcast to both lanes once per call (a stack copy, <c>[group][tap][channel]</c>), so a tap's four
    /// channels are two paired loads with immediate offsets: no <c>DUP</c> and no address arithmetic.
    /// Per tap and channel: <c>EOR</c>, <c>CNT</c> and a byte <c>ADD</c> into one of eight accumulators
    /// (4 channels × 2 pixel pairs) that stay in registers over the nine taps (at most 9·8 = 72 per byte).
    /// Inside a run, quads go in pairs (<see cref="OctCounts"/>: sixteen accumulators, each tap's weights
    /// loaded once for both). The accumulators are then reduced by pairwise adds (<c>ADDP</c> bytes, ≤ 144;
    /// <c>UADDLP</c> to 16 bits; <c>ADDP</c> halfwords, ≤ 576) straight into channel-major order,
    /// <c>[o0: p0..p3 | o1: p0..p3]</c>, turned into <c>s = full − 2·count</c> in 16 bits and sign-extended:
    /// four consecutive pixels of one channel per vector, so the epilogue (α, shift, PReLU, bias, residual)
    /// runs on them and stores contiguously, no transpose. Taps outside the image are counted against zero
    /// words, and <c>full</c> takes their popcount(W) back (<see cref="QuadFulls"/>): the rows above the
    /// top row and below the bottom one read from a zero row, and the first and last four pixels of a row
    /// are an edge quad whose word outside the row is an <c>EXT</c> with zero (<see cref="RowWords"/>).
    /// Pixels with a tap exactly at its threshold and the columns no quad covers go through
    /// <see cref="PixelScalar"/>, as on x64; every path computes the same integer sums and the same float
    /// operations in the same order (no fused multiply-add), so every pixel gets the bits of every other path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ConvBandAdvSimdOneWord<TLayer>(ref ConvState s, int start, int end) where TLayer : struct, IBinaryConvLayer
    {
        int width = s.Width, height = s.Height, cout = CoutOf<TLayer>(ref s), groups = (cout + Group - 1) / Group;
        bool wholeGroups = cout % Group == 0; // a constant when TLayer is a generated layer: the channel checks below fold away
        long plane = (long)width * height;
        int cin = CinOf<TLayer>(ref s);
        int* acc = stackalloc int[groups * Group];
        ulong* gathered = stackalloc ulong[9];
        int* weightPop = stackalloc int[groups * Group * 9];
        WeightPops(ref s, cout, weightPop);

        // The weight words broadcast to both lanes, in the weights' order ([group][tap][channel]; 9 KiB at 64 channels).
        Vector128<ulong>* wide = stackalloc Vector128<ulong>[groups * 9 * Group];
        for (int i = 0; i < groups * 9 * Group; i++) wide[i] = Vector128.Create(s.Weights[i]);

        // α, shift, slope and bias1 of each output channel, broadcast (channels past Cout: 0).
        Vector128<float>* consts = stackalloc Vector128<float>[groups * Group * 4];
        for (int o = 0; o < groups * Group; o++)
        {
            bool here = o < cout;
            consts[o * 4] = Vector128.Create(here ? s.Alpha[o] : 0f);
            consts[o * 4 + 1] = Vector128.Create(here ? s.Shift[o] : 0f);
            consts[o * 4 + 2] = Vector128.Create(here && s.Slopes != null ? s.Slopes[o] : 0f);
            consts[o * 4 + 3] = Vector128.Create(here && s.Bias1 != null ? s.Bias1[o] : 0f);
        }

        // 'full' of s = full − 2·count per row kind, quad position (left edge, inner, right edge) and group.
        Vector128<short>* fulls = stackalloc Vector128<short>[3 * 3 * groups * 2];
        QuadFulls(weightPop, groups, cin, fulls);

        bool prelu = PReluOf<TLayer>(ref s), hasBias1 = Bias1Of<TLayer>(ref s), hasRes = ResidualOf<TLayer>(ref s);
        byte* kd = s.Kinds;
        float* y = s.Y, res = hasRes ? s.Residual : null;
        bool inPlace = res == y;
        ulong[] zeroWords = ZeroRow(width);
        fixed (ulong* zeroRow = zeroWords)
        for (int r = s.RowStart + start; r < s.RowStart + end; r++)
        {
            RowKind kind = RowKindOf(r, height);
            // The three rows of taps from column −1; the row above the top row and the one below the bottom row
            // read as zero words, whose counts (popcount(W)) the row's 'full' takes back.
            ulong* m = s.Packed + (long)r * width - 1;
            ulong* t = kind == RowKind.Top ? zeroRow : m - width, b = kind == RowKind.Bottom ? zeroRow : m + width;
            Vector128<short>* rowFull = fulls + (kind == RowKind.Single ? 0 : (int)kind) * 3 * groups * 2;
            bool edges = width >= 5 && kind != RowKind.Single;
            // Software-pipelined over the whole row: the counts of a quad are computed before the epilogue
            // of the one before it (p01, p23: its sums; po, pAt: its first channel and position), so the
            // epilogue's long float chain overlaps the next quad's popcounts instead of stalling each quad.
            bool pending = false;
            Vector128<short> p01 = default, p23 = default;
            int po = 0;
            long pAt = 0;
            int col = 0;
            while (col < width)
            {
                // The first and the last four pixels of a row: one edge quad each (an overlapping last one
                // recomputes pixels already done, so not when the output replaces the residual).
                int remaining = width - col;
                if (edges && (col == 0 || remaining == 4 || (remaining < 4 && !inPlace)))
                {
                    bool left = col == 0;
                    int first = left ? 0 : width - 4;
                    if (EdgeDense(kd, kind, r, left ? 0 : width - 5, width))
                    {
                        long q0 = (long)r * width + first;
                        Vector128<short>* f = rowFull + (left ? 0 : 2) * groups * 2;
                        for (int g = 0; g < groups; g++, f += 2)
                        {
                            Vector128<short> c01, c23;
                            if (left) QuadCounts(t + first, m + first, b + first, wide + g * 9 * Group, LeftEdge, out c01, out c23);
                            else QuadCounts(t + first, m + first, b + first, wide + g * 9 * Group, RightEdge, out c01, out c23);
                            if (pending) QuadEpilogue(p01, p23, consts + po * 4, po, cout, wholeGroups, prelu, hasBias1, hasRes, res + pAt, y + pAt, plane);
                            (p01, p23, po, pAt, pending) = (f[0] - c01 - c01, f[1] - c23 - c23, g * Group, g * Group * plane + q0, true);
                        }
                        col = left ? 4 : width;
                        continue;
                    }
                }
                int quads = QuadRun(kd, kind, r, ref col, width, inPlace);
                if (quads == 0)
                {
                    PixelScalar(ref s, r, col, acc, gathered, weightPop);
                    col++;
                    continue;
                }
                long q = (long)r * width + col;
                for (int g = 0; g < groups; g++)
                {
                    Vector128<short>* f = rowFull + (groups + g) * 2;
                    Vector128<ulong>* w = wide + g * 9 * Group;
                    int k = col, stop = col + 4 * quads;
                    // Single quads until one is pending and an even number is left (the row's first quad when its
                    // left edge went pixel by pixel, an odd run), then pairs of quads.
                    while (k < stop && (!pending || ((stop - k) & 4) != 0))
                    {
                        QuadCounts(t + k, m + k, b + k, w, NoEdge, out Vector128<short> c01, out Vector128<short> c23);
                        if (pending) QuadEpilogue(p01, p23, consts + po * 4, po, cout, wholeGroups, prelu, hasBias1, hasRes, res + pAt, y + pAt, plane);
                        (p01, p23, po, pAt, pending) = (f[0] - c01 - c01, f[1] - c23 - c23, g * Group, g * Group * plane + q + k - col, true);
                        k += 4;
                    }
                    if (k < stop)
                    {
                        // Pairs of quads: eight pixels against the same weight words, loaded once for both. The
                        // pipeline holds a pair here (o01..o23: its sums; at: its position): the first pair
                        // overlaps the pending quad's epilogue, every later pair the epilogues of the pair before,
                        // and the last pair's second quad is left pending for what follows in the row.
                        Vector128<float>* c = consts + g * Group * 4;
                        long at = g * Group * plane + q + k - col;
                        OctCounts(t + k, m + k, b + k, w, out Vector128<short> c01, out Vector128<short> c23, out Vector128<short> d01, out Vector128<short> d23);
                        QuadEpilogue(p01, p23, consts + po * 4, po, cout, wholeGroups, prelu, hasBias1, hasRes, res + pAt, y + pAt, plane);
                        Vector128<short> o01 = f[0] - c01 - c01, o23 = f[1] - c23 - c23, e01 = f[0] - d01 - d01, e23 = f[1] - d23 - d23;
                        for (k += 8; k < stop; k += 8)
                        {
                            // The pair before's two epilogues between the rows of taps: their float chains start
                            // early and overlap the rest of the popcounts.
                            OctFirstRow(t + k, w, out Vector128<byte> a00, out Vector128<byte> a01, out Vector128<byte> a10, out Vector128<byte> a11, out Vector128<byte> a20, out Vector128<byte> a21, out Vector128<byte> a30, out Vector128<byte> a31,
                                out Vector128<byte> b00, out Vector128<byte> b01, out Vector128<byte> b10, out Vector128<byte> b11, out Vector128<byte> b20, out Vector128<byte> b21, out Vector128<byte> b30, out Vector128<byte> b31);
                            QuadEpilogue(o01, o23, c, g * Group, cout, wholeGroups, prelu, hasBias1, hasRes, res + at, y + at, plane);
                            OctRow(m + k, w + 3 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31, ref b00, ref b01, ref b10, ref b11, ref b20, ref b21, ref b30, ref b31);
                            QuadEpilogue(e01, e23, c, g * Group, cout, wholeGroups, prelu, hasBias1, hasRes, res + at + 4, y + at + 4, plane);
                            OctRow(b + k, w + 6 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31, ref b00, ref b01, ref b10, ref b11, ref b20, ref b21, ref b30, ref b31);
                            Reduce(a00, a01, a10, a11, a20, a21, a30, a31, out c01, out c23);
                            Reduce(b00, b01, b10, b11, b20, b21, b30, b31, out d01, out d23);
                            (o01, o23, e01, e23) = (f[0] - c01 - c01, f[1] - c23 - c23, f[0] - d01 - d01, f[1] - d23 - d23);
                            at += 8;
                        }
                        QuadEpilogue(o01, o23, c, g * Group, cout, wholeGroups, prelu, hasBias1, hasRes, res + at, y + at, plane);
                        (p01, p23, po, pAt) = (e01, e23, g * Group, at + 4);
                    }
                }
                col += 4 * quads;
            }
            if (pending) QuadEpilogue(p01, p23, consts + po * 4, po, cout, wholeGroups, prelu, hasBias1, hasRes, res + pAt, y + pAt, plane);
            if (PacksNextOf<TLayer>(ref s)) PackBand(s.Next, r * width, (r + 1) * width);
        }
    }

    /// <summary>Zero words for the row of taps above the top row and below the bottom one (<paramref name="width"/> + 8 at least; never written).</summary>
    private static ulong[] ZeroRow(int width)
    {
        ulong[]? zeros = s_zeroRow;
        if (zeros is null || zeros.Length < width + 8)
            s_zeroRow = zeros = GC.AllocateArray<ulong>(Math.Max(width + 8, 1024), pinned: true);
        return zeros;
    }

    private static ulong[]? s_zeroRow;

    /// <summary>
    /// Mismatch counts of four consecutive pixels against four output channels over their nine taps (<paramref name="t"/>,
    /// <paramref name="m"/>, <paramref name="b"/>: the words of the rows above, at and below the pixels, from the
    /// column left of the first; <paramref name="w"/>: the group's broadcast weights, <c>[tap][4 channels]</c>), as
    /// 16-bit counts <c>[o0: p0..p3 | o1: p0..p3]</c> and <c>[o2 | o3]</c>. <paramref name="edge"/> is a constant at
    /// every call, so the rows are straight code.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void QuadCounts(ulong* t, ulong* m, ulong* b, Vector128<ulong>* w, int edge, out Vector128<short> c01, out Vector128<short> c23)
    {
        // a{j}{h}: channel j, pixel pair h (pixels 2h, 2h + 1), byte counts. Words of pixels (k, k + 1) at
        // column offset k = 0..4 of a row: tap dx of pixel pair h is x[dx + 2h]. The first tap sets the
        // counts (no zeroing, no add: 16 instructions fewer per quad and group).
        RowWords(t, edge, out Vector128<ulong> x0, out Vector128<ulong> x1, out Vector128<ulong> x2, out Vector128<ulong> x3, out Vector128<ulong> x4);
        TapFirst(x0, x2, w[0], w[1], w[2], w[3], out Vector128<byte> a00, out Vector128<byte> a01, out Vector128<byte> a10, out Vector128<byte> a11,
            out Vector128<byte> a20, out Vector128<byte> a21, out Vector128<byte> a30, out Vector128<byte> a31);
        TapCounts(x1, x3, w + Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        TapCounts(x2, x4, w + 2 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        RowWords(m, edge, out x0, out x1, out x2, out x3, out x4);
        TapCounts(x0, x2, w + 3 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        TapCounts(x1, x3, w + 4 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        TapCounts(x2, x4, w + 5 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        RowWords(b, edge, out x0, out x1, out x2, out x3, out x4);
        TapCounts(x0, x2, w + 6 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        TapCounts(x1, x3, w + 7 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        TapCounts(x2, x4, w + 8 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        Reduce(a00, a01, a10, a11, a20, a21, a30, a31, out c01, out c23);
    }

    /// <summary>
    /// <see cref="QuadCounts"/> of two neighbouring quads (eight pixels from the column right of <paramref name="t"/>,
    /// <paramref name="m"/>, <paramref name="b"/>): each tap's four weight vectors are loaded once for both, and the
    /// words of a row are loaded once each (nine per row: taps 0 and 2 share three, and tap 1 comes last, so at most
    /// five are live next to the sixteen accumulators).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void OctCounts(ulong* t, ulong* m, ulong* b, Vector128<ulong>* w,
        out Vector128<short> c01, out Vector128<short> c23, out Vector128<short> d01, out Vector128<short> d23)
    {
        OctFirstRow(t, w, out Vector128<byte> a00, out Vector128<byte> a01, out Vector128<byte> a10, out Vector128<byte> a11, out Vector128<byte> a20, out Vector128<byte> a21, out Vector128<byte> a30, out Vector128<byte> a31,
            out Vector128<byte> b00, out Vector128<byte> b01, out Vector128<byte> b10, out Vector128<byte> b11, out Vector128<byte> b20, out Vector128<byte> b21, out Vector128<byte> b30, out Vector128<byte> b31);
        OctRow(m, w + 3 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31,
            ref b00, ref b01, ref b10, ref b11, ref b20, ref b21, ref b30, ref b31);
        OctRow(b, w + 6 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31,
            ref b00, ref b01, ref b10, ref b11, ref b20, ref b21, ref b30, ref b31);
        Reduce(a00, a01, a10, a11, a20, a21, a30, a31, out c01, out c23);
        Reduce(b00, b01, b10, b11, b20, b21, b30, b31, out d01, out d23);
    }

    /// <summary>The first row of taps of <see cref="OctCounts"/> (<paramref name="t"/>: its words from column −1): sets the sixteen counts.
    /// a{j}{h}: the first quad, b{j}{h}: the second; channel j, pixel pair h. Each tap's weights are loaded into registers
    /// once (w0..w3) and used for all four pixel pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void OctFirstRow(ulong* t, Vector128<ulong>* w,
        out Vector128<byte> a00, out Vector128<byte> a01, out Vector128<byte> a10, out Vector128<byte> a11,
        out Vector128<byte> a20, out Vector128<byte> a21, out Vector128<byte> a30, out Vector128<byte> a31,
        out Vector128<byte> b00, out Vector128<byte> b01, out Vector128<byte> b10, out Vector128<byte> b11,
        out Vector128<byte> b20, out Vector128<byte> b21, out Vector128<byte> b30, out Vector128<byte> b31)
    {
        Vector128<ulong> x0 = AdvSimd.LoadVector128(t), x2 = AdvSimd.LoadVector128(t + 2);
        Vector128<ulong> x4 = AdvSimd.LoadVector128(t + 4), x6 = AdvSimd.LoadVector128(t + 6);
        Vector128<ulong> w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
        TapFirst(x0, x2, w0, w1, w2, w3, out a00, out a01, out a10, out a11, out a20, out a21, out a30, out a31);
        TapFirst(x4, x6, w0, w1, w2, w3, out b00, out b01, out b10, out b11, out b20, out b21, out b30, out b31);
        OctTaps21(t, w, x2, x4, x6, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31,
            ref b00, ref b01, ref b10, ref b11, ref b20, ref b21, ref b30, ref b31);
    }

    /// <summary>One row of taps of <see cref="OctCounts"/> after the first (<paramref name="x"/>: its words from column −1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void OctRow(ulong* x, Vector128<ulong>* w,
        ref Vector128<byte> a00, ref Vector128<byte> a01, ref Vector128<byte> a10, ref Vector128<byte> a11,
        ref Vector128<byte> a20, ref Vector128<byte> a21, ref Vector128<byte> a30, ref Vector128<byte> a31,
        ref Vector128<byte> b00, ref Vector128<byte> b01, ref Vector128<byte> b10, ref Vector128<byte> b11,
        ref Vector128<byte> b20, ref Vector128<byte> b21, ref Vector128<byte> b30, ref Vector128<byte> b31)
    {
        Vector128<ulong> x0 = AdvSimd.LoadVector128(x), x2 = AdvSimd.LoadVector128(x + 2);
        Vector128<ulong> x4 = AdvSimd.LoadVector128(x + 4), x6 = AdvSimd.LoadVector128(x + 6);
        Vector128<ulong> w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
        Tap(x0, x2, w0, w1, w2, w3, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        Tap(x4, x6, w0, w1, w2, w3, ref b00, ref b01, ref b10, ref b11, ref b20, ref b21, ref b30, ref b31);
        OctTaps21(x, w, x2, x4, x6, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31,
            ref b00, ref b01, ref b10, ref b11, ref b20, ref b21, ref b30, ref b31);
    }

    /// <summary>
    /// Taps 2 and 1 of a row of <see cref="OctCounts"/> (<paramref name="x"/>: its words from column −1; <paramref name="x2"/>,
    /// <paramref name="x4"/>, <paramref name="x6"/>: the even words tap 0 loaded, which tap 2 shares; then the odd words).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void OctTaps21(ulong* x, Vector128<ulong>* w, Vector128<ulong> x2, Vector128<ulong> x4, Vector128<ulong> x6,
        ref Vector128<byte> a00, ref Vector128<byte> a01, ref Vector128<byte> a10, ref Vector128<byte> a11,
        ref Vector128<byte> a20, ref Vector128<byte> a21, ref Vector128<byte> a30, ref Vector128<byte> a31,
        ref Vector128<byte> b00, ref Vector128<byte> b01, ref Vector128<byte> b10, ref Vector128<byte> b11,
        ref Vector128<byte> b20, ref Vector128<byte> b21, ref Vector128<byte> b30, ref Vector128<byte> b31)
    {
        Vector128<ulong> x8 = AdvSimd.LoadVector128(x + 8);
        Vector128<ulong> w0 = w[2 * Group], w1 = w[2 * Group + 1], w2 = w[2 * Group + 2], w3 = w[2 * Group + 3];
        Tap(x2, x4, w0, w1, w2, w3, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        Tap(x6, x8, w0, w1, w2, w3, ref b00, ref b01, ref b10, ref b11, ref b20, ref b21, ref b30, ref b31);
        (w0, w1, w2, w3) = (w[Group], w[Group + 1], w[Group + 2], w[Group + 3]);
        Vector128<ulong> x1 = AdvSimd.LoadVector128(x + 1), x3 = AdvSimd.LoadVector128(x + 3);
        Tap(x1, x3, w0, w1, w2, w3, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        Vector128<ulong> x5 = AdvSimd.LoadVector128(x + 5), x7 = AdvSimd.LoadVector128(x + 7);
        Tap(x5, x7, w0, w1, w2, w3, ref b00, ref b01, ref b10, ref b11, ref b20, ref b21, ref b30, ref b31);
    }

    /// <summary>The first tap of a quad (its four channels' weight words <paramref name="w0"/>..<paramref name="w3"/>): sets its counts (no zeroing, no add).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TapFirst(Vector128<ulong> x01, Vector128<ulong> x23, Vector128<ulong> w0, Vector128<ulong> w1, Vector128<ulong> w2, Vector128<ulong> w3,
        out Vector128<byte> a00, out Vector128<byte> a01, out Vector128<byte> a10, out Vector128<byte> a11,
        out Vector128<byte> a20, out Vector128<byte> a21, out Vector128<byte> a30, out Vector128<byte> a31)
    {
        a00 = AdvSimd.PopCount((x01 ^ w0).AsByte());
        a01 = AdvSimd.PopCount((x23 ^ w0).AsByte());
        a10 = AdvSimd.PopCount((x01 ^ w1).AsByte());
        a11 = AdvSimd.PopCount((x23 ^ w1).AsByte());
        a20 = AdvSimd.PopCount((x01 ^ w2).AsByte());
        a21 = AdvSimd.PopCount((x23 ^ w2).AsByte());
        a30 = AdvSimd.PopCount((x01 ^ w3).AsByte());
        a31 = AdvSimd.PopCount((x23 ^ w3).AsByte());
    }

    /// <summary>
    /// Byte counts of a quad to 16-bit counts <c>[o0: p0..p3 | o1: p0..p3]</c>, <c>[o2 | o3]</c>: bytes of pair 0 then
    /// pair 1 → 4 + 4 + 4 + 4 byte sums per pixel → 2 halfwords per pixel → one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Reduce(Vector128<byte> a00, Vector128<byte> a01, Vector128<byte> a10, Vector128<byte> a11,
        Vector128<byte> a20, Vector128<byte> a21, Vector128<byte> a30, Vector128<byte> a31, out Vector128<short> c01, out Vector128<short> c23)
    {
        Vector128<ushort> h0 = AdvSimd.AddPairwiseWidening(AdvSimd.Arm64.AddPairwise(a00, a01));
        Vector128<ushort> h1 = AdvSimd.AddPairwiseWidening(AdvSimd.Arm64.AddPairwise(a10, a11));
        Vector128<ushort> h2 = AdvSimd.AddPairwiseWidening(AdvSimd.Arm64.AddPairwise(a20, a21));
        Vector128<ushort> h3 = AdvSimd.AddPairwiseWidening(AdvSimd.Arm64.AddPairwise(a30, a31));
        c01 = AdvSimd.Arm64.AddPairwise(h0, h1).AsInt16();
        c23 = AdvSimd.Arm64.AddPairwise(h2, h3).AsInt16();
    }

    /// <summary>No tap outside the image (<see cref="QuadCounts"/>'s <c>edge</c>; 1: the quad starts at column 0, 2: it ends at the last column).</summary>
    private const int NoEdge = 0, LeftEdge = 1, RightEdge = 2;

    /// <summary>
    /// The words of one row of taps of a quad, <c>x{k}</c> = the words of columns (k − 1, k) from the quad's first
    /// pixel. At the left edge column −1 reads as 0 (<c>EXT</c> of x1 with zero), at the right edge the column past
    /// the last (<c>EXT</c> of x3): neither is loaded, so no word outside the row is touched.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void RowWords(ulong* taps, int edge, out Vector128<ulong> x0, out Vector128<ulong> x1,
        out Vector128<ulong> x2, out Vector128<ulong> x3, out Vector128<ulong> x4)
    {
        x1 = AdvSimd.LoadVector128(taps + 1);
        x2 = AdvSimd.LoadVector128(taps + 2);
        x3 = AdvSimd.LoadVector128(taps + 3);
        x0 = edge == LeftEdge ? AdvSimd.ExtractVector128(Vector128<ulong>.Zero, x1, 1) : AdvSimd.LoadVector128(taps);
        x4 = edge == RightEdge ? AdvSimd.ExtractVector128(x3, Vector128<ulong>.Zero, 1) : AdvSimd.LoadVector128(taps + 4);
    }

    /// <summary>
    /// The <c>full</c> of <c>s = full − 2·count</c> per row kind (interior, top, bottom), quad position (at the left
    /// edge, inner, at the right edge) and group, laid out as the counts (<c>[o0: p0..p3 | o1: p0..p3]</c>,
    /// <c>[o2 | o3]</c>): <c>inside·Cin + 2·Σ popcount(W)</c> over the taps outside the image, which a quad counts
    /// against zero words; <c>full − 2·count</c> is then the sum <see cref="PixelScalar"/> computes.
    /// </summary>
    private static unsafe void QuadFulls(int* weightPop, int groups, int cin, Vector128<short>* full)
    {
        int lanes = groups * Group;
        short* f = (short*)full;
        for (int kind = 0; kind < 3; kind++)
        {
            int offRow = kind == (int)RowKind.Top ? 0 : kind == (int)RowKind.Bottom ? 2 : -1, rows = offRow < 0 ? 3 : 2;
            for (int o = 0; o < lanes; o++)
            {
                int rowOut = 0, leftOut = 0, rightOut = 0;
                for (int ky = 0; ky < 3; ky++)
                {
                    int* pop = weightPop + ky * 3 * lanes + o;
                    if (ky == offRow) rowOut = pop[0] + pop[lanes] + pop[2 * lanes];
                    else
                    {
                        leftOut += pop[0];
                        rightOut += pop[2 * lanes];
                    }
                }
                short inner = (short)(3 * rows * cin + 2 * rowOut);
                short left = (short)(2 * rows * cin + 2 * (rowOut + leftOut)), right = (short)(2 * rows * cin + 2 * (rowOut + rightOut));
                for (int pos = 0; pos < 3; pos++)
                {
                    short* at = f + ((kind * 3 + pos) * groups + o / Group) * 16 + o % Group * 4;
                    for (int p = 0; p < 4; p++) at[p] = pos == 0 && p == 0 ? left : pos == 2 && p == 3 ? right : inner;
                }
            }
        }
    }

    /// <summary>Whether the flag bytes of columns <c>[col, col + 5)</c> in the rows of taps of row <paramref name="r"/> are all <see cref="Dense"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool EdgeDense(byte* kinds, RowKind kind, int r, int col, int width)
    {
        byte* k = kinds + (long)(kind == RowKind.Top ? r : r - 1) * width + col;
        int any = Unsafe.ReadUnaligned<int>(k) | k[4] | Unsafe.ReadUnaligned<int>(k + width) | k[width + 4];
        if (kind == RowKind.Interior) any |= Unsafe.ReadUnaligned<int>(k + 2 * width) | k[2 * width + 4];
        return any == 0;
    }

    /// <summary>One tap: pixel pairs <paramref name="x01"/> and <paramref name="x23"/> against the four channels' broadcast weight words at <paramref name="w"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void TapCounts(Vector128<ulong> x01, Vector128<ulong> x23, Vector128<ulong>* w,
        ref Vector128<byte> a00, ref Vector128<byte> a01, ref Vector128<byte> a10, ref Vector128<byte> a11,
        ref Vector128<byte> a20, ref Vector128<byte> a21, ref Vector128<byte> a30, ref Vector128<byte> a31) =>
        Tap(x01, x23, w[0], w[1], w[2], w[3], ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);

    /// <summary>One tap: pixel pairs <paramref name="x01"/> and <paramref name="x23"/> against the four channels' weight words <paramref name="w0"/>..<paramref name="w3"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tap(Vector128<ulong> x01, Vector128<ulong> x23, Vector128<ulong> w0, Vector128<ulong> w1, Vector128<ulong> w2, Vector128<ulong> w3,
        ref Vector128<byte> a00, ref Vector128<byte> a01, ref Vector128<byte> a10, ref Vector128<byte> a11,
        ref Vector128<byte> a20, ref Vector128<byte> a21, ref Vector128<byte> a30, ref Vector128<byte> a31)
    {
        a00 = AdvSimd.Add(a00, AdvSimd.PopCount((x01 ^ w0).AsByte()));
        a01 = AdvSimd.Add(a01, AdvSimd.PopCount((x23 ^ w0).AsByte()));
        a10 = AdvSimd.Add(a10, AdvSimd.PopCount((x01 ^ w1).AsByte()));
        a11 = AdvSimd.Add(a11, AdvSimd.PopCount((x23 ^ w1).AsByte()));
        a20 = AdvSimd.Add(a20, AdvSimd.PopCount((x01 ^ w2).AsByte()));
        a21 = AdvSimd.Add(a21, AdvSimd.PopCount((x23 ^ w2).AsByte()));
        a30 = AdvSimd.Add(a30, AdvSimd.PopCount((x01 ^ w3).AsByte()));
        a31 = AdvSimd.Add(a31, AdvSimd.PopCount((x23 ^ w3).AsByte()));
    }

    /// <summary>
    /// The epilogue of one quad and group: the sums <c>s = full − 2·count</c> in 16 bits (<paramref name="c01"/>:
    /// <c>[o0: p0..p3 | o1: p0..p3]</c>, <paramref name="c23"/>: <c>[o2 | o3]</c>), sign-extended (SXTL/SXTL2),
    /// then <see cref="Epilogue4"/> per channel present (<paramref name="res"/>, <paramref name="y"/>: channel
    /// <paramref name="o"/>'s first pixel; the others <paramref name="plane"/> apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void QuadEpilogue(Vector128<short> c01, Vector128<short> c23,
        Vector128<float>* c, int o, int cout, bool wholeGroups, bool prelu, bool hasBias1, bool hasRes, float* res, float* y, long plane)
    {
        // Upper halves first: the lower half's SXTL is then the last use and widens in place (no copy).
        if (wholeGroups || o + 1 < cout)
            Epilogue4(Vector128.WidenUpper(c01), c + 4, prelu, hasBias1, hasRes, res + plane, y + plane);
        Epilogue4(Vector128.WidenLower(c01), c, prelu, hasBias1, hasRes, res, y);
        if (wholeGroups || o + 3 < cout)
            Epilogue4(Vector128.WidenUpper(c23), c + 12, prelu, hasBias1, hasRes, res + 3 * plane, y + 3 * plane);
        if (wholeGroups || o + 2 < cout)
            Epilogue4(Vector128.WidenLower(c23), c + 8, prelu, hasBias1, hasRes, res + 2 * plane, y + 2 * plane);
    }

    /// <summary>
    /// The epilogue on one channel × four pixels (<paramref name="c"/>: the channel's α, shift, slope, bias1),
    /// the same operations as <see cref="Epilogue"/>; the residual (when <paramref name="hasRes"/>) at <paramref name="res"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Epilogue4(Vector128<int> sums, Vector128<float>* c, bool prelu, bool hasBias1, bool hasRes, float* res, float* y)
    {
        Vector128<float> z = Vector128.ConvertToSingle(sums) * c[0] + c[1];
        // z > 0 as a signed integer compare of the bits (CMGT, one µop where FCMGT on 128 bits is two). It picks
        // the same lanes as the float compare for every z but a NaN with its sign bit clear, and there both
        // choices are that NaN (slope·z propagates it), so the result has the same bits.
        if (prelu) z = Vector128.ConditionalSelect(Vector128.GreaterThan(z.AsInt32(), Vector128<int>.Zero).AsSingle(), z, z * c[2]);
        if (hasBias1) z += c[3];
        if (hasRes) z += Vector128.Load(res);
        Vector128.Store(z, y);
    }

    /// <summary>
    /// AdvSimd sign-and-pack of pixels <c>[start, end)</c>, four pixels at a time: per 64-channel word,
    /// channel by channel from the last to the first, the lanes' compare masks (all ones = −1) are shifted
    /// into per-pixel 32-bit words, <c>bits = 2·bits − mask</c> (channels 0–31 and 32–63 in two halves,
    /// zipped into 64-bit words), one for the sign bits and one for "exactly at the threshold". The
    /// non-zero words and the flags follow from the latter. The same bits as <see cref="PackBandPortable"/>;
    /// the last 1–3 pixels go through it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackBandAdvSimd(ref PackState s, int start, int end)
    {
        int plane = s.Plane, words = s.Words, channels = s.Channels;
        float* x = s.X, thresholds = s.Thresholds;
        ulong* packed = s.Packed;
        byte* kinds = s.Kinds;
        int p = start;
        for (; p <= end - 4; p += 4)
        {
            Vector128<uint> zeros = Vector128<uint>.Zero;
            for (int w = 0; w < words; w++)
            {
                int c0 = w * 64, c1 = Math.Min(channels, c0 + 64), mid = Math.Min(c1, c0 + 32);
                var (signLo, zeroLo) = PackHalf(x, thresholds, plane, c0, mid, p);
                var (signHi, zeroHi) = PackHalf(x, thresholds, plane, mid, c1, p);
                zeros |= zeroLo | zeroHi;
                // Channels present in this word: the non-zero bits are the present ones not at their threshold.
                Vector128<uint> presentLo = Vector128.Create(mid - c0 == 32 ? uint.MaxValue : (1u << (mid - c0)) - 1);
                Vector128<uint> presentHi = Vector128.Create(c1 - mid == 32 ? uint.MaxValue : (1u << (c1 - mid)) - 1);
                ulong* sign = packed + (long)w * plane + p, nonzero = packed + (long)(words + w) * plane + p;
                Vector128.Store(AdvSimd.Arm64.ZipLow(signLo, signHi).AsUInt64(), sign);
                Vector128.Store(AdvSimd.Arm64.ZipHigh(signLo, signHi).AsUInt64(), sign + 2);
                Vector128<uint> nzLo = Vector128.AndNot(presentLo, zeroLo), nzHi = Vector128.AndNot(presentHi, zeroHi);
                Vector128.Store(AdvSimd.Arm64.ZipLow(nzLo, nzHi).AsUInt64(), nonzero);
                Vector128.Store(AdvSimd.Arm64.ZipHigh(nzLo, nzHi).AsUInt64(), nonzero + 2);
            }
            for (int j = 0; j < 4; j++) kinds[p + j] = zeros.GetElement(j) == 0 ? Dense : HasZeros;
        }
        if (p < end) PackBandPortable(ref s, p, end);
    }

    /// <summary>Sign bits and at-threshold bits of channels <c>[c0, c1)</c> (≤ 32) of four pixels from <paramref name="p"/>: bit <c>c − c0</c> of each lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector128<uint> Sign, Vector128<uint> Zero) PackHalf(float* x, float* thresholds, int plane, int c0, int c1, int p)
    {
        Vector128<uint> sign = Vector128<uint>.Zero, zero = Vector128<uint>.Zero;
        float* xc = x + (long)(c1 - 1) * plane + p;
        for (float* tc = thresholds + c1 - 1; tc >= thresholds + c0; tc--, xc -= plane)
        {
            Vector128<float> v = AdvSimd.LoadVector128(xc), t = AdvSimd.LoadAndReplicateToVector128(tc);
            sign = sign + sign - AdvSimd.CompareLessThan(v, t).AsUInt32();
            zero = zero + zero - AdvSimd.CompareEqual(v, t).AsUInt32();
        }
        return (sign, zero);
    }
}
