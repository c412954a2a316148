using System;
using System.Collections.Generic;

namespace Bbcu.Samples;

/// <summary>
/// The degradations the demo models were trained to undo, made exactly as tools/train_bbcu.py makes
/// them for evaluation: Gaussian noise from the same counter-based generator, JPEG, and MATLAB-style
/// bicubic resizing.
/// </summary>
public static class Degradations
{
    /// <summary>
    /// x[i] += std · N(0,1) in float64, stored as float32, no clipping (as the authors' test does).
    /// Same generator as tools/train_bbcu.py (<c>gaussian_noise</c>): SplitMix64 outputs 2j and 2j+1 give
    /// u1 = ((a » 11) + 1)·2⁻⁵³ ∈ (0, 1] and u2 = (b » 11)·2⁻⁵³; Box–Muller gives values 2j, 2j+1.
    /// </summary>
    public static void AddGaussianNoise(Span<float> x, double std, ulong seed)
    {
        ulong counter = 0;
        for (int i = 0; i < x.Length; i += 2)
        {
            ulong a = SplitMix64(seed, ++counter), b = SplitMix64(seed, ++counter);
            double u1 = ((a >> 11) + 1) * (1.0 / (1UL << 53));
            double u2 = (b >> 11) * (1.0 / (1UL << 53));
            double radius = Math.Sqrt(-2.0 * Math.Log(u1));
            double angle = 2.0 * Math.PI * u2;
            x[i] = (float)(x[i] + radius * Math.Cos(angle) * std);
            if (i + 1 < x.Length) x[i + 1] = (float)(x[i + 1] + radius * Math.Sin(angle) * std);
        }
    }

    /// <summary>Output number <paramref name="n"/> (1-based) of SplitMix64 started at <paramref name="seed"/>.</summary>
    private static ulong SplitMix64(ulong seed, ulong n)
    {
        unchecked
        {
            ulong z = seed + n * 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>
    /// MATLAB's <c>imresize(img, [h w], 'bicubic')</c> on an 8-bit image: the cubic kernel with a = −½,
    /// widened by 1/scale when shrinking (antialiasing), symmetric edge padding, rows first, then columns,
    /// in double precision, rounded half up to 8 bits. tools/train_bbcu.py's <c>imresize_u8</c> is the same.
    /// </summary>
    public static Image8 ResizeBicubic(Image8 image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"Target size must be positive; got {width}×{height}.");
        var rows = Weights(image.Height, height);
        var cols = Weights(image.Width, width);
        int ch = image.Channels;
        // Vertical pass: height × image.Width × ch doubles.
        var mid = new double[height * image.Width * ch];
        for (int o = 0; o < height; o++)
        {
            foreach (var (src, w) in rows[o])
            {
                int srcRow = src * image.Width * ch, dstRow = o * image.Width * ch;
                for (int i = 0; i < image.Width * ch; i++) mid[dstRow + i] += w * image.Data[srcRow + i];
            }
        }
        var data = new byte[width * height * ch];
        for (int r = 0; r < height; r++)
        {
            for (int o = 0; o < width; o++)
            {
                for (int c = 0; c < ch; c++)
                {
                    double sum = 0;
                    foreach (var (src, w) in cols[o]) sum += w * mid[(r * image.Width + src) * ch + c];
                    data[(r * width + o) * ch + c] = (byte)Math.Clamp(Math.Floor(sum + 0.5), 0, 255);
                }
            }
        }
        return new Image8(data, width, height, ch);
    }

    /// <summary>For each output index, the source indices and weights of MATLAB's bicubic along one axis.</summary>
    private static List<(int Source, double Weight)>[] Weights(int inLength, int outLength)
    {
        double scale = (double)outLength / inLength;
        double kernelWidth = scale < 1 ? 4.0 / scale : 4.0;
        int taps = (int)Math.Ceiling(kernelWidth) + 2;
        var result = new List<(int, double)>[outLength];
        var w = new double[taps];
        for (int o = 0; o < outLength; o++)
        {
            double u = (o + 1) / scale + 0.5 * (1 - 1 / scale);
            double left = Math.Floor(u - kernelWidth / 2);
            double sum = 0;
            for (int t = 0; t < taps; t++)
            {
                double d = u - (left + t);
                w[t] = scale < 1 ? scale * Cubic(d * scale) : Cubic(d);
                sum += w[t];
            }
            var list = new List<(int, double)>(taps);
            for (int t = 0; t < taps; t++)
            {
                int i = (int)(left + t) - 1;                 // 0-based
                if (i < 0) i = -i - 1;                       // symmetric padding
                if (i >= inLength) i = 2 * inLength - i - 1;
                double weight = w[t] / sum;
                int at = list.FindIndex(e => e.Item1 == i);
                if (at >= 0) list[at] = (i, list[at].Item2 + weight);
                else list.Add((i, weight));
            }
            result[o] = list;
        }
        return result;
    }

    private static double Cubic(double x)
    {
        double a = Math.Abs(x), a2 = a * a, a3 = a2 * a;
        if (a <= 1) return 1.5 * a3 - 2.5 * a2 + 1;
        if (a <= 2) return -0.5 * a3 + 2.5 * a2 - 4 * a + 2;
        return 0;
    }
}
