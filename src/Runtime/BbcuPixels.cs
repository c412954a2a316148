using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Bbcu;

/// <summary>How 8-bit pixels lie in memory, one byte per channel, channels interleaved.</summary>
public enum BbcuPixelFormat
{
    /// <summary>One grey byte per pixel.</summary>
    Gray8,
    /// <summary>Red, green, blue.</summary>
    Rgb24,
    /// <summary>Red, green, blue, alpha.</summary>
    Rgba32,
    /// <summary>Blue, green, red (Windows bitmaps, OpenCV).</summary>
    Bgr24,
    /// <summary>Blue, green, red, alpha.</summary>
    Bgra32,
}

/// <summary>
/// Converts between the interleaved 8-bit pixels that image libraries give and the planar CHW float32
/// images in [0, 1] that compiled models take, and between RGB and full-range BT.601 Y/Cb/Cr (JPEG's), so
/// that a luma model can restore a colour photo: run Y through the model and keep Cb and Cr.
/// Every method works on spans, allocates nothing, and uses vector instructions where the CPU has them
/// (the same results on every CPU).
/// </summary>
public static class BbcuPixels
{
    private const int Chunk = 256; // pixels per deinterleaving step (stack buffers)

    /// <summary>Bytes per pixel of <paramref name="format"/>.</summary>
    public static int BytesPerPixel(BbcuPixelFormat format) => format switch
    {
        BbcuPixelFormat.Gray8 => 1,
        BbcuPixelFormat.Rgb24 or BbcuPixelFormat.Bgr24 => 3,
        BbcuPixelFormat.Rgba32 or BbcuPixelFormat.Bgra32 => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown pixel format."),
    };

    /// <summary>Planes of a planar image in <paramref name="format"/>: 1 for grey, 3 (R, G, B) for colour; alpha is not a plane.</summary>
    public static int Channels(BbcuPixelFormat format) => BytesPerPixel(format) == 1 ? 1 : 3;

    /// <summary>
    /// Interleaved 8-bit pixels → planar CHW floats <c>v / 255</c> in [0, 1]: one plane for
    /// <see cref="BbcuPixelFormat.Gray8"/>, three (R, G, B, whatever the byte order) for colour; alpha is dropped.
    /// </summary>
    /// <param name="pixels">The image, row by row.</param>
    /// <param name="format">How the pixels are laid out.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    /// <param name="planar">Channels(format) × height × width floats.</param>
    /// <param name="stride">Bytes from one row to the next; 0 means width × BytesPerPixel(format).</param>
    public static void ToPlanar(ReadOnlySpan<byte> pixels, BbcuPixelFormat format, int width, int height, Span<float> planar, int stride = 0)
    {
        int bpp = BytesPerPixel(format), channels = Channels(format);
        stride = CheckImage(pixels.Length, bpp, width, height, stride, nameof(pixels));
        CheckPlanar(planar.Length, channels, width, height, nameof(planar));
        int plane = width * height;
        Span<byte> lane = stackalloc byte[Chunk];
        for (int y = 0; y < height; y++)
        {
            ReadOnlySpan<byte> row = pixels.Slice(y * stride, width * bpp);
            if (bpp == 1)
            {
                BytesToFloats(row, planar.Slice(y * width, width));
                continue;
            }
            for (int c = 0; c < 3; c++)
            {
                int offset = Offset(format, c);
                Span<float> dst = planar.Slice(c * plane + y * width, width);
                for (int x0 = 0; x0 < width; x0 += Chunk)
                {
                    int n = Math.Min(Chunk, width - x0);
                    for (int i = 0; i < n; i++) lane[i] = row[(x0 + i) * bpp + offset];
                    BytesToFloats(lane[..n], dst.Slice(x0, n));
                }
            }
        }
    }

    /// <summary>
    /// Planar CHW floats → interleaved 8-bit pixels: NaN becomes 0, values are clamped to [0, 1], scaled
    /// by 255 and rounded half up (<paramref name="rounding"/> <see cref="MidpointRounding.ToEven"/> rounds
    /// ties to even instead, as numpy does). Alpha, where the format has it, is written as 255.
    /// </summary>
    /// <param name="planar">Channels(format) × height × width floats.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    /// <param name="pixels">The image to write, row by row; bytes between rows (stride padding) are left as they are.</param>
    /// <param name="format">How the pixels are laid out.</param>
    /// <param name="stride">Bytes from one row to the next; 0 means width × BytesPerPixel(format).</param>
    /// <param name="rounding"><see cref="MidpointRounding.AwayFromZero"/> (half up, the default) or <see cref="MidpointRounding.ToEven"/>.</param>
    public static void FromPlanar(ReadOnlySpan<float> planar, int width, int height, Span<byte> pixels, BbcuPixelFormat format,
        int stride = 0, MidpointRounding rounding = MidpointRounding.AwayFromZero)
    {
        int bpp = BytesPerPixel(format), channels = Channels(format);
        if (rounding is not (MidpointRounding.AwayFromZero or MidpointRounding.ToEven))
            throw new ArgumentOutOfRangeException(nameof(rounding), rounding, "Use MidpointRounding.AwayFromZero (half up) or ToEven.");
        stride = CheckImage(pixels.Length, bpp, width, height, stride, nameof(pixels));
        CheckPlanar(planar.Length, channels, width, height, nameof(planar));
        bool toEven = rounding == MidpointRounding.ToEven;
        int plane = width * height;
        Span<byte> lane = stackalloc byte[Chunk];
        for (int y = 0; y < height; y++)
        {
            Span<byte> row = pixels.Slice(y * stride, width * bpp);
            if (bpp == 1)
            {
                FloatsToBytes(planar.Slice(y * width, width), row, toEven);
                continue;
            }
            for (int c = 0; c < 3; c++)
            {
                int offset = Offset(format, c);
                ReadOnlySpan<float> src = planar.Slice(c * plane + y * width, width);
                for (int x0 = 0; x0 < width; x0 += Chunk)
                {
                    int n = Math.Min(Chunk, width - x0);
                    FloatsToBytes(src.Slice(x0, n), lane[..n], toEven);
                    for (int i = 0; i < n; i++) row[(x0 + i) * bpp + offset] = lane[i];
                }
            }
            if (bpp == 4)
                for (int x = 0; x < width; x++) row[x * 4 + 3] = 255;
        }
    }

    /// <summary>
    /// Planar R, G, B → planar Y, Cb, Cr, full-range BT.601 (JPEG/JFIF) on the [0, 1] scale:
    /// <c>Y = 0.299 R + 0.587 G + 0.114 B</c>, <c>Cb = 0.5 + (B − Y)/1.772</c>, <c>Cr = 0.5 + (R − Y)/1.402</c>.
    /// Y is the grey a luma model was trained on. <paramref name="ycbcr"/> may be <paramref name="rgb"/> itself.
    /// </summary>
    /// <param name="rgb">3 × <paramref name="pixels"/> floats: the R plane, then G, then B.</param>
    /// <param name="ycbcr">3 × <paramref name="pixels"/> floats: Y, then Cb, then Cr.</param>
    /// <param name="pixels">Pixels per plane.</param>
    public static void RgbToYCbCr(ReadOnlySpan<float> rgb, Span<float> ycbcr, int pixels)
    {
        CheckThreePlanes(rgb.Length, ycbcr.Length, pixels);
        ReadOnlySpan<float> r = rgb[..pixels], g = rgb.Slice(pixels, pixels), b = rgb.Slice(2 * pixels, pixels);
        Span<float> y = ycbcr[..pixels], cb = ycbcr.Slice(pixels, pixels), cr = ycbcr.Slice(2 * pixels, pixels);
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= pixels - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                Vector128<float> vr = Vector128.Create(r.Slice(i, 4)), vg = Vector128.Create(g.Slice(i, 4)), vb = Vector128.Create(b.Slice(i, 4));
                Vector128<float> vy = vr * 0.299f + vg * 0.587f + vb * 0.114f;
                Vector128<float> vcb = (vb - vy) / 1.772f + Vector128.Create(0.5f);
                Vector128<float> vcr = (vr - vy) / 1.402f + Vector128.Create(0.5f);
                vy.CopyTo(y.Slice(i, 4));
                vcb.CopyTo(cb.Slice(i, 4));
                vcr.CopyTo(cr.Slice(i, 4));
            }
        }
        for (; i < pixels; i++)
        {
            float vr = r[i], vg = g[i], vb = b[i];
            float vy = vr * 0.299f + vg * 0.587f + vb * 0.114f;
            y[i] = vy;
            cb[i] = (vb - vy) / 1.772f + 0.5f;
            cr[i] = (vr - vy) / 1.402f + 0.5f;
        }
    }

    /// <summary>
    /// Planar Y, Cb, Cr (full-range BT.601, as <see cref="RgbToYCbCr"/> makes them) → planar R, G, B:
    /// <c>R = Y + 1.402 (Cr − ½)</c>, <c>B = Y + 1.772 (Cb − ½)</c>, <c>G = (Y − 0.299 R − 0.114 B)/0.587</c>.
    /// Not clamped (<see cref="FromPlanar"/> clamps). <paramref name="rgb"/> may be <paramref name="ycbcr"/> itself.
    /// </summary>
    /// <param name="ycbcr">3 × <paramref name="pixels"/> floats: Y, then Cb, then Cr.</param>
    /// <param name="rgb">3 × <paramref name="pixels"/> floats: the R plane, then G, then B.</param>
    /// <param name="pixels">Pixels per plane.</param>
    public static void YCbCrToRgb(ReadOnlySpan<float> ycbcr, Span<float> rgb, int pixels)
    {
        CheckThreePlanes(ycbcr.Length, rgb.Length, pixels);
        ReadOnlySpan<float> y = ycbcr[..pixels], cb = ycbcr.Slice(pixels, pixels), cr = ycbcr.Slice(2 * pixels, pixels);
        Span<float> r = rgb[..pixels], g = rgb.Slice(pixels, pixels), b = rgb.Slice(2 * pixels, pixels);
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= pixels - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                Vector128<float> vy = Vector128.Create(y.Slice(i, 4));
                Vector128<float> vcb = Vector128.Create(cb.Slice(i, 4)) - Vector128.Create(0.5f), vcr = Vector128.Create(cr.Slice(i, 4)) - Vector128.Create(0.5f);
                Vector128<float> vr = vy + vcr * 1.402f, vb = vy + vcb * 1.772f;
                Vector128<float> vg = (vy - vr * 0.299f - vb * 0.114f) / 0.587f;
                vr.CopyTo(r.Slice(i, 4));
                vg.CopyTo(g.Slice(i, 4));
                vb.CopyTo(b.Slice(i, 4));
            }
        }
        for (; i < pixels; i++)
        {
            float vy = y[i], vcb = cb[i] - 0.5f, vcr = cr[i] - 0.5f;
            float vr = vy + vcr * 1.402f, vb = vy + vcb * 1.772f;
            r[i] = vr;
            g[i] = (vy - vr * 0.299f - vb * 0.114f) / 0.587f;
            b[i] = vb;
        }
    }

    /// <summary>Byte offset of plane <paramref name="c"/> (0 = R, 1 = G, 2 = B) inside a pixel.</summary>
    private static int Offset(BbcuPixelFormat format, int c) =>
        format is BbcuPixelFormat.Bgr24 or BbcuPixelFormat.Bgra32 ? 2 - c : c;

    /// <summary>dst[i] = src[i] / 255 (a division, as the scalar form computes it).</summary>
    private static void BytesToFloats(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> d = Vector128.Create(255f);
            for (; i <= src.Length - 16; i += 16)
            {
                Vector128<byte> v = Vector128.Create(src.Slice(i, 16));
                var (lo, hi) = Vector128.Widen(v);
                var (a, b) = Vector128.Widen(lo);
                var (c, e) = Vector128.Widen(hi);
                (Vector128.ConvertToSingle(a.AsInt32()) / d).CopyTo(dst.Slice(i, 4));
                (Vector128.ConvertToSingle(b.AsInt32()) / d).CopyTo(dst.Slice(i + 4, 4));
                (Vector128.ConvertToSingle(c.AsInt32()) / d).CopyTo(dst.Slice(i + 8, 4));
                (Vector128.ConvertToSingle(e.AsInt32()) / d).CopyTo(dst.Slice(i + 12, 4));
            }
        }
        for (; i < src.Length; i++) dst[i] = src[i] / 255f;
    }

    /// <summary>dst[i] = round(clamp(NaN → 0, src[i]) · 255), half up or half to even.</summary>
    private static void FloatsToBytes(ReadOnlySpan<float> src, Span<byte> dst, bool toEven)
    {
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= src.Length - 16; i += 16)
            {
                Vector128<int> a = Quantize(Vector128.Create(src.Slice(i, 4)), toEven), b = Quantize(Vector128.Create(src.Slice(i + 4, 4)), toEven);
                Vector128<int> c = Quantize(Vector128.Create(src.Slice(i + 8, 4)), toEven), e = Quantize(Vector128.Create(src.Slice(i + 12, 4)), toEven);
                Vector128<ushort> lo = Vector128.Narrow(a.AsUInt32(), b.AsUInt32()), hi = Vector128.Narrow(c.AsUInt32(), e.AsUInt32());
                Vector128.Narrow(lo, hi).CopyTo(dst.Slice(i, 16));
            }
        }
        for (; i < src.Length; i++) dst[i] = Quantize(src[i], toEven);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Quantize(Vector128<float> x, bool toEven)
    {
        x = Vector128.ConditionalSelect(Vector128.Equals(x, x), x, Vector128<float>.Zero); // NaN → 0
        x = Vector128.Min(Vector128.Max(x, Vector128<float>.Zero), Vector128<float>.One) * 255f;
        Vector128<float> f = Vector128.Floor(x), frac = x - f;
        // frac is exact (x < 2^23); a tie (frac = ½) goes up, or to the even neighbour.
        Vector128<float> up = Vector128.GreaterThan(frac, Vector128.Create(0.5f)).AsSingle();
        Vector128<float> tie = Vector128.Equals(frac, Vector128.Create(0.5f));
        if (toEven)
        {
            Vector128<int> odd = Vector128.ConvertToInt32(f) & Vector128<int>.One;
            tie &= Vector128.Equals(odd, Vector128<int>.One).AsSingle();
        }
        Vector128<float> add = (up | tie) & Vector128<float>.One;
        return Vector128.ConvertToInt32(f + add);
    }

    private static byte Quantize(float x, bool toEven)
    {
        if (float.IsNaN(x)) x = 0f;
        x = Math.Min(Math.Max(x, 0f), 1f) * 255f;
        float f = MathF.Floor(x), frac = x - f;
        bool up = frac > 0.5f || (frac == 0.5f && (!toEven || ((int)f & 1) == 1));
        return (byte)(f + (up ? 1f : 0f));
    }

    private static int CheckImage(int length, int bpp, int width, int height, int stride, string name)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(width <= 0 ? nameof(width) : nameof(height), $"The image size must be positive; got {width}×{height}.");
        long row = (long)width * bpp;
        if (stride == 0) stride = (int)Math.Min(row, int.MaxValue);
        if (stride < row)
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"A row of {width} pixels of {bpp} byte(s) needs a stride of at least {row} bytes; got {stride}.");
        long needed = (long)stride * (height - 1) + row;
        if (length < needed)
            throw new ArgumentException($"A {width}×{height} image of {bpp} byte(s) per pixel with a stride of {stride} bytes needs {needed} bytes; the span holds {length}.", name);
        return stride;
    }

    private static void CheckPlanar(int length, int channels, int width, int height, string name)
    {
        long needed = (long)channels * width * height;
        if (length != needed)
            throw new ArgumentException($"A planar {width}×{height} image with {channels} channel(s) holds {channels} × {height} × {width} = {needed} floats; the span holds {length}.", name);
    }

    private static void CheckThreePlanes(int sourceLength, int destinationLength, int pixels)
    {
        if (pixels < 0) throw new ArgumentOutOfRangeException(nameof(pixels), pixels, "The pixel count must not be negative.");
        long needed = 3L * pixels;
        if (sourceLength != needed || destinationLength != needed)
            throw new ArgumentException($"Three planes of {pixels} pixels hold {needed} floats; the spans hold {sourceLength} and {destinationLength}.");
    }
}
