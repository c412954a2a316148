using System;
using System.ComponentModel;

namespace Bbcu;

/// <summary>
/// Kernels that change the spatial size or the channel layout of a planar CHW map, computed exactly
/// as PyTorch does (generated code only). <c>width</c> and <c>height</c> are the input's.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ResampleKernels
{
    /// <summary><c>PixelShuffle(r)</c>: <c>y[c, h·r+i, w·r+j] = x[c·r² + i·r + j, h, w]</c>; <paramref name="channels"/> is the output's.</summary>
    public static void PixelShuffle(ReadOnlySpan<float> x, Span<float> y, int channels, int r, int width, int height)
    {
        int plane = width * height, outWidth = width * r, outPlane = plane * r * r;
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++)
                {
                    ReadOnlySpan<float> src = x.Slice((c * r * r + i * r + j) * plane, plane);
                    Span<float> dst = y.Slice(c * outPlane, outPlane);
                    for (int h = 0; h < height; h++)
                    {
                        int row = (h * r + i) * outWidth + j;
                        for (int w = 0; w < width; w++)
                            dst[row + w * r] = src[h * width + w];
                    }
                }
    }

    /// <summary>Nearest upsampling by an integer factor: <c>y[h, w] = x[h div r, w div r]</c>.</summary>
    public static void UpsampleNearest(ReadOnlySpan<float> x, Span<float> y, int channels, int r, int width, int height)
    {
        int plane = width * height, outWidth = width * r, outPlane = plane * r * r;
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> src = x.Slice(c * plane, plane);
            Span<float> dst = y.Slice(c * outPlane, outPlane);
            for (int oh = 0; oh < height * r; oh++)
            {
                ReadOnlySpan<float> srow = src.Slice(oh / r * width, width);
                Span<float> drow = dst.Slice(oh * outWidth, outWidth);
                for (int ow = 0; ow < outWidth; ow++)
                    drow[ow] = srow[ow / r];
            }
        }
    }

    /// <summary>
    /// Bilinear upsampling by an integer factor with <c>align_corners = false</c>, as PyTorch's CPU
    /// kernel computes it: per axis <c>src = max(0, (dst + 0.5)/r − 0.5)</c> (the scale 1/r in float32,
    /// the product in double, rounded to float32), <c>i0 = ⌊src⌋</c>, <c>i1 = min(i0 + 1, n − 1)</c>,
    /// <c>λ = src − i0</c>; <c>y = (1−λy)·((1−λx)·x00 + λx·x01) + λy·((1−λx)·x10 + λx·x11)</c>.
    /// </summary>
    /// <param name="originX">Global column of this map's first input column (when running a tile): the
    /// source coordinates are computed from global output coordinates, so a tile gets the same bits.</param>
    /// <param name="originY">Global row of this map's first input row.</param>
    public static void UpsampleBilinear(ReadOnlySpan<float> x, Span<float> y, int channels, int r, int width, int height, int originX = 0, int originY = 0)
    {
        int plane = width * height, outWidth = width * r, outHeight = height * r, outPlane = plane * r * r;
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> src = x.Slice(c * plane, plane);
            Span<float> dst = y.Slice(c * outPlane, outPlane);
            for (int oh = 0; oh < outHeight; oh++)
            {
                var (y0, y1, ly) = Source(oh, r, height, originY);
                float ly0 = 1f - ly;
                ReadOnlySpan<float> top = src.Slice(y0 * width, width), bottom = src.Slice(y1 * width, width);
                Span<float> drow = dst.Slice(oh * outWidth, outWidth);
                for (int ow = 0; ow < outWidth; ow++)
                {
                    var (a, b, l1) = Source(ow, r, width, originX);
                    float l0 = 1f - l1;
                    drow[ow] = ly0 * (l0 * top[a] + l1 * top[b]) + ly * (l0 * bottom[a] + l1 * bottom[b]);
                }
            }
        }
    }

    /// <summary>Source indices (local to the map) and weight for local output index <paramref name="dst"/>.</summary>
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
    public static void ChannelExpand(ReadOnlySpan<float> x, Span<float> y, int channels, int repeats, int plane)
    {
        for (int c = 0; c < channels * repeats; c++)
            x.Slice(c / repeats * plane, plane).CopyTo(y.Slice(c * plane, plane));
        x.Slice(0, plane).CopyTo(y.Slice(channels * repeats * plane, plane));
    }
}
