using System;
using System.ComponentModel;

namespace Bbcu;

/// <summary>Copies between a whole image and a tile (generated code only).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class BbcuTiling
{
    /// <summary>The core tile size a workspace of <paramref name="workspaceWidth"/> × <paramref name="workspaceHeight"/> allows with a halo.</summary>
    public static (int Width, int Height) Core(string model, int workspaceWidth, int workspaceHeight, int halo, int width, int height)
    {
        int cw = workspaceWidth - 2 * halo, ch = workspaceHeight - 2 * halo;
        if (cw < 1 || ch < 1)
            throw new ArgumentException(
                $"{model}: a {width}×{height} image needs more than the workspace's {workspaceWidth}×{workspaceHeight} pixels, and tiles of that size " +
                $"cannot hold the model's halo of {halo} pixels on each side; create the workspace for at least {2 * halo + 1}×{2 * halo + 1} " +
                $"(better {2 * halo + 128}×{2 * halo + 128}) or for {width}×{height}.", "workspace");
        return (cw, ch);
    }

    /// <summary>Copies the <paramref name="tileWidth"/> × <paramref name="tileHeight"/> region at (x0, y0) of a planar image into a tile.</summary>
    public static void CopyIn(ReadOnlySpan<float> image, int width, int height, int channels, int x0, int y0, int tileWidth, int tileHeight, Span<float> tile)
    {
        CheckRegion(nameof(CopyIn), width, height, channels, x0, y0, tileWidth, tileHeight);
        long plane = (long)width * height;
        BbcuGuard.Length(nameof(CopyIn), nameof(image), image.Length, channels * plane);
        BbcuGuard.Length(nameof(CopyIn), nameof(tile), tile.Length, (long)channels * tileWidth * tileHeight);
        for (int c = 0; c < channels; c++)
            for (int r = 0; r < tileHeight; r++)
                image.Slice((int)(c * plane + (long)(y0 + r) * width + x0), tileWidth)
                    .CopyTo(tile.Slice((c * tileHeight + r) * tileWidth, tileWidth));
    }

    /// <summary>
    /// Copies the core of a tile's output (all sizes at the output's resolution) into the whole output:
    /// the <paramref name="coreWidth"/> × <paramref name="coreHeight"/> block at (<paramref name="cx"/>, <paramref name="cy"/>) of the tile goes to
    /// (<paramref name="ox"/>, <paramref name="oy"/>).
    /// </summary>
    public static void CopyOut(ReadOnlySpan<float> tile, int tileWidth, int tileHeight, int channels, int cx, int cy, int coreWidth, int coreHeight,
        Span<float> output, int outWidth, int outHeight, int ox, int oy)
    {
        CheckRegion(nameof(CopyOut), tileWidth, tileHeight, channels, cx, cy, coreWidth, coreHeight);
        CheckRegion(nameof(CopyOut), outWidth, outHeight, channels, ox, oy, coreWidth, coreHeight);
        long plane = (long)outWidth * outHeight;
        BbcuGuard.Length(nameof(CopyOut), nameof(tile), tile.Length, (long)channels * tileWidth * tileHeight);
        BbcuGuard.Length(nameof(CopyOut), nameof(output), output.Length, channels * plane);
        for (int c = 0; c < channels; c++)
            for (int r = 0; r < coreHeight; r++)
                tile.Slice((c * tileHeight + cy + r) * tileWidth + cx, coreWidth)
                    .CopyTo(output.Slice((int)(c * plane + (long)(oy + r) * outWidth + ox), coreWidth));
    }

    private static void CheckRegion(string kernel, int width, int height, int channels, int x, int y, int w, int h)
    {
        BbcuGuard.Sizes(kernel, false, (nameof(width), width), (nameof(height), height), (nameof(channels), channels), ("region width", w), ("region height", h));
        BbcuGuard.Sizes(kernel, true, ("region x", x), ("region y", y));
        if ((long)x + w > width || (long)y + h > height)
            throw new ArgumentException($"{kernel}: the {w}×{h} region at ({x}, {y}) is outside the {width}×{height} map.");
    }
}
