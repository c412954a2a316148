using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.InteropServices;

namespace Bbcu;

/// <summary>Activation applied per output channel after a convolution.</summary>
public enum BbcuActivation
{
    /// <summary>Identity.</summary>
    None = 0,
    /// <summary><c>max(0, x)</c>.</summary>
    Relu = 1,
    /// <summary><c>x &gt; 0 ? x : slope·x</c>, one slope for all channels.</summary>
    LeakyRelu = 2,
    /// <summary><c>x &gt; 0 ? x : slope[c]·x</c>, one slope per channel.</summary>
    PRelu = 3,
}

/// <summary>
/// Full-precision kernels on planar CHW float32 feature maps (generated code only). Every kernel uses
/// <see cref="Vector{T}"/> (hardware SIMD where present, a portable path otherwise).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FloatKernels
{
    /// <summary>
    /// Zero-padded, stride-1 convolution with an odd square kernel: <c>y[o] = bias[o] + Σ_c Σ_taps w·x[c]</c>,
    /// then <paramref name="activation"/>. Weights are PyTorch's <c>[Cout, Cin, k, k]</c> order.
    /// </summary>
    public static unsafe void Conv2d(ReadOnlySpan<float> x, Span<float> y, int width, int height, int cin, int cout, int k,
        ReadOnlySpan<float> weights, ReadOnlySpan<float> bias, BbcuActivation activation = BbcuActivation.None,
        float slope = 0f, ReadOnlySpan<float> slopes = default, int degree = 1)
    {
        BbcuGuard.Sizes(nameof(Conv2d), false, (nameof(width), width), (nameof(height), height), (nameof(cin), cin), (nameof(cout), cout), (nameof(k), k));
        if ((long)width * height > int.MaxValue) throw new ArgumentException($"Conv2d: a {width}×{height} map is larger than one span can index.", nameof(width));
        int plane = width * height;
        if (x.Length < (long)cin * plane || y.Length < (long)cout * plane || weights.Length < (long)cout * cin * k * k || (!bias.IsEmpty && bias.Length < cout)
            || (activation == BbcuActivation.PRelu && slopes.Length < cout) || k % 2 == 0)
            throw new ArgumentException("Conv2d: buffer too small or even kernel.");
        fixed (float* px = x, py = y, pw = weights, pb = bias, ps = slopes)
        {
            var state = new ConvState
            {
                X = px, Y = py, Weights = pw, Bias = pb, Slopes = ps, Width = width, Height = height, Cin = cin, Cout = cout, K = k,
                Activation = activation, Slope = slope,
            };
            // Output rows are independent: any split gives the same bits.
            BbcuParallel.For(degree, height, &ConvRows, &state);
        }
    }

    private unsafe struct ConvState
    {
        public float* X, Y, Weights, Bias, Slopes;
        public int Width, Height, Cin, Cout, K;
        public BbcuActivation Activation;
        public float Slope;
    }

    /// <summary>
    /// Rows <c>[start, end)</c> of every output channel. Interior columns (every tap inside the row) are
    /// computed four output channels × two vectors of pixels at a time (each input vector loaded once for
    /// four channels, each weight broadcast once for two vectors): for 3×3 kernels a row at a time in
    /// passes over the input channels (<see cref="RowPass4x2"/>), otherwise block by block in registers
    /// (<see cref="Block4x2"/>); one channel × four vectors for a last single channel. A row's last block
    /// overlaps the one before it instead of leaving a remainder. Border columns take four channels per
    /// pixel. Every output element is summed in the same order on every path — bias, then channel,
    /// kernel row, kernel column, skipping taps outside the image (for k ≥ 5 each channel's taps into a
    /// partial sum first, see <see cref="PartialSumKernel"/>); a multiply then an add, never fused —
    /// and activated once, so neither the split, the blocking nor the ISA changes a bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ConvRows(void* state, int start, int end)
    {
        ref ConvState s = ref *(ConvState*)state;
        int width = s.Width, height = s.Height, cout = s.Cout, k = s.K, pad = k / 2;
        long plane = (long)width * height;
        int v = Vector<float>.Count;
        int colLo = pad, colHi = width - pad, inner = colHi - colLo; // columns whose k taps are all inside the row
        bool vector = Vector.IsHardwareAccelerated;
        for (int r = start; r < end; r++)
        {
            int ky0 = Math.Max(0, pad - r), ky1 = Math.Min(k, height - r + pad);
            for (int o0 = 0; o0 < cout; o0 += 4)
            {
                int nb = Math.Min(4, cout - o0);
                if (Vector512.IsHardwareAccelerated && nb >= 2 && inner >= 32 && k == 3 && width <= MaxRowPassWidth && v == 8)
                {
                    // AVX-512: the same row passes with 16-float vectors, then the remainder in 256-bit
                    // blocks (same summation order: the same bits).
                    int blocks = inner / 32;
                    RowPass4x2Wide(ref s, r, o0, nb, ky0, ky1, colLo, blocks);
                    // 0–31 columns left: one or two 16-column blocks, the last one overlapping.
                    for (int col = colLo + blocks * 32; col < colHi; col += 2 * v)
                        Block4x2(ref s, r, Math.Min(col, colHi - 2 * v), o0, nb, ky0, ky1);
                }
                else if (vector && nb >= 2 && inner >= 2 * v && k == 3 && width <= MaxRowPassWidth)
                {
                    // Whole row in passes over the input channels, then the remainder as one overlapping block.
                    int blocks = inner / (2 * v);
                    RowPass4x2(ref s, r, o0, nb, ky0, ky1, colLo, blocks);
                    if (blocks * 2 * v < inner) Block4x2(ref s, r, colHi - 2 * v, o0, nb, ky0, ky1);
                }
                else if (vector && nb >= 2 && inner >= 2 * v)
                    for (int col = colLo; ; col += 2 * v)
                    {
                        int c = Math.Min(col, colHi - 2 * v);
                        Block4x2(ref s, r, c, o0, nb, ky0, ky1);
                        if (c == colHi - 2 * v) break;
                    }
                else if (vector && inner >= v)
                    for (int j = 0; j < nb; j++)
                    {
                        int span = inner >= 4 * v ? 4 * v : v;
                        for (int col = colLo; ; col += span)
                        {
                            int c = Math.Min(col, colHi - span);
                            if (span == 4 * v) Block1x4(ref s, r, c, o0 + j, ky0, ky1);
                            else Block1x1(ref s, r, c, o0 + j, ky0, ky1);
                            if (c == colHi - span) break;
                        }
                    }
                else
                    for (int c = colLo; c < colHi; c++)
                        Pixel(ref s, r, c, o0, nb, ky0, ky1);
                for (int c = 0; c < Math.Min(colLo, width); c++)
                    Pixel(ref s, r, c, o0, nb, ky0, ky1);
                for (int c = Math.Max(colHi, colLo); c < width; c++)
                    Pixel(ref s, r, c, o0, nb, ky0, ky1);
            }
        }
    }

    /// <summary>
    /// Kernels this size and larger sum each input channel's k² taps from 0 and then add that partial sum
    /// to the output's running sum (bias, channel 0's partial, channel 1's partial, …), rather than adding
    /// every tap to the running sum: a 9×9 or 11×11 conv adds hundreds of products per output, and one
    /// long float32 chain rounds far more: against PyTorch's float64 output the unit_k7_k9 fixture went
    /// from 134.5 to 143.9 dB and unit_k11 from 138.0 to 141.4 dB (against PyTorch's float32 output, which
    /// has its own rounding: 133.2 → 137.1 and 134.4 → 136.3 dB). 1×1 and 3×3 kernels keep the single chain.
    /// </summary>
    private const int PartialSumKernel = 5;

    private static unsafe Vector<float> Bias(ref ConvState s, int o) => new(s.Bias == null ? 0f : s.Bias[o]);

    private static unsafe float SlopeOf(ref ConvState s, int o) => s.Activation == BbcuActivation.PRelu ? s.Slopes[o] : s.Slope;

    /// <summary>The activation on a vector, exactly as <see cref="Activate(float, BbcuActivation, float)"/> on each element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Activate(Vector<float> z, BbcuActivation activation, float slope) => activation switch
    {
        BbcuActivation.None => z,
        // NaN stays NaN (z ≠ z), as PyTorch's ReLU propagates it.
        BbcuActivation.Relu => Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<float>.Zero) | ~Vector.Equals(z, z), z, Vector<float>.Zero),
        _ => Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<float>.Zero), z, z * new Vector<float>(slope)),
    };

    /// <summary>The activation on one value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Activate(float z, BbcuActivation activation, float slope) => activation switch
    {
        BbcuActivation.None => z,
        BbcuActivation.Relu => z > 0f ? z : float.IsNaN(z) ? z : 0f,
        _ => z > 0f ? z : slope * z,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Put(ref ConvState s, float* y, int o, Vector<float> z) =>
        Unsafe.WriteUnaligned(y, Activate(z, s.Activation, SlopeOf(ref s, o)));

    /// <summary>
    /// Output channels <c>o0 … o0+nb−1</c> (2 ≤ nb ≤ 4; missing channels repeat the first one's weights and
    /// are not stored) × 2 vectors of interior pixels starting at column <paramref name="col"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Block4x2(ref ConvState s, int r, int col, int o0, int nb, int ky0, int ky1)
    {
        int width = s.Width, cin = s.Cin, k = s.K, pad = k / 2, v = Vector<float>.Count;
        long plane = (long)width * s.Height, kk = (long)k * k, ws = cin * kk;
        int o2 = nb > 2 ? o0 + 2 : o0, o3 = nb > 3 ? o0 + 3 : o0;
        long w2 = (o2 - o0) * ws, w3 = (o3 - o0) * ws;
        Vector<float> a0 = Bias(ref s, o0), a1 = Bias(ref s, o0 + 1), a2 = Bias(ref s, o2), a3 = Bias(ref s, o3);
        Vector<float> b0 = a0, b1 = a1, b2 = a2, b3 = a3;
        float* x = s.X + (long)(r + ky0 - pad) * width + col - pad;
        float* wc = s.Weights + o0 * ws + ky0 * k;
        bool partial = k >= PartialSumKernel;
        for (int c = 0; c < cin; c++, x += plane, wc += kk)
        {
            // k ≥ 5: this channel's taps summed from 0, then added (see PartialSumKernel).
            Vector<float> s0 = a0, s1 = a1, s2 = a2, s3 = a3, t0 = b0, t1 = b1, t2 = b2, t3 = b3;
            if (partial) a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = Vector<float>.Zero;
            float* xr = x, wr = wc;
            for (int ky = ky0; ky < ky1; ky++, xr += width, wr += k)
                for (int kx = 0; kx < k; kx++)
                    Tap4x2(xr + kx, wr + kx, ws, w2, w3, v, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
            if (partial)
            {
                a0 = s0 + a0; a1 = s1 + a1; a2 = s2 + a2; a3 = s3 + a3;
                b0 = t0 + b0; b1 = t1 + b1; b2 = t2 + b2; b3 = t3 + b3;
            }
        }
        float* y = s.Y + o0 * plane + (long)r * width + col;
        Put(ref s, y, o0, a0); Put(ref s, y + v, o0, b0);
        Put(ref s, y + plane, o0 + 1, a1); Put(ref s, y + plane + v, o0 + 1, b1);
        if (nb > 2) { Put(ref s, y + 2 * plane, o0 + 2, a2); Put(ref s, y + 2 * plane + v, o0 + 2, b2); }
        if (nb > 3) { Put(ref s, y + 3 * plane, o0 + 3, a3); Put(ref s, y + 3 * plane + v, o0 + 3, b3); }
    }

    /// <summary>Widest row <see cref="RowPass4x2"/> takes (its scratch rows for missing channels are on the stack).</summary>
    private const int MaxRowPassWidth = 4096;

    /// <summary>
    /// 3×3 kernels, output channels <c>o0 … o0+nb−1</c> (2 ≤ nb ≤ 4), <paramref name="blocks"/> blocks of two
    /// vectors from column <paramref name="colLo"/>: the output rows themselves are the accumulators,
    /// and the input channels are taken one at a time, each sweeping its three rows left to right (a few
    /// KiB, in L1) rather than every block touching all input channels' rows (3·Cin lines that evict
    /// one another). Per element the sum is still bias, then channel, kernel row, kernel column.
    /// </summary>
    private static unsafe void RowPass4x2(ref ConvState s, int r, int o0, int nb, int ky0, int ky1, int colLo, int blocks)
    {
        int width = s.Width, cin = s.Cin, v = Vector<float>.Count, n = blocks * 2 * v;
        long plane = (long)width * s.Height, ws = cin * 9L;
        float* scratch = stackalloc float[nb < 4 ? 2 * MaxRowPassWidth : 1];
        RowPassTargets(ref s, r, o0, nb, colLo, n, scratch, out float* y0, out float* y1, out float* y2, out float* y3, out long w2, out long w3);
        for (int c = 0; c < cin; c++)
        {
            float* x = s.X + c * plane + (long)(r + ky0 - 1) * width + colLo - 1;
            float* wc = s.Weights + o0 * ws + c * 9L + ky0 * 3;
            int i = 0;
            if (AdvSimd.Arm64.IsSupported)
                i = RowPass4x4AdvSimd(x, wc, ws, w2, w3, width, ky0, ky1, n, y0, y1, y2, y3);
            for (; i < n; i += 2 * v)
            {
                Vector<float> a0 = Unsafe.ReadUnaligned<Vector<float>>(y0 + i), b0 = Unsafe.ReadUnaligned<Vector<float>>(y0 + i + v);
                Vector<float> a1 = Unsafe.ReadUnaligned<Vector<float>>(y1 + i), b1 = Unsafe.ReadUnaligned<Vector<float>>(y1 + i + v);
                Vector<float> a2 = Unsafe.ReadUnaligned<Vector<float>>(y2 + i), b2 = Unsafe.ReadUnaligned<Vector<float>>(y2 + i + v);
                Vector<float> a3 = Unsafe.ReadUnaligned<Vector<float>>(y3 + i), b3 = Unsafe.ReadUnaligned<Vector<float>>(y3 + i + v);
                float* xr = x + i, wr = wc;
                for (int ky = ky0; ky < ky1; ky++, xr += width, wr += 3)
                {
                    Tap4x2(xr, wr, ws, w2, w3, v, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
                    Tap4x2(xr + 1, wr + 1, ws, w2, w3, v, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
                    Tap4x2(xr + 2, wr + 2, ws, w2, w3, v, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
                }
                Unsafe.WriteUnaligned(y0 + i, a0); Unsafe.WriteUnaligned(y0 + i + v, b0);
                Unsafe.WriteUnaligned(y1 + i, a1); Unsafe.WriteUnaligned(y1 + i + v, b1);
                Unsafe.WriteUnaligned(y2 + i, a2); Unsafe.WriteUnaligned(y2 + i + v, b2);
                Unsafe.WriteUnaligned(y3 + i, a3); Unsafe.WriteUnaligned(y3 + i + v, b3);
            }
        }
        if (s.Activation == BbcuActivation.None) return;
        for (int j = 0; j < nb; j++)
        {
            float* yj = y0 + j * plane;
            float slope = SlopeOf(ref s, o0 + j);
            for (int i = 0; i < n; i += v)
                Unsafe.WriteUnaligned(yj + i, Activate(Unsafe.ReadUnaligned<Vector<float>>(yj + i), s.Activation, slope));
        }
    }

    /// <summary>
    /// Arm64 (32 vector registers): one input channel's pass of <see cref="RowPass4x2"/> over blocks of four
    /// vectors instead of two, sixteen accumulators, so each tap's four broadcast weights serve four vectors and
    /// more independent sums hide the add latency. Per element the same operations in the same order (bias, then
    /// channel, kernel row, kernel column; a multiply then an add). Returns the columns done (a multiple of 16).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int RowPass4x4AdvSimd(float* x, float* wc, long ws, long w2, long w3, int width, int ky0, int ky1, int n,
        float* y0, float* y1, float* y2, float* y3)
    {
        const int V = 4;
        int i = 0;
        for (; i + 4 * V <= n; i += 4 * V)
        {
            Vector128<float> a0 = Vector128.Load(y0 + i), b0 = Vector128.Load(y0 + i + V), c0 = Vector128.Load(y0 + i + 2 * V), d0 = Vector128.Load(y0 + i + 3 * V);
            Vector128<float> a1 = Vector128.Load(y1 + i), b1 = Vector128.Load(y1 + i + V), c1 = Vector128.Load(y1 + i + 2 * V), d1 = Vector128.Load(y1 + i + 3 * V);
            Vector128<float> a2 = Vector128.Load(y2 + i), b2 = Vector128.Load(y2 + i + V), c2 = Vector128.Load(y2 + i + 2 * V), d2 = Vector128.Load(y2 + i + 3 * V);
            Vector128<float> a3 = Vector128.Load(y3 + i), b3 = Vector128.Load(y3 + i + V), c3 = Vector128.Load(y3 + i + 2 * V), d3 = Vector128.Load(y3 + i + 3 * V);
            float* xr = x + i, wr = wc;
            for (int ky = ky0; ky < ky1; ky++, xr += width, wr += 3)
                for (int kx = 0; kx < 3; kx++)
                {
                    Vector128<float> w0 = Vector128.Create(wr[kx]), w1 = Vector128.Create(wr[kx + ws]);
                    Vector128<float> w2v = Vector128.Create(wr[kx + w2]), w3v = Vector128.Create(wr[kx + w3]);
                    Mac4(Vector128.Load(xr + kx), Vector128.Load(xr + kx + V), w0, w1, w2v, w3v, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
                    Mac4(Vector128.Load(xr + kx + 2 * V), Vector128.Load(xr + kx + 3 * V), w0, w1, w2v, w3v, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
                }
            a0.Store(y0 + i); b0.Store(y0 + i + V); c0.Store(y0 + i + 2 * V); d0.Store(y0 + i + 3 * V);
            a1.Store(y1 + i); b1.Store(y1 + i + V); c1.Store(y1 + i + 2 * V); d1.Store(y1 + i + 3 * V);
            a2.Store(y2 + i); b2.Store(y2 + i + V); c2.Store(y2 + i + 2 * V); d2.Store(y2 + i + 3 * V);
            a3.Store(y3 + i); b3.Store(y3 + i + V); c3.Store(y3 + i + 2 * V); d3.Store(y3 + i + 3 * V);
        }
        return i;
    }

    /// <summary>Two vectors of pixels (<paramref name="x0"/>, <paramref name="x1"/>) times four channels' weights, added to their sums (a multiply, then an add).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Mac4(Vector128<float> x0, Vector128<float> x1, Vector128<float> w0, Vector128<float> w1, Vector128<float> w2, Vector128<float> w3,
        ref Vector128<float> a0, ref Vector128<float> a1, ref Vector128<float> a2, ref Vector128<float> a3,
        ref Vector128<float> b0, ref Vector128<float> b1, ref Vector128<float> b2, ref Vector128<float> b3)
    {
        a0 += x0 * w0; b0 += x1 * w0;
        a1 += x0 * w1; b1 += x1 * w1;
        a2 += x0 * w2; b2 += x1 * w2;
        a3 += x0 * w3; b3 += x1 * w3;
    }

    /// <summary>
    /// The four output rows of a row pass, <paramref name="n"/> floats from column <paramref name="colLo"/> of row
    /// <paramref name="r"/>, each filled with its channel's bias: channels <paramref name="o0"/>.. of the group, and
    /// rows of <paramref name="scratch"/> for the channels a group of <paramref name="nb"/> &lt; 4 lacks (they repeat
    /// channel <paramref name="o0"/>'s weights, at offsets <paramref name="w2"/> and <paramref name="w3"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void RowPassTargets(ref ConvState s, int r, int o0, int nb, int colLo, int n, float* scratch,
        out float* y0, out float* y1, out float* y2, out float* y3, out long w2, out long w3)
    {
        long plane = (long)s.Width * s.Height, ws = s.Cin * 9L;
        int o2 = nb > 2 ? o0 + 2 : o0, o3 = nb > 3 ? o0 + 3 : o0;
        w2 = (o2 - o0) * ws;
        w3 = (o3 - o0) * ws;
        y0 = s.Y + o0 * plane + (long)r * s.Width + colLo;
        y1 = y0 + plane;
        y2 = nb > 2 ? y0 + 2 * plane : scratch;
        y3 = nb > 3 ? y0 + 3 * plane : scratch + MaxRowPassWidth;
        new Span<float>(y0, n).Fill(s.Bias == null ? 0f : s.Bias[o0]);
        new Span<float>(y1, n).Fill(s.Bias == null ? 0f : s.Bias[o0 + 1]);
        new Span<float>(y2, n).Fill(s.Bias == null ? 0f : s.Bias[o2]);
        new Span<float>(y3, n).Fill(s.Bias == null ? 0f : s.Bias[o3]);
    }

    /// <summary><see cref="RowPass4x2"/> with 512-bit vectors (16 floats; blocks of 32 columns); same order of operations per element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RowPass4x2Wide(ref ConvState s, int r, int o0, int nb, int ky0, int ky1, int colLo, int blocks)
    {
        const int V = 16;
        int width = s.Width, cin = s.Cin, n = blocks * 2 * V;
        long plane = (long)width * s.Height, ws = cin * 9L;
        float* scratch = stackalloc float[nb < 4 ? 2 * MaxRowPassWidth : 1];
        RowPassTargets(ref s, r, o0, nb, colLo, n, scratch, out float* y0, out float* y1, out float* y2, out float* y3, out long w2, out long w3);
        for (int c = 0; c < cin; c++)
        {
            float* x = s.X + c * plane + (long)(r + ky0 - 1) * width + colLo - 1;
            float* wc = s.Weights + o0 * ws + c * 9L + ky0 * 3;
            for (int i = 0; i < n; i += 2 * V)
            {
                Vector512<float> a0 = Vector512.Load(y0 + i), b0 = Vector512.Load(y0 + i + V);
                Vector512<float> a1 = Vector512.Load(y1 + i), b1 = Vector512.Load(y1 + i + V);
                Vector512<float> a2 = Vector512.Load(y2 + i), b2 = Vector512.Load(y2 + i + V);
                Vector512<float> a3 = Vector512.Load(y3 + i), b3 = Vector512.Load(y3 + i + V);
                float* xr = x + i, wr = wc;
                for (int ky = ky0; ky < ky1; ky++, xr += width, wr += 3)
                    for (int kx = 0; kx < 3; kx++)
                    {
                        Vector512<float> x0 = Vector512.Load(xr + kx), x1 = Vector512.Load(xr + kx + V);
                        Vector512<float> w = Vector512.Create(wr[kx]);
                        a0 += x0 * w; b0 += x1 * w;
                        w = Vector512.Create(wr[kx + ws]);
                        a1 += x0 * w; b1 += x1 * w;
                        w = Vector512.Create(wr[kx + w2]);
                        a2 += x0 * w; b2 += x1 * w;
                        w = Vector512.Create(wr[kx + w3]);
                        a3 += x0 * w; b3 += x1 * w;
                    }
                Vector512.Store(a0, y0 + i); Vector512.Store(b0, y0 + i + V);
                Vector512.Store(a1, y1 + i); Vector512.Store(b1, y1 + i + V);
                Vector512.Store(a2, y2 + i); Vector512.Store(b2, y2 + i + V);
                Vector512.Store(a3, y3 + i); Vector512.Store(b3, y3 + i + V);
            }
        }
        if (s.Activation == BbcuActivation.None) return;
        for (int j = 0; j < nb; j++)
        {
            float* yj = y0 + j * plane;
            float slope = SlopeOf(ref s, o0 + j);
            Vector512<float> zero = Vector512<float>.Zero, vs = Vector512.Create(slope);
            for (int i = 0; i < n; i += V)
            {
                Vector512<float> z = Vector512.Load(yj + i);
                // As Activate(Vector<float>): ReLU keeps NaN, leaky/PReLU multiply the non-positive values.
                z = s.Activation switch
                {
                    BbcuActivation.Relu => Vector512.ConditionalSelect(Vector512.GreaterThan(z, zero) | ~Vector512.Equals(z, z), z, zero),
                    _ => Vector512.ConditionalSelect(Vector512.GreaterThan(z, zero), z, z * vs),
                };
                Vector512.Store(z, yj + i);
            }
        }
    }

    /// <summary>One tap of <see cref="Block4x2"/>: two input vectors times four channels' weights (at 0, <paramref name="ws"/>, <paramref name="w2"/>, <paramref name="w3"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Tap4x2(float* xr, float* wr, long ws, long w2, long w3, int v, ref Vector<float> a0, ref Vector<float> a1,
        ref Vector<float> a2, ref Vector<float> a3, ref Vector<float> b0, ref Vector<float> b1, ref Vector<float> b2, ref Vector<float> b3)
    {
        Vector<float> x0 = Unsafe.ReadUnaligned<Vector<float>>(xr);
        Vector<float> x1 = Unsafe.ReadUnaligned<Vector<float>>(xr + v);
        Vector<float> w = new(wr[0]);
        a0 += x0 * w; b0 += x1 * w;
        w = new(wr[ws]);
        a1 += x0 * w; b1 += x1 * w;
        w = new(wr[w2]);
        a2 += x0 * w; b2 += x1 * w;
        w = new(wr[w3]);
        a3 += x0 * w; b3 += x1 * w;
    }

    /// <summary>One output channel × 4 vectors of interior pixels (four independent sums per weight).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Block1x4(ref ConvState s, int r, int col, int o, int ky0, int ky1)
    {
        int width = s.Width, cin = s.Cin, k = s.K, pad = k / 2, v = Vector<float>.Count;
        long plane = (long)width * s.Height, kk = (long)k * k;
        Vector<float> a0 = Bias(ref s, o), a1 = a0, a2 = a0, a3 = a0;
        bool partial = k >= PartialSumKernel;
        for (int c = 0; c < cin; c++)
        {
            Vector<float> s0 = a0, s1 = a1, s2 = a2, s3 = a3;
            if (partial) a0 = a1 = a2 = a3 = Vector<float>.Zero;
            float* wc = s.Weights + (o * cin + c) * kk;
            for (int ky = ky0; ky < ky1; ky++)
            {
                float* xr = s.X + c * plane + (long)(r + ky - pad) * width + col - pad;
                for (int kx = 0; kx < k; kx++)
                {
                    Vector<float> w = new(wc[ky * k + kx]);
                    a0 += Unsafe.ReadUnaligned<Vector<float>>(xr + kx) * w;
                    a1 += Unsafe.ReadUnaligned<Vector<float>>(xr + kx + v) * w;
                    a2 += Unsafe.ReadUnaligned<Vector<float>>(xr + kx + 2 * v) * w;
                    a3 += Unsafe.ReadUnaligned<Vector<float>>(xr + kx + 3 * v) * w;
                }
            }
            if (partial) { a0 = s0 + a0; a1 = s1 + a1; a2 = s2 + a2; a3 = s3 + a3; }
        }
        float* y = s.Y + o * plane + (long)r * width + col;
        Put(ref s, y, o, a0); Put(ref s, y + v, o, a1); Put(ref s, y + 2 * v, o, a2); Put(ref s, y + 3 * v, o, a3);
    }

    /// <summary>One output channel × one vector of interior pixels (small images).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Block1x1(ref ConvState s, int r, int col, int o, int ky0, int ky1)
    {
        int width = s.Width, cin = s.Cin, k = s.K, pad = k / 2;
        long plane = (long)width * s.Height, kk = (long)k * k;
        Vector<float> a = Bias(ref s, o);
        bool partial = k >= PartialSumKernel;
        for (int c = 0; c < cin; c++)
        {
            Vector<float> sum = a;
            if (partial) a = Vector<float>.Zero;
            float* wc = s.Weights + (o * cin + c) * kk;
            for (int ky = ky0; ky < ky1; ky++)
            {
                float* xr = s.X + c * plane + (long)(r + ky - pad) * width + col - pad;
                for (int kx = 0; kx < k; kx++)
                    a += Unsafe.ReadUnaligned<Vector<float>>(xr + kx) * new Vector<float>(wc[ky * k + kx]);
            }
            if (partial) a = sum + a;
        }
        Put(ref s, s.Y + o * plane + (long)r * width + col, o, a);
    }

    /// <summary>
    /// One pixel at any position, output channels <c>o0 … o0+nb−1</c> (nb ≤ 4) as four independent sums;
    /// taps outside the image skipped.
    /// </summary>
    private static unsafe void Pixel(ref ConvState s, int r, int col, int o0, int nb, int ky0, int ky1)
    {
        int width = s.Width, cin = s.Cin, k = s.K, pad = k / 2;
        long plane = (long)width * s.Height, kk = (long)k * k, ws = cin * kk;
        int kx0 = Math.Max(0, pad - col), kx1 = Math.Min(k, width - col + pad);
        // Channels past nb repeat the first one's weights; their sums are not stored.
        long w1 = nb > 1 ? ws : 0, w2 = nb > 2 ? 2 * ws : 0, w3 = nb > 3 ? 3 * ws : 0;
        float a0 = s.Bias == null ? 0f : s.Bias[o0];
        float a1 = s.Bias == null ? 0f : s.Bias[o0 + (w1 == 0 ? 0 : 1)];
        float a2 = s.Bias == null ? 0f : s.Bias[o0 + (w2 == 0 ? 0 : 2)];
        float a3 = s.Bias == null ? 0f : s.Bias[o0 + (w3 == 0 ? 0 : 3)];
        bool partial = k >= PartialSumKernel;
        for (int c = 0; c < cin; c++)
        {
            float s0 = a0, s1 = a1, s2 = a2, s3 = a3;
            if (partial) a0 = a1 = a2 = a3 = 0f;
            float* wc = s.Weights + (o0 * cin + c) * kk;
            for (int ky = ky0; ky < ky1; ky++)
            {
                float* xr = s.X + c * plane + (long)(r + ky - pad) * width + col - pad;
                float* wr = wc + ky * k;
                for (int kx = kx0; kx < kx1; kx++)
                {
                    float xv = xr[kx];
                    a0 += xv * wr[kx];
                    a1 += xv * wr[kx + w1];
                    a2 += xv * wr[kx + w2];
                    a3 += xv * wr[kx + w3];
                }
            }
            if (partial) { a0 = s0 + a0; a1 = s1 + a1; a2 = s2 + a2; a3 = s3 + a3; }
        }
        float* y = s.Y + o0 * plane + (long)r * width + col;
        y[0] = Activate(a0, s.Activation, SlopeOf(ref s, o0));
        if (nb > 1) y[plane] = Activate(a1, s.Activation, SlopeOf(ref s, o0 + 1));
        if (nb > 2) y[2 * plane] = Activate(a2, s.Activation, SlopeOf(ref s, o0 + 2));
        if (nb > 3) y[3 * plane] = Activate(a3, s.Activation, SlopeOf(ref s, o0 + 3));
    }

    /// <summary><c>y = a + b</c> elementwise.</summary>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int degree = 1) => Elementwise(a, b, 0f, y, ElementOp.Add, degree);

    /// <summary><c>y = a − b</c> elementwise.</summary>
    public static void Subtract(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int degree = 1) => Elementwise(a, b, 0f, y, ElementOp.Subtract, degree);

    /// <summary><c>y = a·s</c> elementwise.</summary>
    public static void Multiply(ReadOnlySpan<float> a, float s, Span<float> y, int degree = 1) => Elementwise(a, default, s, y, ElementOp.Multiply, degree);

    /// <summary><c>y = a / s</c> elementwise (a true division, as PyTorch computes it).</summary>
    public static void Divide(ReadOnlySpan<float> a, float s, Span<float> y, int degree = 1) => Elementwise(a, default, s, y, ElementOp.Divide, degree);

    private enum ElementOp { Add, Subtract, Multiply, Divide }

    private unsafe struct ElementState
    {
        public float* A, B, Y;
        public float S;
        public ElementOp Op;
        public long Length;
    }

    /// <summary>Elements per chunk handed to a thread (at least): below this a second thread costs more than it saves.</summary>
    private const int ElementChunk = 16384;

    private static unsafe void Elementwise(ReadOnlySpan<float> a, ReadOnlySpan<float> b, float s, Span<float> y, ElementOp op, int degree)
    {
        bool binary = op is ElementOp.Add or ElementOp.Subtract;
        if (a.Length < y.Length || (binary && b.Length < y.Length))
            throw new ArgumentException($"{op}: inputs need {y.Length} values; got {a.Length}{(binary ? $" and {b.Length}" : "")}.");
        fixed (float* pa = a, pb = b, py = y)
        {
            var state = new ElementState { A = pa, B = pb, Y = py, S = s, Op = op, Length = y.Length };
            // Chunks of ElementChunk elements (the last one shorter, clamped to Length).
            BbcuParallel.For(degree, (y.Length + ElementChunk - 1) / ElementChunk, &ElementChunks, &state);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ElementChunks(void* state, int start, int end)
    {
        ref ElementState s = ref *(ElementState*)state;
        long from = (long)start * ElementChunk, to = Math.Min((long)end * ElementChunk, s.Length);
        float* a = s.A, b = s.B, y = s.Y;
        float k = s.S;
        long i = from;
        int v = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var vk = new Vector<float>(k);
            for (; i <= to - v; i += v)
            {
                var va = Unsafe.ReadUnaligned<Vector<float>>(a + i);
                Vector<float> z = s.Op switch
                {
                    ElementOp.Add => va + Unsafe.ReadUnaligned<Vector<float>>(b + i),
                    ElementOp.Subtract => va - Unsafe.ReadUnaligned<Vector<float>>(b + i),
                    ElementOp.Multiply => va * vk,
                    _ => va / vk,
                };
                Unsafe.WriteUnaligned(y + i, z);
            }
        }
        for (; i < to; i++)
            y[i] = s.Op switch
            {
                ElementOp.Add => a[i] + b[i],
                ElementOp.Subtract => a[i] - b[i],
                ElementOp.Multiply => a[i] * k,
                _ => a[i] / k,
            };
    }

    /// <summary>Channel-wise activation of a CHW map: <paramref name="slopes"/> per channel for PReLU.</summary>
    public static unsafe void Activate(ReadOnlySpan<float> x, Span<float> y, int channels, int plane, BbcuActivation activation, float slope,
        ReadOnlySpan<float> slopes, int degree = 1)
    {
        BbcuGuard.Sizes(nameof(Activate), true, (nameof(channels), channels), (nameof(plane), plane));
        if (x.Length < (long)channels * plane || y.Length < (long)channels * plane || (activation == BbcuActivation.PRelu && slopes.Length < channels))
            throw new ArgumentException($"Activate: x and y need {channels * plane} values{(activation == BbcuActivation.PRelu ? $", slopes {channels}" : "")}.");
        fixed (float* px = x, py = y, ps = slopes)
        {
            var state = new ChannelState { Kind = ChannelOp.Activate, X = px, Y = py, P1 = ps, Plane = plane, Activation = activation, Slope = slope };
            BbcuParallel.For(degree, channels, &ChannelBand, &state);
        }
    }

    /// <summary>
    /// RPReLU on a CHW map: <c>y = PReLU(x + shift[c]) + bias1[c]</c>.
    /// </summary>
    public static unsafe void RPRelu(ReadOnlySpan<float> x, Span<float> y, int channels, int plane,
        ReadOnlySpan<float> shift, ReadOnlySpan<float> slopes, ReadOnlySpan<float> bias1, int degree = 1)
    {
        BbcuGuard.Sizes(nameof(RPRelu), true, (nameof(channels), channels), (nameof(plane), plane));
        if (x.Length < (long)channels * plane || y.Length < (long)channels * plane || shift.Length < channels || slopes.Length < channels || bias1.Length < channels)
            throw new ArgumentException($"RPRelu: x and y need {channels * plane} values, shift, slopes and bias1 {channels} each.");
        fixed (float* px = x, py = y, p1 = shift, p2 = slopes, p3 = bias1)
        {
            var state = new ChannelState { Kind = ChannelOp.RPRelu, X = px, Y = py, P1 = p1, P2 = p2, P3 = p3, Plane = plane };
            BbcuParallel.For(degree, channels, &ChannelBand, &state);
        }
    }

    /// <summary>Per-channel affine map of a CHW map: <c>y = x·scale[c] + shift[c]</c>.</summary>
    public static unsafe void Affine(ReadOnlySpan<float> x, Span<float> y, int channels, int plane, ReadOnlySpan<float> scale,
        ReadOnlySpan<float> shift, int degree = 1)
    {
        BbcuGuard.Sizes(nameof(Affine), true, (nameof(channels), channels), (nameof(plane), plane));
        if (x.Length < (long)channels * plane || y.Length < (long)channels * plane || scale.Length < channels || shift.Length < channels)
            throw new ArgumentException($"Affine: x and y need {channels * plane} values, scale and shift {channels} each.");
        fixed (float* px = x, py = y, p1 = scale, p2 = shift)
        {
            var state = new ChannelState { Kind = ChannelOp.Affine, X = px, Y = py, P1 = p1, P2 = p2, Plane = plane };
            BbcuParallel.For(degree, channels, &ChannelBand, &state);
        }
    }

    private enum ChannelOp { Activate, RPRelu, Affine }

    private unsafe struct ChannelState
    {
        public ChannelOp Kind;
        public float* X, Y, P1, P2, P3;
        public int Plane;
        public BbcuActivation Activation;
        public float Slope;
    }

    /// <summary>Channels <c>[start, end)</c> of a channel-wise op; vector and scalar do the same IEEE operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ChannelBand(void* state, int start, int end)
    {
        ref ChannelState s = ref *(ChannelState*)state;
        int plane = s.Plane, v = Vector<float>.Count;
        for (int c = start; c < end; c++)
        {
            float* x = s.X + (long)c * plane, y = s.Y + (long)c * plane;
            int i = 0;
            switch (s.Kind)
            {
                case ChannelOp.Activate:
                {
                    float slope = s.Activation == BbcuActivation.PRelu ? s.P1[c] : s.Slope;
                    if (Vector.IsHardwareAccelerated)
                        for (; i <= plane - v; i += v)
                            Unsafe.WriteUnaligned(y + i, Activate(Unsafe.ReadUnaligned<Vector<float>>(x + i), s.Activation, slope));
                    for (; i < plane; i++) y[i] = Activate(x[i], s.Activation, slope);
                    break;
                }
                case ChannelOp.RPRelu:
                {
                    float shift = s.P1[c], a = s.P2[c], b = s.P3[c];
                    if (Vector.IsHardwareAccelerated)
                    {
                        Vector<float> vs = new(shift), va = new(a), vb = new(b);
                        for (; i <= plane - v; i += v)
                        {
                            Vector<float> z = Unsafe.ReadUnaligned<Vector<float>>(x + i) + vs;
                            Unsafe.WriteUnaligned(y + i, Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<float>.Zero), z, va * z) + vb);
                        }
                    }
                    for (; i < plane; i++)
                    {
                        float z = x[i] + shift;
                        y[i] = (z > 0f ? z : a * z) + b;
                    }
                    break;
                }
                default:
                {
                    float a = s.P1[c], b = s.P2[c];
                    if (Vector.IsHardwareAccelerated)
                    {
                        Vector<float> va = new(a), vb = new(b);
                        for (; i <= plane - v; i += v)
                            Unsafe.WriteUnaligned(y + i, Unsafe.ReadUnaligned<Vector<float>>(x + i) * va + vb);
                    }
                    for (; i < plane; i++) y[i] = x[i] * a + b;
                    break;
                }
            }
        }
    }
}
