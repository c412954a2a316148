using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bbcu;

public static partial class BinaryKernels
{
    /// <summary>Most blocks (8 pixels each) per run of <see cref="ConvBandAvx512OneWord{TLayer}"/>: in practice a whole row.</summary>
    private const int RunBlocks = 128;

    /// <summary>
    /// AVX-512 path for layers with at most 64 input channels (one word per tap) and no zero weights.
    /// Eight consecutive interior pixels at a time, <b>pixels across the vector</b>: a tap's words of
    /// eight neighbouring pixels are eight consecutive words of the packed plane, so the nine taps of
    /// a block are nine unaligned 512-bit loads, shared by every output channel. For each output
    /// channel the taps are XORed with the channel's broadcast weight words, reduced by Harley–Seal
    /// carry-save adders (<c>vpternlogq</c>: sum 0x96, majority 0xE8) to bit planes of weight 1, 2, 4
    /// and 8, counted by nibble lookup with pre-weighted tables (<c>vpshufb</c>, at most 120 per byte)
    /// and summed per pixel (<c>vpsadbw</c>). The eight sums are then one channel's eight consecutive
    /// output pixels: the epilogue (α, shift, PReLU, bias, residual) runs on a 256-bit float vector
    /// and stores contiguously, no transpose. A row is swept once per group of four output channels
    /// (as in the AVX2 path, so the output and residual planes stream in order). Blocks with taps
    /// outside the image (<see cref="EdgeBlock"/>) are vectorised too; only blocks with a tap exactly at
    /// its threshold go through <see cref="PixelScalar"/>. Every path computes the same integer sums and
    /// the same float operations in the same order, so every pixel gets the bits of every other path.
    /// </summary>
    /// <remarks>
    /// .NET 10 exposes no <c>vpopcntq</c> (AVX512_VPOPCNTDQ) even on CPUs that have it; should a runtime
    /// add it, <see cref="Count9"/> is the one place to use it (nine XORs and nine popcounts, or the
    /// bit planes counted with it).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ConvBandAvx512OneWord<TLayer>(ref ConvState s, int start, int end) where TLayer : struct, IBinaryConvLayer
    {
        int width = s.Width, height = s.Height, cout = CoutOf<TLayer>(ref s), groups = (cout + Group - 1) / Group;
        bool wholeGroups = cout % Group == 0;
        long plane = (long)width * height;
        int full = 9 * CinOf<TLayer>(ref s);
        int* acc = stackalloc int[groups * Group];
        ulong* gathered = stackalloc ulong[9];

        int* weightPop = stackalloc int[groups * Group * 9];
        WeightPops(ref s, cout, weightPop);

        var lut = new Luts(Vector512.Create(Vector128.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4)));
        Vector256<int> fullV = Vector256.Create(full);
        bool prelu = PReluOf<TLayer>(ref s), hasBias1 = Bias1Of<TLayer>(ref s), hasRes = ResidualOf<TLayer>(ref s);
        ulong* pk = s.Packed;
        byte* kd = s.Kinds;
        float* y = s.Y, res = s.Residual;

        var edge = new EdgeState { WeightPop = weightPop, Acc = acc, Gathered = gathered, Full = fullV, Prelu = prelu, HasBias1 = hasBias1 };
        for (int r = s.RowStart + start; r < s.RowStart + end; r++)
        {
            bool interiorRow = r > 0 && r < height - 1;
            // Blocks of eight pixels from column 0. The first and last block of a row (and every block of
            // the top and bottom rows) have taps outside the image: EdgeBlock. The blocks between take the
            // fast path, in runs, when all their taps are ±1.
            int col = 0;
            while (col < width)
            {
                int lanes = Math.Min(8, width - col);
                if (col == 0 || !interiorRow || col + 8 > width - 1)
                {
                    EdgeBlock(ref s, ref edge, lut, r, col, lanes);
                    col += lanes;
                    continue;
                }
                if (!BlockFast(kd, r, col, width))
                {
                    for (int i = 0; i < 8; i++) PixelScalar(ref s, r, col + i, acc, gathered, weightPop);
                    col += 8;
                    continue;
                }
                int blocks = 1;
                while (blocks < RunBlocks && col + 8 * (blocks + 1) <= width - 1 && BlockFast(kd, r, col + 8 * blocks, width)) blocks++;
                long q = (long)r * width + col;
                ulong* t = pk + q - width - 1, m = t + width, b = m + width;
                for (int g = 0; g < groups; g++)
                {
                    ulong* w = s.Weights + g * 9 * Group;
                    int o = g * Group, nb = Math.Min(Group, cout - o);
                    for (int k = 0; k < 8 * blocks; k += 8)
                    {
                        var taps = new Taps(t + k, m + k, b + k);
                        long at = q + k;
                        // The next group's residual at this position, one line per channel every second block: it
                        // is read a group's sweep later (four planes streamed at once defeat the prefetchers).
                        if (hasRes && (k & 8) == 0 && g + 1 < groups) PrefetchGroup(res + (o + Group) * plane + at, plane);
                        Channel(Count9(ref taps, w, lut), fullV, ref s, o, prelu, hasBias1, hasRes, res, y, plane, at);
                        if (wholeGroups || nb > 1) Channel(Count9(ref taps, w + 1, lut), fullV, ref s, o + 1, prelu, hasBias1, hasRes, res, y, plane, at);
                        if (wholeGroups || nb > 2) Channel(Count9(ref taps, w + 2, lut), fullV, ref s, o + 2, prelu, hasBias1, hasRes, res, y, plane, at);
                        if (wholeGroups || nb > 3) Channel(Count9(ref taps, w + 3, lut), fullV, ref s, o + 3, prelu, hasBias1, hasRes, res, y, plane, at);
                    }
                }
                col += 8 * blocks;
            }
            if (PacksNextOf<TLayer>(ref s)) PackBand(s.Next, r * width, (r + 1) * width);
        }
    }

    /// <summary>Prefetches the cache line at <paramref name="p"/> in four consecutive channel planes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchGroup(float* p, long plane)
    {
        Sse.Prefetch0(p);
        Sse.Prefetch0(p + plane);
        Sse.Prefetch0(p + 2 * plane);
        Sse.Prefetch0(p + 3 * plane);
    }

    /// <summary>Scratch and constants of <see cref="EdgeBlock"/> (the caller's stack).</summary>
    private unsafe struct EdgeState
    {
        public int* WeightPop, Acc;
        public ulong* Gathered;
        public Vector256<int> Full;
        public bool Prelu, HasBias1;
    }

    /// <summary>
    /// A block of <paramref name="lanes"/> ≤ 8 pixels of row <paramref name="r"/> from <paramref name="col"/> with
    /// taps outside the image (first or last block of a row, top or bottom row), vectorised like the
    /// interior: taps outside read as 0 words (masked loads, which never touch memory outside the image),
    /// their count popcount(W) is taken back per lane, and the sum is <c>inside·Cin − 2·(Σ popcount −
    /// Σ_outside popcount(W))</c>, the integer <see cref="PixelScalar"/> computes; lanes past the row are
    /// neither loaded nor stored. A block with a tap exactly at its threshold goes pixel by pixel.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void EdgeBlock(ref ConvState s, ref EdgeState e, in Luts lut, int r, int col, int lanes)
    {
        int width = s.Width, height = s.Height, cout = s.Cout, cin = s.Cin, popLanes = (cout + Group - 1) / Group * Group;
        long plane = (long)width * height;
        bool top = r > 0, bottom = r < height - 1;
        // Flags of the in-image taps: a zero anywhere sends the block to the per-pixel path.
        int c0 = Math.Max(col - 1, 0), c1 = Math.Min(col + lanes, width - 1);
        byte any = 0;
        for (int rr = top ? r - 1 : r; rr <= (bottom ? r + 1 : r); rr++)
            for (int cc = c0; cc <= c1; cc++) any |= s.Kinds[(long)rr * width + cc];
        if (any != Dense)
        {
            for (int i = 0; i < lanes; i++) PixelScalar(ref s, r, col + i, e.Acc, e.Gathered, e.WeightPop);
            return;
        }
        Vector512<ulong> lane = Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7);
        Vector512<ulong> inRow = Vector512.LessThan(lane, Vector512.Create((ulong)lanes));
        Vector512<ulong> left = inRow & ~Vector512.Equals(lane + Vector512.Create((ulong)col), Vector512<ulong>.Zero);
        Vector512<ulong> right = Vector512.LessThan(lane + Vector512.Create((ulong)col + 1), Vector512.Create((ulong)width)) & inRow;
        Vector512<ulong> none = Vector512<ulong>.Zero;
        ulong* m = s.Packed + (long)r * width + col - 1, t = m - width, b = m + width;
        // Masked loads start one word left of the block; a masked-off lane is never read.
        Vector512<ulong> mask0 = left, mask1 = inRow, mask2 = right;
        var taps = new Taps(
            top ? Avx512F.MaskLoad(t, mask0, none) : none, top ? Avx512F.MaskLoad(t + 1, mask1, none) : none, top ? Avx512F.MaskLoad(t + 2, mask2, none) : none,
            Avx512F.MaskLoad(m, mask0, none), Avx512F.MaskLoad(m + 1, mask1, none), Avx512F.MaskLoad(m + 2, mask2, none),
            bottom ? Avx512F.MaskLoad(b, mask0, none) : none, bottom ? Avx512F.MaskLoad(b + 1, mask1, none) : none, bottom ? Avx512F.MaskLoad(b + 2, mask2, none) : none);
        // Per lane and tap: inside (−1) or outside (0), as 32-bit ints; the inside count per lane.
        Vector256<int> l = Avx512F.ConvertToVector256Int32(left.AsInt64()), c = Avx512F.ConvertToVector256Int32(inRow.AsInt64());
        Vector256<int> rt = Avx512F.ConvertToVector256Int32(right.AsInt64()), zero = Vector256<int>.Zero;
        Vector256<int> rowT = top ? Vector256<int>.AllBitsSet : zero, rowB = bottom ? Vector256<int>.AllBitsSet : zero;
        Vector256<int> i0 = rowT & l, i1 = rowT & c, i2 = rowT & rt, i3 = l, i4 = c, i5 = rt, i6 = rowB & l, i7 = rowB & c, i8 = rowB & rt;
        Vector256<int> inside = zero - (i0 + i1 + i2 + i3 + i4 + i5 + i6 + i7 + i8);
        Vector256<int> insideCin = inside * Vector256.Create(cin);
        Vector256<float> storeMask = c.AsSingle();
        float* res = s.Residual;
        for (int o = 0; o < cout; o++)
        {
            ulong* w = s.Weights + (o / Group * 9) * Group + o % Group;
            Vector256<int> pop = Avx512F.ConvertToVector256Int32(Count9(ref taps, w, lut).AsInt64());
            int* wp = e.WeightPop + o; // tap t at wp[t·popLanes] (see WeightPops)
            Vector256<int> outside = Vector256.AndNot(Vector256.Create(wp[0]), i0) + Vector256.AndNot(Vector256.Create(wp[popLanes]), i1)
                + Vector256.AndNot(Vector256.Create(wp[2 * popLanes]), i2) + Vector256.AndNot(Vector256.Create(wp[3 * popLanes]), i3)
                + Vector256.AndNot(Vector256.Create(wp[4 * popLanes]), i4) + Vector256.AndNot(Vector256.Create(wp[5 * popLanes]), i5)
                + Vector256.AndNot(Vector256.Create(wp[6 * popLanes]), i6) + Vector256.AndNot(Vector256.Create(wp[7 * popLanes]), i7)
                + Vector256.AndNot(Vector256.Create(wp[8 * popLanes]), i8);
            Vector256<int> d = pop - outside;
            Vector256<float> z = Vector256.ConvertToSingle(insideCin - (d + d)) * Vector256.Create(s.Alpha[o]) + Vector256.Create(s.Shift[o]);
            if (e.Prelu) z = Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<float>.Zero), z, z * Vector256.Create(s.Slopes[o]));
            if (e.HasBias1) z += Vector256.Create(s.Bias1[o]);
            long p = o * plane + (long)r * width + col;
            if (res != null) z += Avx512F.VL.MaskLoad(res + p, storeMask, Vector256<float>.Zero);
            Avx512F.VL.MaskStore(s.Y + p, storeMask, z);
        }
    }

    /// <summary>Whether the nine taps of the eight pixels of row <paramref name="r"/> from <paramref name="col"/> (an interior block) are all ±1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool BlockFast(byte* kinds, int r, int col, int width)
    {
        byte* k = kinds + (long)(r - 1) * width + col - 1;
        return (Unsafe.ReadUnaligned<ulong>(k) | Unsafe.ReadUnaligned<ushort>(k + 8)
                | Unsafe.ReadUnaligned<ulong>(k + width) | Unsafe.ReadUnaligned<ushort>(k + width + 8)
                | Unsafe.ReadUnaligned<ulong>(k + 2 * width) | Unsafe.ReadUnaligned<ushort>(k + 2 * width + 8)) == 0;
    }

    /// <summary>The nine tap vectors of a block of eight pixels (rows above, at and below; columns −1, 0, +1).</summary>
    private readonly unsafe struct Taps
    {
        public readonly Vector512<ulong> T0, T1, T2, M0, M1, M2, B0, B1, B2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Taps(Vector512<ulong> t0, Vector512<ulong> t1, Vector512<ulong> t2, Vector512<ulong> m0, Vector512<ulong> m1, Vector512<ulong> m2,
            Vector512<ulong> b0, Vector512<ulong> b1, Vector512<ulong> b2)
        {
            T0 = t0; T1 = t1; T2 = t2; M0 = m0; M1 = m1; M2 = m2; B0 = b0; B1 = b1; B2 = b2;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Taps(ulong* t, ulong* m, ulong* b)
        {
            T0 = Vector512.Load(t); T1 = Vector512.Load(t + 1); T2 = Vector512.Load(t + 2);
            M0 = Vector512.Load(m); M1 = Vector512.Load(m + 1); M2 = Vector512.Load(m + 2);
            B0 = Vector512.Load(b); B1 = Vector512.Load(b + 1); B2 = Vector512.Load(b + 2);
        }
    }

    /// <summary>Nibble popcount tables pre-multiplied by 1, 2, 4 and 8 (one per Harley–Seal bit plane).</summary>
    private readonly struct Luts
    {
        public readonly Vector512<byte> One, Two, Four, Eight, Low;

        public Luts(Vector512<byte> one)
        {
            One = one; Two = one + one; Four = Two + Two; Eight = Four + Four; Low = Vector512.Create((byte)0x0f);
        }
    }

    /// <summary>
    /// Σ over the nine taps of popcount(tap ⊕ W) for eight pixels, one 64-bit lane each; <paramref name="w"/>
    /// points at the channel's tap-0 weight word, the next taps <see cref="Group"/> words apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<ulong> Count9(ref Taps x, ulong* w, in Luts lut)
    {
        Vector512<ulong> x0 = x.T0 ^ Vector512.Create(w[0]), x1 = x.T1 ^ Vector512.Create(w[Group]), x2 = x.T2 ^ Vector512.Create(w[2 * Group]);
        Vector512<ulong> x3 = x.M0 ^ Vector512.Create(w[3 * Group]), x4 = x.M1 ^ Vector512.Create(w[4 * Group]), x5 = x.M2 ^ Vector512.Create(w[5 * Group]);
        Vector512<ulong> x6 = x.B0 ^ Vector512.Create(w[6 * Group]), x7 = x.B1 ^ Vector512.Create(w[7 * Group]), x8 = x.B2 ^ Vector512.Create(w[8 * Group]);
        // Three carry-save adders on the taps, one on their sums, one on their carries, two half adders.
        Vector512<ulong> s1 = Avx512F.TernaryLogic(x0, x1, x2, 0x96), c1 = Avx512F.TernaryLogic(x0, x1, x2, 0xE8);
        Vector512<ulong> s2 = Avx512F.TernaryLogic(x3, x4, x5, 0x96), c2 = Avx512F.TernaryLogic(x3, x4, x5, 0xE8);
        Vector512<ulong> s3 = Avx512F.TernaryLogic(x6, x7, x8, 0x96), c3 = Avx512F.TernaryLogic(x6, x7, x8, 0xE8);
        Vector512<ulong> ones = Avx512F.TernaryLogic(s1, s2, s3, 0x96), c4 = Avx512F.TernaryLogic(s1, s2, s3, 0xE8); // c4: weight 2
        Vector512<ulong> s5 = Avx512F.TernaryLogic(c1, c2, c3, 0x96), c5 = Avx512F.TernaryLogic(c1, c2, c3, 0xE8); // s5: 2, c5: 4
        Vector512<ulong> twos = s5 ^ c4, c6 = s5 & c4;                                                                // c6: 4
        Vector512<ulong> fours = c5 ^ c6, eights = c5 & c6;
        Vector512<byte> bytes = Nibbles(ones, lut.One, lut.Low) + Nibbles(twos, lut.Two, lut.Low)
                                + Nibbles(fours, lut.Four, lut.Low) + Nibbles(eights, lut.Eight, lut.Low);
        return Avx512BW.SumAbsoluteDifferences(bytes, Vector512<byte>.Zero).AsUInt64();
    }

    /// <summary>Per byte: the table's entry for the low nibble plus its entry for the high nibble.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Nibbles(Vector512<ulong> v, Vector512<byte> table, Vector512<byte> low) =>
        Avx512BW.Shuffle(table, v.AsByte() & low) + Avx512BW.Shuffle(table, Vector512.ShiftRightLogical(v, 4).AsByte() & low);

    /// <summary>The epilogue of one output channel on eight consecutive pixels, the same operations as <see cref="Epilogue"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Channel(Vector512<ulong> popcounts, Vector256<int> full, ref ConvState s, int o, bool prelu, bool hasBias1,
        bool hasRes, float* res, float* y, long plane, long at)
    {
        Vector256<int> pop = Avx512F.ConvertToVector256Int32(popcounts.AsInt64());
        Vector256<float> z = Vector256.ConvertToSingle(full - (pop + pop)) * Vector256.Create(s.Alpha[o]) + Vector256.Create(s.Shift[o]);
        if (prelu) z = Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<float>.Zero), z, z * Vector256.Create(s.Slopes[o]));
        if (hasBias1) z += Vector256.Create(s.Bias1[o]);
        long p = o * plane + at;
        if (hasRes) z += Vector256.Load(res + p);
        Vector256.Store(z, y + p);
    }
}
