using System;
using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
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
        int plane = width * height;
        if (x.Length < cin * plane || y.Length < cout * plane || weights.Length < cout * cin * k * k || (!bias.IsEmpty && bias.Length < cout)
            || (activation == BbcuActivation.PRelu && slopes.Length < cout) || k % 2 == 0)
            throw new ArgumentException("Conv2d: buffer too small or even kernel.");
        fixed (float* px = x, py = y, pw = weights, pb = bias, ps = slopes)
        {
            var state = new ConvState
            {
                X = px, Y = py, Weights = pw, Bias = pb, Slopes = ps, Width = width, Height = height, Cin = cin, K = k,
                Activation = activation, Slope = slope,
            };
            // Output channels are independent: any split gives the same bits.
            BbcuParallel.For(degree, cout, &ConvBand, &state);
        }
    }

    private unsafe struct ConvState
    {
        public float* X, Y, Weights, Bias, Slopes;
        public int Width, Height, Cin, K;
        public BbcuActivation Activation;
        public float Slope;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ConvBand(void* state, int start, int end)
    {
        ref ConvState s = ref *(ConvState*)state;
        int width = s.Width, height = s.Height, cin = s.Cin, k = s.K, plane = width * height, pad = k / 2;
        for (int o = start; o < end; o++)
        {
            var yo = new Span<float>(s.Y + (long)o * plane, plane);
            yo.Fill(s.Bias == null ? 0f : s.Bias[o]);
            for (int c = 0; c < cin; c++)
            {
                var xc = new ReadOnlySpan<float>(s.X + (long)c * plane, plane);
                float* wc = s.Weights + ((long)o * cin + c) * k * k;
                for (int ky = 0; ky < k; ky++)
                {
                    int dy = ky - pad;
                    int row0 = Math.Max(0, -dy), row1 = Math.Min(height, height - dy);
                    for (int kx = 0; kx < k; kx++)
                    {
                        int dx = kx - pad;
                        int col0 = Math.Max(0, -dx), col1 = Math.Min(width, width - dx);
                        if (col1 <= col0) continue;
                        float w = wc[ky * k + kx];
                        for (int r = row0; r < row1; r++)
                        {
                            int dst = r * width + col0;
                            int src = (r + dy) * width + col0 + dx;
                            MultiplyAdd(yo.Slice(dst, col1 - col0), xc.Slice(src, col1 - col0), w);
                        }
                    }
                }
            }
            Activate(yo, s.Activation, s.Activation == BbcuActivation.PRelu ? s.Slopes[o] : s.Slope);
        }
    }

    /// <summary><c>acc[i] += x[i]·w</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyAdd(Span<float> acc, ReadOnlySpan<float> x, float w)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && acc.Length >= Vector<float>.Count)
        {
            var vw = new Vector<float>(w);
            ref float a = ref MemoryMarshal.GetReference(acc);
            ref float b = ref MemoryMarshal.GetReference(x);
            for (; i <= acc.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var va = Vector.LoadUnsafe(ref a, (nuint)i);
                var vb = Vector.LoadUnsafe(ref b, (nuint)i);
                (va + vb * vw).StoreUnsafe(ref a, (nuint)i);
            }
        }
        for (; i < acc.Length; i++)
            acc[i] += x[i] * w;
    }

    /// <summary>Applies an activation in place to one channel plane.</summary>
    public static void Activate(Span<float> plane, BbcuActivation activation, float slope)
    {
        switch (activation)
        {
            case BbcuActivation.None:
                return;
            case BbcuActivation.Relu:
                for (int i = 0; i < plane.Length; i++)
                    plane[i] = plane[i] > 0f ? plane[i] : (float.IsNaN(plane[i]) ? plane[i] : 0f);
                return;
            default:
                for (int i = 0; i < plane.Length; i++)
                    plane[i] = plane[i] > 0f ? plane[i] : slope * plane[i];
                return;
        }
    }

    /// <summary><c>y = a + b</c> elementwise.</summary>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= y.Length - Vector<float>.Count; i += Vector<float>.Count)
                (new Vector<float>(a.Slice(i)) + new Vector<float>(b.Slice(i))).CopyTo(y.Slice(i));
        for (; i < y.Length; i++)
            y[i] = a[i] + b[i];
    }

    /// <summary><c>y = a − b</c> elementwise.</summary>
    public static void Subtract(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= y.Length - Vector<float>.Count; i += Vector<float>.Count)
                (new Vector<float>(a.Slice(i)) - new Vector<float>(b.Slice(i))).CopyTo(y.Slice(i));
        for (; i < y.Length; i++)
            y[i] = a[i] - b[i];
    }

    /// <summary><c>y = a·s</c> elementwise.</summary>
    public static void Multiply(ReadOnlySpan<float> a, float s, Span<float> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= y.Length - Vector<float>.Count; i += Vector<float>.Count)
                (new Vector<float>(a.Slice(i)) * s).CopyTo(y.Slice(i));
        for (; i < y.Length; i++)
            y[i] = a[i] * s;
    }

    /// <summary><c>y = a / s</c> elementwise (a true division, as PyTorch computes it).</summary>
    public static void Divide(ReadOnlySpan<float> a, float s, Span<float> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= y.Length - Vector<float>.Count; i += Vector<float>.Count)
                (new Vector<float>(a.Slice(i)) / new Vector<float>(s)).CopyTo(y.Slice(i));
        for (; i < y.Length; i++)
            y[i] = a[i] / s;
    }

    /// <summary>Channel-wise activation of a CHW map: <paramref name="slopes"/> per channel for PReLU.</summary>
    public static void Activate(ReadOnlySpan<float> x, Span<float> y, int channels, int plane, BbcuActivation activation, float slope, ReadOnlySpan<float> slopes)
    {
        x.Slice(0, channels * plane).CopyTo(y);
        for (int c = 0; c < channels; c++)
            Activate(y.Slice(c * plane, plane), activation, activation == BbcuActivation.PRelu ? slopes[c] : slope);
    }

    /// <summary>
    /// RPReLU on a CHW map: <c>y = PReLU(x + shift[c]) + bias1[c]</c>, plus <paramref name="residual"/> when given.
    /// </summary>
    public static void RPRelu(ReadOnlySpan<float> x, Span<float> y, int channels, int plane,
        ReadOnlySpan<float> shift, ReadOnlySpan<float> slopes, ReadOnlySpan<float> bias1)
    {
        for (int c = 0; c < channels; c++)
        {
            float s = shift[c], a = slopes[c], b = bias1[c];
            ReadOnlySpan<float> xc = x.Slice(c * plane, plane);
            Span<float> yc = y.Slice(c * plane, plane);
            for (int i = 0; i < plane; i++)
            {
                float z = xc[i] + s;
                yc[i] = (z > 0f ? z : a * z) + b;
            }
        }
    }

    /// <summary>Per-channel affine map of a CHW map: <c>y = x·scale[c] + shift[c]</c>.</summary>
    public static void Affine(ReadOnlySpan<float> x, Span<float> y, int channels, int plane, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift)
    {
        for (int c = 0; c < channels; c++)
        {
            float a = scale[c], b = shift[c];
            ReadOnlySpan<float> xc = x.Slice(c * plane, plane);
            Span<float> yc = y.Slice(c * plane, plane);
            for (int i = 0; i < plane; i++)
                yc[i] = xc[i] * a + b;
        }
    }
}
