using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Bbcu;

/// <summary>
/// Kernels that change the spatial size or the channel layout of a planar CHW map, computed exactly
/// as PyTorch does (generated code only). <c>width</c> and <c>height</c> are the input's. Each splits
/// its output rows over up to <c>degree</c> threads; every element is a copy or the same arithmetic
/// whatever the split.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class ResampleKernels
{
    private struct State
    {
        public float* X, Y;
        public int Channels, R, Width, Height, OriginX, OriginY;
    }

    /// <summary><c>PixelShuffle(r)</c>: <c>y[c, h·r+i, w·r+j] = x[c·r² + i·r + j, h, w]</c>; <paramref name="channels"/> is the output's.</summary>
    public static void PixelShuffle(ReadOnlySpan<float> x, Span<float> y, int channels, int r, int width, int height, int degree = 1) =>
        Run(x, y, channels, r, width, height, 0, 0, degree, (long)channels * r * r, &ShuffleRows);

    /// <summary>Nearest upsampling by an integer factor: <c>y[h, w] = x[h div r, w div r]</c>.</summary>
    public static void UpsampleNearest(ReadOnlySpan<float> x, Span<float> y, int channels, int r, int width, int height, int degree = 1) =>
        Run(x, y, channels, r, width, height, 0, 0, degree, channels, &NearestRows);

    /// <summary>
    /// Bilinear upsampling by an integer factor with <c>align_corners = false</c>, as PyTorch's CPU
    /// kernel computes it: per axis <c>src = max(0, (dst + 0.5)/r − 0.5)</c> (the scale 1/r in float32,
    /// the product in double, rounded to float32), <c>i0 = ⌊src⌋</c>, <c>i1 = min(i0 + 1, n − 1)</c>,
    /// <c>λ = src − i0</c>; <c>y = (1−λy)·((1−λx)·x00 + λx·x01) + λy·((1−λx)·x10 + λx·x11)</c>.
    /// </summary>
    /// <param name="originX">Global column of this map's first input column (when running a tile): the
    /// source coordinates are computed from global output coordinates, so a tile gets the same bits.</param>
    /// <param name="originY">Global row of this map's first input row.</param>
    public static void UpsampleBilinear(ReadOnlySpan<float> x, Span<float> y, int channels, int r, int width, int height,
        int originX = 0, int originY = 0, int degree = 1) =>
        Run(x, y, channels, r, width, height, originX, originY, degree, channels, &BilinearRows);

    private static void Run(ReadOnlySpan<float> x, Span<float> y, int channels, int r, int width, int height, int originX, int originY,
        int degree, long inChannels, delegate*<void*, int, int, void> rows)
    {
        BbcuGuard.Sizes("Resample", false, (nameof(channels), channels), (nameof(r), r), (nameof(width), width), (nameof(height), height));
        long plane = (long)width * height;
        if (r > 64 || x.Length < inChannels * plane || y.Length < channels * plane * r * r)
            throw new ArgumentException($"Resample: x needs {inChannels * plane} and y {channels * plane * r * r} values for {channels} channels of {width}×{height} ×{r}.");
        fixed (float* px = x, py = y)
        {
            var state = new State { X = px, Y = py, Channels = channels, R = r, Width = width, Height = height, OriginX = originX, OriginY = originY };
            BbcuParallel.For(degree, channels * height * r, rows, &state);
        }
    }

    /// <summary>Output rows <c>[start, end)</c> of all channels (row index = c·outHeight + oh).</summary>
    private static void ShuffleRows(void* state, int start, int end)
    {
        ref State s = ref *(State*)state;
        int r = s.R, width = s.Width, outHeight = s.Height * r, outWidth = width * r;
        long plane = (long)width * s.Height;
        for (int row = start; row < end; row++)
        {
            int c = row / outHeight, oh = row % outHeight, h = oh / r, i = oh % r;
            float* dst = s.Y + (long)row * outWidth;
            for (int j = 0; j < r; j++)
            {
                float* src = s.X + (c * r * r + i * r + j) * plane + (long)h * width;
                for (int w = 0; w < width; w++) dst[w * r + j] = src[w];
            }
        }
    }

    private static void NearestRows(void* state, int start, int end)
    {
        ref State s = ref *(State*)state;
        int r = s.R, width = s.Width, outHeight = s.Height * r, outWidth = width * r;
        long plane = (long)width * s.Height;
        for (int row = start; row < end; row++)
        {
            int c = row / outHeight, oh = row % outHeight;
            float* dst = s.Y + (long)row * outWidth;
            if (oh % r != 0 && row > start)
            {
                // Same source row as the output row above (computed in this band): copy it.
                new ReadOnlySpan<float>(dst - outWidth, outWidth).CopyTo(new Span<float>(dst, outWidth));
                continue;
            }
            float* src = s.X + c * plane + (long)(oh / r) * width;
            for (int w = 0; w < width; w++)
            {
                float v = src[w];
                for (int j = 0; j < r; j++) dst[w * r + j] = v;
            }
        }
    }

    /// <summary>Columns whose source coordinates are computed at once and reused by every row of a band.</summary>
    private const int ColumnChunk = 256;

    private static void BilinearRows(void* state, int start, int end)
    {
        ref State s = ref *(State*)state;
        int r = s.R, width = s.Width, height = s.Height, outHeight = height * r, outWidth = width * r;
        long plane = (long)width * height;
        int* a = stackalloc int[ColumnChunk];
        int* b = stackalloc int[ColumnChunk];
        float* l1 = stackalloc float[ColumnChunk];
        for (int col0 = 0; col0 < outWidth; col0 += ColumnChunk)
        {
            int n = Math.Min(ColumnChunk, outWidth - col0);
            for (int k = 0; k < n; k++)
                (a[k], b[k], l1[k]) = Source(col0 + k, r, width, s.OriginX);
            for (int row = start; row < end; row++)
            {
                int c = row / outHeight, oh = row % outHeight;
                var (y0, y1, ly) = Source(oh, r, height, s.OriginY);
                float ly0 = 1f - ly;
                float* top = s.X + c * plane + (long)y0 * width, bottom = s.X + c * plane + (long)y1 * width;
                float* drow = s.Y + (long)row * outWidth + col0;
                for (int k = 0; k < n; k++)
                {
                    float lx = l1[k], l0 = 1f - lx;
                    drow[k] = ly0 * (l0 * top[a[k]] + lx * top[b[k]]) + ly * (l0 * bottom[a[k]] + lx * bottom[b[k]]);
                }
            }
        }
    }

    /// <summary>Source indices (local to the map) and weight for local output index <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int I0, int I1, float Lambda) Source(int dst, int r, int n, int origin)
    {
        float scale = (float)(1.0 / r);
        float src = (float)(scale * (dst + (long)origin * r + 0.5) - 0.5);
        if (src < 0f) src = 0f;
        int g0 = (int)Math.Floor(src);
        float lambda = Math.Min(Math.Max(src - g0, 0f), 1f);
        // Local indices, clamped to the map: outside a tile's interior only its (discarded) halo is affected.
        int i0 = Math.Min(Math.Max(g0 - origin, 0), n - 1);
        int i1 = i0 < n - 1 ? i0 + 1 : i0;
        return (i0, i1, lambda);
    }

    /// <summary>BBCU-H's residual: <c>y[c] = x[c div s]</c> for <c>c &lt; s·C</c> and <c>y[s·C] = x[0]</c>.</summary>
    public static void ChannelExpand(ReadOnlySpan<float> x, Span<float> y, int channels, int repeats, int plane, int degree = 1)
    {
        BbcuGuard.Sizes(nameof(ChannelExpand), false, (nameof(channels), channels), (nameof(repeats), repeats), (nameof(plane), plane));
        long outChannels = (long)channels * repeats + 1;
        if (x.Length < (long)channels * plane || y.Length < outChannels * plane)
            throw new ArgumentException($"ChannelExpand: x needs {(long)channels * plane} and y {outChannels * plane} values.");
        fixed (float* px = x, py = y)
        {
            var state = new State { X = px, Y = py, Channels = channels, R = repeats, Width = plane, Height = 1 };
            BbcuParallel.For(degree, (int)outChannels, &ExpandChannels, &state);
        }
    }

    private static void ExpandChannels(void* state, int start, int end)
    {
        ref State s = ref *(State*)state;
        int plane = s.Width, total = s.Channels * s.R;
        for (int c = start; c < end; c++)
        {
            int from = c < total ? c / s.R : 0;
            new ReadOnlySpan<float>(s.X + (long)from * plane, plane).CopyTo(new Span<float>(s.Y + (long)c * plane, plane));
        }
    }
}
