using System;
using System.Linq;
using Bbcu.Tests.Infrastructure;
using Xunit;

namespace Bbcu.Tests;

/// <summary>The runtime's pixel helpers against plain scalar formulas written here.</summary>
public sealed class PixelTests
{
    private static readonly BbcuPixelFormat[] Formats = Enum.GetValues<BbcuPixelFormat>();

    /// <summary>Which byte of a pixel holds plane c (R, G, B), written out per format.</summary>
    private static int ByteOf(BbcuPixelFormat f, int c) => f switch
    {
        BbcuPixelFormat.Gray8 => 0,
        BbcuPixelFormat.Rgb24 or BbcuPixelFormat.Rgba32 => c,
        _ => 2 - c,
    };

    private static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Theory]
    [InlineData(1, 1, 0)]
    [InlineData(17, 3, 0)]
    [InlineData(300, 2, 0)]   // rows longer than one deinterleaving chunk
    [InlineData(33, 5, 7)]    // padded rows
    public void ToPlanarDividesEveryByteBy255InPlaneOrder(int width, int height, int padding)
    {
        foreach (BbcuPixelFormat f in Formats)
        {
            int bpp = BbcuPixels.BytesPerPixel(f), ch = BbcuPixels.Channels(f), stride = width * bpp + padding;
            byte[] pixels = RandomBytes(stride * height, width + height + (int)f);
            var planar = new float[ch * width * height];
            BbcuPixels.ToPlanar(pixels, f, width, height, planar, padding == 0 ? 0 : stride);
            for (int c = 0; c < ch; c++)
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                    {
                        float expected = pixels[y * stride + x * bpp + ByteOf(f, c)] / 255f;
                        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(planar[(c * height + y) * width + x]),
                            $"{f} c{c} ({x},{y}): {planar[(c * height + y) * width + x]} vs {expected}");
                    }
        }
    }

    [Fact]
    public void EveryByteSurvivesTheRoundTripInEveryFormat()
    {
        foreach (BbcuPixelFormat f in Formats)
        {
            int bpp = BbcuPixels.BytesPerPixel(f), w = 257, h = 3;
            byte[] pixels = RandomBytes(w * h * bpp, (int)f);
            for (int i = 0; i < 256; i++) pixels[i * bpp % pixels.Length] = (byte)i;
            if (bpp == 4) for (int p = 0; p < w * h; p++) pixels[p * 4 + 3] = 255;
            var planar = new float[BbcuPixels.Channels(f) * w * h];
            BbcuPixels.ToPlanar(pixels, f, w, h, planar);
            var back = new byte[pixels.Length];
            BbcuPixels.FromPlanar(planar, w, h, back, f);
            Assert.Equal(pixels, back);
        }
    }

    /// <summary>Floats whose ·255 is exactly k + ½ in float32, and their neighbours.</summary>
    private static float[] Ties()
    {
        var ties = Enumerable.Range(0, 255).Select(k => (k + 0.5f) / 255f)
            .SelectMany(x => new[] { BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) - 1), x, BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) + 1) })
            .ToArray();
        Assert.Contains(ties, t => (t * 255f) % 1f == 0.5f); // the test holds real ties
        return ties;
    }

    [Theory]
    [InlineData(MidpointRounding.AwayFromZero)]
    [InlineData(MidpointRounding.ToEven)]
    public void FromPlanarClampsAndRoundsAsTheScalarFormula(MidpointRounding rounding)
    {
        float[] special = { float.NaN, float.NegativeInfinity, float.PositiveInfinity, -0f, 0f, -1e-30f, 1e-30f, 1f, 1.0000001f, 0.999999f, -5f, 7f };
        var rng = new Random(3);
        float[] values = special.Concat(Ties()).Concat(Enumerable.Range(0, 1000).Select(_ => (float)(rng.NextDouble() * 1.4 - 0.2))).ToArray();
        var bytes = new byte[values.Length];
        BbcuPixels.FromPlanar(values, values.Length, 1, bytes, BbcuPixelFormat.Gray8, rounding: rounding);
        for (int i = 0; i < values.Length; i++)
        {
            float x = float.IsNaN(values[i]) ? 0f : Math.Clamp(values[i], 0f, 1f) * 255f;
            int expected = (int)Math.Round(x, rounding); // float → double is exact, so this is the exact rounding of x
            Assert.True(expected == bytes[i], $"{values[i]:R} ({rounding}): {bytes[i]}, expected {expected}");
        }
    }

    [Fact]
    public void FromPlanarWritesOpaqueAlphaAndLeavesRowPaddingAlone()
    {
        const int w = 5, h = 2, stride = 5 * 4 + 3;
        var planar = Enumerable.Range(0, 3 * w * h).Select(i => i / 40f).ToArray();
        var pixels = Enumerable.Repeat((byte)0xAB, stride * h).ToArray();
        BbcuPixels.FromPlanar(planar, w, h, pixels, BbcuPixelFormat.Bgra32, stride);
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                Assert.Equal(255, pixels[y * stride + x * 4 + 3]);
                Assert.Equal((byte)Math.Round(planar[(2 * h + y) * w + x] * 255f, MidpointRounding.AwayFromZero), pixels[y * stride + x * 4]); // B first
            }
            for (int p = w * 4; p < stride && y < h - 1; p++) Assert.Equal(0xAB, pixels[y * stride + p]);
        }
    }

    [Fact]
    public void YCbCrIsFullRangeBt601AndRoundTrips()
    {
        const int n = 1001;
        var rng = new Random(9);
        float[] rgb = Enumerable.Range(0, 3 * n).Select(_ => (float)rng.NextDouble()).ToArray();
        var ycc = new float[3 * n];
        BbcuPixels.RgbToYCbCr(rgb, ycc, n);
        for (int i = 0; i < n; i++)
        {
            double r = rgb[i], g = rgb[n + i], b = rgb[2 * n + i];
            double y = 0.299 * r + 0.587 * g + 0.114 * b;
            Assert.True(Math.Abs(ycc[i] - y) < 1e-6, $"Y {ycc[i]} vs {y}");
            Assert.True(Math.Abs(ycc[n + i] - (0.5 + (b - y) / 1.772)) < 1e-6);
            Assert.True(Math.Abs(ycc[2 * n + i] - (0.5 + (r - y) / 1.402)) < 1e-6);
        }
        var back = new float[3 * n];
        BbcuPixels.YCbCrToRgb(ycc, back, n);
        Assert.True(FloatAssert.Close(back, rgb, 2e-6, "RGB → YCbCr → RGB").MaxAbsDiff <= 2e-6);
        // In place gives the same bits as separate buffers.
        float[] inPlace = (float[])rgb.Clone();
        BbcuPixels.RgbToYCbCr(inPlace, inPlace, n);
        FloatAssert.SameBits(ycc, inPlace, "RgbToYCbCr in place");
        BbcuPixels.YCbCrToRgb(inPlace, inPlace, n);
        FloatAssert.SameBits(back, inPlace, "YCbCrToRgb in place");
    }

    /// <summary>Grey pixels have Cb = Cr = ½ and Y equal to the grey, so a luma model sees what it was trained on.</summary>
    [Fact]
    public void GreyPixelsHaveNeutralChroma()
    {
        float[] rgb = { 0.25f, 0.25f, 0.25f };
        var ycc = new float[3];
        BbcuPixels.RgbToYCbCr(rgb, ycc, 1);
        Assert.Equal(0.25f, ycc[0], 6);
        Assert.Equal(0.5f, ycc[1], 6);
        Assert.Equal(0.5f, ycc[2], 6);
    }

    [Fact]
    public void TheHelpersAllocateNothing()
    {
        const int w = 640, h = 4;
        byte[] pixels = RandomBytes(w * h * 4, 1);
        var planar = new float[3 * w * h];
        void Once()
        {
            BbcuPixels.ToPlanar(pixels, BbcuPixelFormat.Rgba32, w, h, planar);
            BbcuPixels.RgbToYCbCr(planar, planar, w * h);
            BbcuPixels.YCbCrToRgb(planar, planar, w * h);
            BbcuPixels.FromPlanar(planar, w, h, pixels, BbcuPixelFormat.Rgba32);
        }
        for (int i = 0; i < 40; i++) Once();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Once();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void MisuseSaysWhatWasWrong()
    {
        var planar = new float[3 * 4 * 2];
        var e = Assert.Throws<ArgumentException>(() => BbcuPixels.ToPlanar(new byte[4 * 2 * 3 - 1], BbcuPixelFormat.Rgb24, 4, 2, planar));
        Assert.Contains("needs 24 bytes; the span holds 23", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => BbcuPixels.ToPlanar(new byte[24], BbcuPixelFormat.Rgb24, 4, 2, new float[8]));
        Assert.Contains("3 × 2 × 4 = 24 floats; the span holds 8", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => BbcuPixels.ToPlanar(new byte[24], BbcuPixelFormat.Rgb24, 4, 2, planar, stride: 11));
        Assert.Throws<ArgumentOutOfRangeException>(() => BbcuPixels.FromPlanar(planar, 0, 2, new byte[24], BbcuPixelFormat.Rgb24));
        Assert.Throws<ArgumentOutOfRangeException>(() => BbcuPixels.FromPlanar(planar, 4, 2, new byte[24], BbcuPixelFormat.Rgb24, rounding: MidpointRounding.ToZero));
        e = Assert.Throws<ArgumentException>(() => BbcuPixels.RgbToYCbCr(new float[9], new float[6], 3));
        Assert.Contains("9 floats; the spans hold 9 and 6", e.Message, StringComparison.Ordinal);
    }
}
