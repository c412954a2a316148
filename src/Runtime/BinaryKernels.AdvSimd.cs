using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace Bbcu;

public static partial class BinaryKernels
{
    /// <summary>
    /// Arm64 AdvSimd (NEON) path for layers with at most 64 input channels (one word per tap) and no zero
    /// weights. Interior pixels are taken four at a time against one group of four output channels,
    /// <b>pixel pairs across the vector</b>: a tap's words of two neighbouring pixels are two consecutive
    /// words of the packed plane, so one unaligned 128-bit load gives a tap of pixels (0, 1) and another
    /// of pixels (2, 3); five loads per row of taps serve all three taps of the row. The weight words are
    /// broadcast to both lanes once per call (a stack copy, <c>[group][tap][channel]</c>), so a tap's four
    /// channels are two paired loads with immediate offsets: no <c>DUP</c> and no address arithmetic.
    /// Per tap and channel: <c>EOR</c>, <c>CNT</c> and a byte <c>ADD</c> into one of eight accumulators
    /// (4 channels × 2 pixel pairs) that stay in registers over the nine taps (at most 9·8 = 72 per byte).
    /// The accumulators are then reduced by pairwise adds (<c>ADDP</c> bytes, ≤ 144; <c>UADDLP</c> to
    /// 16 bits; <c>ADDP</c> halfwords, ≤ 576) straight into channel-major order, <c>[o0: p0..p3 | o1: p0..p3]</c>,
    /// turned into <c>s = full − 2·count</c> in 16 bits and sign-extended: four consecutive pixels of one
    /// channel per vector, so the epilogue (α, shift, PReLU, bias, residual) runs on them and stores
    /// contiguously, no transpose. The top and bottom rows run the same quads over the two rows of taps
    /// inside the image. The first and last column, pixels with a tap exactly at its threshold and the
    /// columns no quad covers go through <see cref="PixelScalar"/>, as on x64; every path computes the
    /// same integer sums and the same float operations in the same order (no fused multiply-add), so
    /// every pixel gets the bits of every other path.
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

        bool prelu = PReluOf<TLayer>(ref s), hasBias1 = Bias1Of<TLayer>(ref s), hasRes = ResidualOf<TLayer>(ref s);
        ulong* pk = s.Packed;
        byte* kd = s.Kinds;
        float* y = s.Y, res = hasRes ? s.Residual : null;
        bool inPlace = res == y;
        Vector128<short> full9 = Vector128.Create((short)(9 * cin)), full6 = Vector128.Create((short)(6 * cin));
        for (int r = s.RowStart + start; r < s.RowStart + end; r++)
        {
            RowKind kind = RowKindOf(r, height);
            // The rows of taps a quad counts: all three, or the two inside the image on the top and bottom rows
            // (the top row starts at its own row and at the weights of tap 3).
            int tapRows = kind == RowKind.Interior ? 3 : 2;
            Vector128<short> full = kind == RowKind.Interior ? full9 : full6;
            long firstRow = kind == RowKind.Top ? 0 : -width;
            Vector128<ulong>* w0 = wide + (kind == RowKind.Top ? 3 * Group : 0);
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
                ulong* taps = pk + q + firstRow - 1;
                for (int g = 0; g < groups; g++)
                {
                    int o = g * Group;
                    Vector128<float>* c = consts + o * 4;
                    Vector128<ulong>* w = w0 + g * 9 * Group;
                    // Software-pipelined: the counts of quad k are computed before the epilogue of quad k − 1,
                    // so the epilogue's long float chain overlaps the next quad's popcounts instead of
                    // stalling at the end of each quad.
                    long at = o * plane + q;
                    QuadCounts(taps, width, tapRows, w, out Vector128<short> p01, out Vector128<short> p23);
                    for (int k = 4; k < 4 * quads; k += 4)
                    {
                        QuadCounts(taps + k, width, tapRows, w, out Vector128<short> c01, out Vector128<short> c23);
                        QuadEpilogue(p01, p23, full, c, o, cout, wholeGroups, prelu, hasBias1, hasRes, res + at, y + at, plane);
                        p01 = c01;
                        p23 = c23;
                        at += 4;
                    }
                    QuadEpilogue(p01, p23, full, c, o, cout, wholeGroups, prelu, hasBias1, hasRes, res + at, y + at, plane);
                }
                col += 4 * quads;
            }
            if (PacksNextOf<TLayer>(ref s)) PackBand(s.Next, r * width, (r + 1) * width);
        }
    }

    /// <summary>
    /// Mismatch counts of four consecutive pixels against four output channels over <paramref name="tapRows"/>
    /// rows of three taps (<paramref name="taps"/>: the top-left tap word of the first pixel; rows
    /// <paramref name="width"/> words apart; <paramref name="w"/>: the group's broadcast weights of the first
    /// tap row, <c>[tap][4 channels]</c>), as 16-bit counts <c>[o0: p0..p3 | o1: p0..p3]</c> and <c>[o2 | o3]</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void QuadCounts(ulong* taps, int width, int tapRows, Vector128<ulong>* w, out Vector128<short> c01, out Vector128<short> c23)
    {
        // a{j}{h}: channel j, pixel pair h (pixels 2h, 2h + 1), byte counts. Words of pixels (k, k + 1) at
        // column offset k = 0..4 of a row: tap dx of pixel pair h is x[dx + 2h]. The first tap sets the
        // counts (no zeroing, no add: 16 instructions fewer per quad and group).
        Vector128<ulong> x0 = AdvSimd.LoadVector128(taps), x1 = AdvSimd.LoadVector128(taps + 1);
        Vector128<ulong> x2 = AdvSimd.LoadVector128(taps + 2), x3 = AdvSimd.LoadVector128(taps + 3);
        Vector128<ulong> x4 = AdvSimd.LoadVector128(taps + 4);
        Vector128<ulong> w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
        Vector128<byte> a00 = AdvSimd.PopCount((x0 ^ w0).AsByte()), a01 = AdvSimd.PopCount((x2 ^ w0).AsByte());
        Vector128<byte> a10 = AdvSimd.PopCount((x0 ^ w1).AsByte()), a11 = AdvSimd.PopCount((x2 ^ w1).AsByte());
        Vector128<byte> a20 = AdvSimd.PopCount((x0 ^ w2).AsByte()), a21 = AdvSimd.PopCount((x2 ^ w2).AsByte());
        Vector128<byte> a30 = AdvSimd.PopCount((x0 ^ w3).AsByte()), a31 = AdvSimd.PopCount((x2 ^ w3).AsByte());
        TapCounts(x1, x3, w + Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        TapCounts(x2, x4, w + 2 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        for (int i = 1; i < tapRows; i++)
        {
            taps += width;
            w += 3 * Group;
            x0 = AdvSimd.LoadVector128(taps); x1 = AdvSimd.LoadVector128(taps + 1);
            x2 = AdvSimd.LoadVector128(taps + 2); x3 = AdvSimd.LoadVector128(taps + 3);
            x4 = AdvSimd.LoadVector128(taps + 4);
            TapCounts(x0, x2, w, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
            TapCounts(x1, x3, w + Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
            TapCounts(x2, x4, w + 2 * Group, ref a00, ref a01, ref a10, ref a11, ref a20, ref a21, ref a30, ref a31);
        }
        // Bytes of pair 0 then pair 1 → 4 + 4 + 4 + 4 byte sums per pixel → 2 halfwords per pixel → one.
        Vector128<ushort> h0 = AdvSimd.AddPairwiseWidening(AdvSimd.Arm64.AddPairwise(a00, a01));
        Vector128<ushort> h1 = AdvSimd.AddPairwiseWidening(AdvSimd.Arm64.AddPairwise(a10, a11));
        Vector128<ushort> h2 = AdvSimd.AddPairwiseWidening(AdvSimd.Arm64.AddPairwise(a20, a21));
        Vector128<ushort> h3 = AdvSimd.AddPairwiseWidening(AdvSimd.Arm64.AddPairwise(a30, a31));
        c01 = AdvSimd.Arm64.AddPairwise(h0, h1).AsInt16();
        c23 = AdvSimd.Arm64.AddPairwise(h2, h3).AsInt16();
    }

    /// <summary>One tap: pixel pairs <paramref name="x01"/> and <paramref name="x23"/> against the four channels' broadcast weight words at <paramref name="w"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void TapCounts(Vector128<ulong> x01, Vector128<ulong> x23, Vector128<ulong>* w,
        ref Vector128<byte> a00, ref Vector128<byte> a01, ref Vector128<byte> a10, ref Vector128<byte> a11,
        ref Vector128<byte> a20, ref Vector128<byte> a21, ref Vector128<byte> a30, ref Vector128<byte> a31)
    {
        Vector128<ulong> w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
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
    /// The epilogue of one quad and group: <c>s = full − 2·count</c> in 16 bits (<paramref name="c01"/>:
    /// <c>[o0: p0..p3 | o1: p0..p3]</c>, <paramref name="c23"/>: <c>[o2 | o3]</c>), sign-extended (SXTL/SXTL2),
    /// then <see cref="Epilogue4"/> per channel present (<paramref name="res"/>, <paramref name="y"/>: channel
    /// <paramref name="o"/>'s first pixel; the others <paramref name="plane"/> apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void QuadEpilogue(Vector128<short> c01, Vector128<short> c23, Vector128<short> full, Vector128<float>* c,
        int o, int cout, bool wholeGroups, bool prelu, bool hasBias1, bool hasRes, float* res, float* y, long plane)
    {
        c01 = full - c01 - c01;
        c23 = full - c23 - c23;
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
