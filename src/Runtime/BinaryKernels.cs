using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Bbcu;

/// <summary>
/// Binary (1-bit) kernels: sign-and-pack of activations and the 3×3 XNOR/popcount convolution
/// (generated code only).
/// </summary>
/// <remarks>
/// <para><b>Packed layout.</b> A packed map of <c>P</c> pixels holds <c>2·words</c> word planes
/// (<c>words = ⌈C/64⌉</c>): word <c>w</c> of pixel <c>p</c>'s <i>sign</i> bits is at <c>w·P + p</c> (bit
/// <c>c mod 64</c> set when channel <c>c</c> is negative after thresholding), and its <i>non-zero</i> bits
/// at <c>(words + w)·P + p</c> (set when the channel is not exactly at its threshold). Bits past
/// <c>C</c> are 0 in both. One flag byte per pixel says whether every channel is non-zero
/// (<see cref="Dense"/>) or some are exactly 0 (<see cref="HasZeros"/>), so the common case needs
/// one popcount per word.</para>
/// <para><b>Exact PyTorch semantics.</b> <c>torch.sign</c> gives 0 for an input exactly at the
/// threshold and for an exactly-zero weight; zero padding contributes 0. The convolution counts only
/// taps whose activation and weight are both non-zero: for such taps
/// <c>Σ sign(x)·sign(w) = count − 2·popcount(x ⊕ w)</c>.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class BinaryKernels
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
    public static unsafe void SignPack(ReadOnlySpan<float> x, int channels, int plane, ReadOnlySpan<float> thresholds,
        Span<ulong> packed, Span<byte> kinds, int degree = 1)
    {
        BbcuGuard.Sizes(nameof(SignPack), false, (nameof(channels), channels), (nameof(plane), plane));
        int words = (channels + 63) >> 6;
        BbcuGuard.Length(nameof(SignPack), nameof(x), x.Length, (long)channels * plane);
        BbcuGuard.Length(nameof(SignPack), nameof(packed), packed.Length, 2L * words * plane);
        BbcuGuard.Length(nameof(SignPack), nameof(kinds), kinds.Length, plane);
        BbcuGuard.Length(nameof(SignPack), nameof(thresholds), thresholds.Length, channels);
        fixed (float* px = x, pt = thresholds)
        fixed (ulong* pk = packed)
        fixed (byte* kd = kinds)
        {
            var state = new PackState { X = px, Thresholds = pt, Packed = pk, Kinds = kd, Channels = channels, Plane = plane, Words = words };
            BbcuParallel.For(degree, plane, &PackBand, &state);
        }
    }

    private unsafe struct PackState
    {
        public float* X, Thresholds;
        public ulong* Packed;
        public byte* Kinds;
        public int Channels, Plane, Words;
    }

    /// <summary>Signs and packs pixels <c>[start, end)</c> of every channel (AVX-512 with VBMI and GFNI, AVX2 or Arm64 AdvSimd, where present).</summary>
    private static unsafe void PackBand(void* state, int start, int end)
    {
        ref PackState s = ref *(PackState*)state;
        if (Avx512Vbmi.IsSupported && Gfni.V512.IsSupported) PackBandAvx512(ref s, start, end);
        else if (Avx2.IsSupported) PackBandAvx2(ref s, start, end);
        else if (AdvSimd.Arm64.IsSupported) PackBandAdvSimd(ref s, start, end);
        else PackBandPortable(ref s, start, end);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackBandPortable(ref PackState s, int start, int end)
    {
        int plane = s.Plane, words = s.Words;
        ulong* pk = s.Packed;
        for (int w = 0; w < 2 * words; w++)
            new Span<ulong>(pk + (long)w * plane + start, end - start).Clear();
        for (int c = 0; c < s.Channels; c++)
        {
            float t = s.Thresholds[c];
            int shift = c & 63;
            ulong* sign = pk + (long)(c >> 6) * plane;
            ulong* nonzero = pk + (long)(words + (c >> 6)) * plane;
            float* xc = s.X + (long)c * plane;
            int p = start;
            if (Vector128.IsHardwareAccelerated)
            {
                // Four pixels at a time: compare, widen the int masks to 64 bits, keep this channel's bit.
                Vector128<float> vt = Vector128.Create(t);
                Vector128<ulong> bit = Vector128.Create(1UL << shift);
                for (; p <= end - 4; p += 4)
                {
                    Vector128<float> v = Vector128.Load(xc + p);
                    var (ltLo, ltHi) = Vector128.Widen(Vector128.LessThan(v, vt).AsInt32());
                    var (eqLo, eqHi) = Vector128.Widen(Vector128.Equals(v, vt).AsInt32());
                    Vector128.Store(Vector128.Load(sign + p) | (ltLo.AsUInt64() & bit), sign + p);
                    Vector128.Store(Vector128.Load(sign + p + 2) | (ltHi.AsUInt64() & bit), sign + p + 2);
                    Vector128.Store(Vector128.Load(nonzero + p) | Vector128.AndNot(bit, eqLo.AsUInt64()), nonzero + p);
                    Vector128.Store(Vector128.Load(nonzero + p + 2) | Vector128.AndNot(bit, eqHi.AsUInt64()), nonzero + p + 2);
                }
            }
            for (; p < end; p++)
            {
                float v = xc[p];
                sign[p] |= (ulong)(v < t ? 1 : 0) << shift;
                nonzero[p] |= (ulong)(v != t ? 1 : 0) << shift;
            }
        }
        WriteFlags(ref s, start, end);
    }

    /// <summary>The flags of pixels <c>[start, end)</c> from their packed non-zero words: dense when every word is full.</summary>
    private static unsafe void WriteFlags(ref PackState s, int start, int end)
    {
        int plane = s.Plane, words = s.Words;
        ulong tail = (s.Channels & 63) == 0 ? ulong.MaxValue : (1UL << (s.Channels & 63)) - 1;
        ulong* nz0 = s.Packed + (long)words * plane;
        for (int p = start; p < end; p++)
        {
            bool dense = nz0[(long)(words - 1) * plane + p] == tail;
            for (int w = 0; w < words - 1 && dense; w++)
                dense = nz0[(long)w * plane + p] == ulong.MaxValue;
            s.Kinds[p] = dense ? Dense : HasZeros;
        }
    }

    /// <summary>Output channels are processed in groups of this many; weights are laid out <c>[Cout/4][9][words][4]</c>.</summary>
    public const int Group = 4;

    /// <summary>
    /// 3×3, stride-1, zero-padded binary convolution of a packed map followed by the folded epilogue
    /// <c>z = α[o]·s + shift[o]</c>; <c>z = z &gt; 0 ? z : slope[o]·z</c> (when <paramref name="slopes"/> is
    /// given); <c>z += bias1[o]</c> (when given); <c>z += residual[o, p]</c> (when given). Rows
    /// <paramref name="rowStart"/> to <paramref name="rowEnd"/> (exclusive) are computed; every pixel is
    /// independent, so any split of the rows gives bit-identical results.
    /// </summary>
    /// <param name="packed">Packed input (see the remarks on <see cref="BinaryKernels"/>).</param>
    /// <param name="kinds">Per-pixel flags from <see cref="SignPack"/>.</param>
    /// <param name="weights">Sign bits of the weights, <c>[⌈Cout/4⌉][9 taps][words][4]</c> (output channel
    /// <c>o</c> in lane <c>o mod 4</c> of group <c>o div 4</c>), bit set for negative.</param>
    /// <param name="weightMask">Non-zero bits of the weights in the same layout, or empty when no weight is 0.</param>
    /// <param name="weightCount">Non-zero weights per <c>[Cout][tap]</c>, or empty when no weight is 0.</param>
    /// <param name="residual">Added last, or empty; it may be <paramref name="y"/> itself (the output then
    /// replaces the residual in place), but must not partly overlap it.</param>
    public static void Conv3x3(ReadOnlySpan<ulong> packed, ReadOnlySpan<byte> kinds, int width, int height,
        int cin, int cout, ReadOnlySpan<ulong> weights, ReadOnlySpan<ulong> weightMask, ReadOnlySpan<int> weightCount,
        ReadOnlySpan<float> alpha, ReadOnlySpan<float> shift, ReadOnlySpan<float> slopes, ReadOnlySpan<float> bias1,
        ReadOnlySpan<float> residual, Span<float> y, int rowStart = 0, int rowEnd = -1, int degree = 1,
        ReadOnlySpan<float> nextThresholds = default, Span<ulong> nextPacked = default, Span<byte> nextKinds = default) =>
        Conv3x3Core<AnyBinaryConvLayer>(packed, kinds, width, height, cin, cout, weights, weightMask, weightCount, alpha, shift,
            slopes, bias1, residual, y, rowStart, rowEnd, degree, nextThresholds, nextPacked, nextKinds);

    /// <summary>
    /// <see cref="Conv3x3"/> compiled for one layer's shape and epilogue (<typeparamref name="TLayer"/>, emitted by
    /// the generator): the same results, bit for bit. The arguments must agree with <typeparamref name="TLayer"/>:
    /// its channel counts, and slopes, bias1, residual and next-layer buffers given exactly when it says so.
    /// </summary>
    public static void Conv3x3<TLayer>(ReadOnlySpan<ulong> packed, ReadOnlySpan<byte> kinds, int width, int height,
        ReadOnlySpan<ulong> weights, ReadOnlySpan<ulong> weightMask, ReadOnlySpan<int> weightCount,
        ReadOnlySpan<float> alpha, ReadOnlySpan<float> shift, ReadOnlySpan<float> slopes, ReadOnlySpan<float> bias1,
        ReadOnlySpan<float> residual, Span<float> y, int rowStart = 0, int rowEnd = -1, int degree = 1,
        ReadOnlySpan<float> nextThresholds = default, Span<ulong> nextPacked = default, Span<byte> nextKinds = default)
        where TLayer : struct, IBinaryConvLayer
    {
        if (TLayer.Cin < 1 || TLayer.Cout < 1 || slopes.IsEmpty == TLayer.PRelu || bias1.IsEmpty == TLayer.Bias1
            || residual.IsEmpty == TLayer.Residual || nextPacked.IsEmpty == TLayer.PacksNext)
            throw new ArgumentException($"Conv3x3<{typeof(TLayer).Name}>: the arguments do not match the layer: it has " +
                $"{TLayer.Cin} → {TLayer.Cout} channels, {(TLayer.PRelu ? "" : "no ")}slopes, {(TLayer.Bias1 ? "" : "no ")}bias1, " +
                $"{(TLayer.Residual ? "a" : "no")} residual and {(TLayer.PacksNext ? "packs" : "does not pack")} the next layer's input; " +
                $"the call gives {(slopes.IsEmpty ? "no " : "")}slopes, {(bias1.IsEmpty ? "no " : "")}bias1, {(residual.IsEmpty ? "no" : "a")} residual, " +
                $"{(nextPacked.IsEmpty ? "no next-layer buffers" : "next-layer buffers")}.");
        Conv3x3Core<TLayer>(packed, kinds, width, height, TLayer.Cin, TLayer.Cout, weights, weightMask, weightCount, alpha, shift,
            slopes, bias1, residual, y, rowStart, rowEnd, degree, nextThresholds, nextPacked, nextKinds);
    }

    private static unsafe void Conv3x3Core<TLayer>(ReadOnlySpan<ulong> packed, ReadOnlySpan<byte> kinds, int width, int height,
        int cin, int cout, ReadOnlySpan<ulong> weights, ReadOnlySpan<ulong> weightMask, ReadOnlySpan<int> weightCount,
        ReadOnlySpan<float> alpha, ReadOnlySpan<float> shift, ReadOnlySpan<float> slopes, ReadOnlySpan<float> bias1,
        ReadOnlySpan<float> residual, Span<float> y, int rowStart, int rowEnd, int degree,
        ReadOnlySpan<float> nextThresholds, Span<ulong> nextPacked, Span<byte> nextKinds)
        where TLayer : struct, IBinaryConvLayer
    {
        BbcuGuard.Sizes(nameof(Conv3x3), false, (nameof(width), width), (nameof(height), height), (nameof(cin), cin), (nameof(cout), cout));
        if ((long)width * height > int.MaxValue) throw new ArgumentException($"Conv3x3: a {width}×{height} map is larger than one span can index.", nameof(width));
        if (rowEnd < 0) rowEnd = height;
        int words = (cin + 63) >> 6;
        int n = 9 * words;
        int groups = (cout + Group - 1) / Group;
        int plane = width * height;
        bool masked = !weightMask.IsEmpty;
        if (packed.Length < 2L * words * plane || kinds.Length < plane || weights.Length < (long)groups * Group * n || y.Length < (long)cout * plane
            || alpha.Length < cout || shift.Length < cout || (!slopes.IsEmpty && slopes.Length < cout) || (!bias1.IsEmpty && bias1.Length < cout)
            || (!residual.IsEmpty && residual.Length < (long)cout * plane)
            || (masked && (weightMask.Length < weights.Length || weightCount.Length < cout * 9L))
            || cout > 4096 || rowStart < 0 || rowEnd > height || rowStart > rowEnd)
            throw new ArgumentException("Conv3x3: buffer too small or rows out of range.");
        bool packNext = !nextPacked.IsEmpty;
        int nextWords = (cout + 63) >> 6;
        if (packNext && (nextThresholds.Length < cout || nextPacked.Length < 2L * nextWords * plane || nextKinds.Length < plane))
            throw new ArgumentException($"Conv3x3: packing the next layer's input needs {cout} thresholds, {2 * nextWords * plane} words and {plane} flag bytes.");
        if (packNext && (((ReadOnlySpan<ulong>)nextPacked).Overlaps(packed) || ((ReadOnlySpan<byte>)nextKinds).Overlaps(kinds)))
            throw new ArgumentException("Conv3x3: the next layer's packed buffers must not overlap this layer's input.");
        fixed (ulong* pk = packed, pw = weights, pm = weightMask)
        fixed (byte* kd = kinds)
        fixed (int* pc = weightCount)
        fixed (float* pal = alpha, psh = shift, psl = slopes, pb1 = bias1, pres = residual, py = y, pnt = nextThresholds)
        fixed (ulong* pnp = nextPacked)
        fixed (byte* pnk = nextKinds)
        {
            // The next binary layer's sign-and-pack runs on each output row as soon as it is complete,
            // while the row is still in cache: no separate pass over the feature map.
            var pack = new PackState { X = py, Thresholds = pnt, Packed = pnp, Kinds = pnk, Channels = cout, Plane = plane, Words = nextWords };
            var state = new ConvState
            {
                Packed = pk, Kinds = kd, Weights = pw, Mask = masked ? pm : null, Counts = pc,
                Alpha = pal, Shift = psh, Slopes = psl, Bias1 = pb1, Residual = pres, Y = py,
                Width = width, Height = height, Cin = cin, Cout = cout, RowStart = rowStart,
                Next = packNext ? &pack : null,
            };
            BbcuParallel.For(degree, rowEnd - rowStart, &ConvBand<TLayer>, &state);
        }
    }

    private unsafe struct ConvState
    {
        public ulong* Packed, Weights, Mask;
        public byte* Kinds;
        public int* Counts;
        public float* Alpha, Shift, Slopes, Bias1, Residual, Y;
        public int Width, Height, Cin, Cout, RowStart;
        /// <summary>The next layer's sign-and-pack, run on each finished row; null when not fused.</summary>
        public PackState* Next;
    }

    /// <summary>Rows <c>[start, end)</c> of the band: the fastest path the host and the layer allow.</summary>
    private static unsafe void ConvBand<TLayer>(void* state, int start, int end) where TLayer : struct, IBinaryConvLayer
    {
        ref ConvState s = ref *(ConvState*)state;
        int groups = (CoutOf<TLayer>(ref s) + Group - 1) / Group;
        bool oneWord = CinOf<TLayer>(ref s) <= 64 && s.Mask == null && groups <= MaxFusedGroups;
        if (Avx512BW.IsSupported && Avx512F.VL.IsSupported && oneWord)
            ConvBandAvx512OneWord<TLayer>(ref s, start, end);
        else if (Avx2.IsSupported && oneWord)
            ConvBandAvx2OneWord<TLayer>(ref s, start, end);
        else if (AdvSimd.Arm64.IsSupported && oneWord)
            ConvBandAdvSimdOneWord<TLayer>(ref s, start, end);
        else
            ConvBandPortable(ref s, start, end);
    }

    // The facts of a layer: constants when TLayer is a generated layer struct, the call's arguments otherwise.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CinOf<TLayer>(ref ConvState s) where TLayer : struct, IBinaryConvLayer => TLayer.Cout != 0 ? TLayer.Cin : s.Cin;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CoutOf<TLayer>(ref ConvState s) where TLayer : struct, IBinaryConvLayer => TLayer.Cout != 0 ? TLayer.Cout : s.Cout;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool PReluOf<TLayer>(ref ConvState s) where TLayer : struct, IBinaryConvLayer => TLayer.Cout != 0 ? TLayer.PRelu : s.Slopes != null;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool Bias1Of<TLayer>(ref ConvState s) where TLayer : struct, IBinaryConvLayer => TLayer.Cout != 0 ? TLayer.Bias1 : s.Bias1 != null;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool ResidualOf<TLayer>(ref ConvState s) where TLayer : struct, IBinaryConvLayer => TLayer.Cout != 0 ? TLayer.Residual : s.Residual != null;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool PacksNextOf<TLayer>(ref ConvState s) where TLayer : struct, IBinaryConvLayer => TLayer.Cout != 0 ? TLayer.PacksNext : s.Next != null;

    /// <summary>Any layer, any host: pixel by pixel (the reference the vector paths are checked against).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ConvBandPortable(ref ConvState s, int start, int end)
    {
        int width = s.Width, height = s.Height, cin = s.Cin, cout = s.Cout;
        int words = (cin + 63) >> 6, n = 9 * words, groups = (cout + Group - 1) / Group, plane = width * height;
        bool masked = s.Mask != null;
        int full = 9 * cin;
        int* acc = stackalloc int[groups * Group]; // cout ≤ 4096 (checked above; the generator rejects wider layers)
        ulong* gathered = stackalloc ulong[n];
        // The sums of a block of columns are staged channel-major ([o][j], ≤ 8 KiB, in L1); the epilogue
        // then runs per channel over contiguous pixels, vectorised, reading the residual and writing the
        // output plane in runs instead of one scattered access per plane and pixel.
        int block = Math.Clamp(2048 / cout, 1, 32);
        int* sums = stackalloc int[cout * block];
        ulong* pk = s.Packed;
        byte* kd = s.Kinds;
        for (int r = s.RowStart + start; r < s.RowStart + end; r++)
        {
            int ky0 = r == 0 ? 1 : 0, ky1 = r == height - 1 ? 2 : 3;
            for (int col0 = 0; col0 < width; col0 += block)
            {
                int count = Math.Min(block, width - col0);
                for (int j = 0; j < count; j++)
                {
                    int col = col0 + j;
                    int kx0 = col == 0 ? 1 : 0, kx1 = col == width - 1 ? 2 : 3;
                    // Fast path: an interior pixel whose 9 taps are all ±1 and no weight is 0:
                    // s[o] = 9·Cin − 2·popcount(taps ⊕ W[o]) over 9·words gathered words.
                    bool fast = !masked && ky0 == 0 && ky1 == 3 && kx0 == 0 && kx1 == 3;
                    for (int ky = 0; ky < 3 && fast; ky++)
                        for (int kx = 0; kx < 3 && fast; kx++)
                        {
                            int q = (r + ky - 1) * width + (col + kx - 1);
                            if (kd[q] != Dense) fast = false;
                            else
                            {
                                ulong* dst = gathered + (ky * 3 + kx) * words;
                                for (int w = 0; w < words; w++) dst[w] = pk[(long)w * plane + q];
                            }
                        }
                    if (fast)
                    {
                        XorPopcount(gathered, n, s.Weights, groups, acc);
                        for (int o = 0; o < cout; o++) sums[o * block + j] = full - 2 * acc[o];
                    }
                    else
                    {
                        for (int o = 0; o < cout; o++) acc[o] = 0;
                        AccumulateGeneral(pk, kd, width, plane, r, col, ky0, ky1, kx0, kx1, words, n, cin, cout, s.Weights, s.Mask, s.Counts, acc);
                        for (int o = 0; o < cout; o++) sums[o * block + j] = acc[o];
                    }
                }
                long p0 = (long)r * width + col0;
                for (int o = 0; o < cout; o++)
                    Epilogue(sums + o * block, count, s.Alpha[o], s.Shift[o], s.Slopes == null ? float.NaN : s.Slopes[o],
                        s.Bias1 == null ? 0f : s.Bias1[o], s.Bias1 != null, s.Residual == null ? null : s.Residual + o * (long)plane + p0,
                        s.Y + o * (long)plane + p0);
            }
            if (s.Next != null) PackBand(s.Next, r * width, (r + 1) * width);
        }
    }

    /// <summary>
    /// One channel's epilogue over <paramref name="count"/> pixels: <c>z = α·s + shift</c>, PReLU (unless
    /// <paramref name="slope"/> is NaN), <c>+ bias1</c>, <c>+ residual</c>. The same IEEE operations in the
    /// same order on every path (no fused multiply-add), so vector and scalar give the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Epilogue(int* sums, int count, float alpha, float shift, float slope, float bias1, bool hasBias1, float* residual, float* y)
    {
        bool prelu = !float.IsNaN(slope);
        int j = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> va = Vector128.Create(alpha), vs = Vector128.Create(shift), vslope = Vector128.Create(slope), vb = Vector128.Create(bias1);
            for (; j <= count - 4; j += 4)
            {
                Vector128<float> z = Vector128.ConvertToSingle(Vector128.Load(sums + j)) * va + vs;
                if (prelu) z = Vector128.ConditionalSelect(Vector128.GreaterThan(z, Vector128<float>.Zero), z, z * vslope);
                if (hasBias1) z += vb;
                if (residual != null) z += Vector128.Load(residual + j);
                Vector128.Store(z, y + j);
            }
        }
        for (; j < count; j++)
        {
            float z = alpha * sums[j] + shift;
            if (prelu) z = z > 0f ? z : slope * z;
            if (hasBias1) z += bias1;
            if (residual != null) z += residual[j];
            y[j] = z;
        }
    }

    /// <summary><c>acc[o] = Σ popcount(x ⊕ W[o])</c> over <paramref name="n"/> words, four output channels at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void XorPopcount(ulong* x, int n, ulong* weights, int groups, int* acc)
    {
        if (Avx2.IsSupported)
        {
            XorPopcountAvx2(x, n, weights, groups, acc);
            return;
        }
        if (PopcountAdvSimd.IsSupported)
        {
            PopcountAdvSimd.XorPopcount(x, n, weights, groups, acc);
            return;
        }
        for (int g = 0; g < groups; g++)
        {
            ulong* w = weights + (long)g * n * Group;
            int m0 = 0, m1 = 0, m2 = 0, m3 = 0;
            for (int i = 0; i < n; i++, w += Group)
            {
                ulong xi = x[i];
                m0 += BitOperations.PopCount(xi ^ w[0]);
                m1 += BitOperations.PopCount(xi ^ w[1]);
                m2 += BitOperations.PopCount(xi ^ w[2]);
                m3 += BitOperations.PopCount(xi ^ w[3]);
            }
            int* a = acc + g * Group;
            a[0] = m0; a[1] = m1; a[2] = m2; a[3] = m3;
        }
    }

    /// <summary>
    /// AVX2: one 256-bit lane per output channel of a group; popcount by nibble lookup (vpshufb), byte
    /// counts summed with vpsadbw every 31 words (8·31 &lt; 256). Integer results equal the scalar path's.
    /// </summary>
    private static unsafe void XorPopcountAvx2(ulong* x, int n, ulong* weights, int groups, int* acc)
    {
        Vector256<byte> lut = Vector256.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                                     0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        Vector256<byte> low = Vector256.Create((byte)0x0f);
        if (n == 9)
        {
            // Up to 64 input channels (one word per tap): the nine broadcast taps stay in registers and
            // the four 64-bit sums of a group are narrowed to ints and stored with one instruction.
            Vector256<byte> t0 = Vector256.Create(x[0]).AsByte(), t1 = Vector256.Create(x[1]).AsByte(), t2 = Vector256.Create(x[2]).AsByte();
            Vector256<byte> t3 = Vector256.Create(x[3]).AsByte(), t4 = Vector256.Create(x[4]).AsByte(), t5 = Vector256.Create(x[5]).AsByte();
            Vector256<byte> t6 = Vector256.Create(x[6]).AsByte(), t7 = Vector256.Create(x[7]).AsByte(), t8 = Vector256.Create(x[8]).AsByte();
            Vector256<int> narrow = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6);
            byte* w = (byte*)weights;
            for (int g = 0; g < groups; g++, w += 9 * 32)
            {
                Vector256<byte> sum = Count(Avx.LoadVector256(w) ^ t0, lut, low);
                sum += Count(Avx.LoadVector256(w + 32) ^ t1, lut, low);
                sum += Count(Avx.LoadVector256(w + 64) ^ t2, lut, low);
                sum += Count(Avx.LoadVector256(w + 96) ^ t3, lut, low);
                sum += Count(Avx.LoadVector256(w + 128) ^ t4, lut, low);
                sum += Count(Avx.LoadVector256(w + 160) ^ t5, lut, low);
                sum += Count(Avx.LoadVector256(w + 192) ^ t6, lut, low);
                sum += Count(Avx.LoadVector256(w + 224) ^ t7, lut, low);
                sum += Count(Avx.LoadVector256(w + 256) ^ t8, lut, low);
                Vector256<int> sums = Avx2.PermuteVar8x32(Avx2.SumAbsoluteDifferences(sum, Vector256<byte>.Zero).AsInt32(), narrow);
                Sse2.Store(acc + g * Group, sums.GetLower());
            }
            return;
        }
        for (int g = 0; g < groups; g++)
        {
            ulong* w = weights + (long)g * n * Group;
            Vector256<ulong> total = Vector256<ulong>.Zero;
            Vector256<byte> bytes = Vector256<byte>.Zero;
            int pending = 0;
            for (int i = 0; i < n; i++, w += Group)
            {
                Vector256<byte> v = (Vector256.Create(x[i]) ^ Avx.LoadVector256(w)).AsByte();
                Vector256<byte> lo = Avx2.And(v, low);
                Vector256<byte> hi = Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), low);
                bytes = Avx2.Add(bytes, Avx2.Add(Avx2.Shuffle(lut, lo), Avx2.Shuffle(lut, hi)));
                if (++pending == 31)
                {
                    total = Avx2.Add(total, Avx2.SumAbsoluteDifferences(bytes, Vector256<byte>.Zero).AsUInt64());
                    bytes = Vector256<byte>.Zero;
                    pending = 0;
                }
            }
            total = Avx2.Add(total, Avx2.SumAbsoluteDifferences(bytes, Vector256<byte>.Zero).AsUInt64());
            int* a = acc + g * Group;
            a[0] = (int)total.GetElement(0); a[1] = (int)total.GetElement(1);
            a[2] = (int)total.GetElement(2); a[3] = (int)total.GetElement(3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Count(Vector256<byte> v, Vector256<byte> lut, Vector256<byte> low) =>
        Avx2.Add(Avx2.Shuffle(lut, Avx2.And(v, low)), Avx2.Shuffle(lut, Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), low)));

    /// <summary>Any pixel: taps inside the image only, zero activations and zero weights counted as 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void AccumulateGeneral(ulong* pk, byte* kd, int width, int plane, int r, int col,
        int ky0, int ky1, int kx0, int kx1, int words, int n, int cin, int cout,
        ulong* pw, ulong* weightMask, int* weightCount, int* acc)
    {
        bool masked = weightMask != null;
        for (int ky = ky0; ky < ky1; ky++)
        {
            for (int kx = kx0; kx < kx1; kx++)
            {
                int q = (r + ky - 1) * width + (col + kx - 1);
                int tap = ky * 3 + kx;
                ulong* xs = pk + q;                       // word w at xs[w·plane]
                ulong* nz = pk + (long)words * plane + q;
                bool dense = kd[q] == Dense;
                for (int o = 0; o < cout; o++)
                {
                    long at = ((long)(o / Group) * n + tap * words) * Group + o % Group;
                    int count = 0, mismatches = 0;
                    for (int w = 0; w < words; w++)
                    {
                        ulong wbits = pw[at + (long)w * Group];
                        ulong xw = xs[(long)w * plane];
                        if (dense && !masked)
                        {
                            mismatches += BitOperations.PopCount(xw ^ wbits);
                            continue;
                        }
                        ulong m = dense ? ulong.MaxValue : nz[(long)w * plane];
                        if (masked) m &= weightMask[at + (long)w * Group];
                        count += BitOperations.PopCount(m);
                        mismatches += BitOperations.PopCount((xw ^ wbits) & m);
                    }
                    if (dense && !masked) acc[o] += cin - 2 * mismatches;
                    else if (dense) acc[o] += weightCount[o * 9 + tap] - 2 * mismatches;
                    else acc[o] += count - 2 * mismatches;
                }
            }
        }
    }
}
