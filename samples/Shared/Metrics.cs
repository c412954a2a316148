using System;

namespace Bbcu.Samples;

/// <summary>
/// Image-quality metrics as tools/train_bbcu.py computes them: PSNR on 8-bit values, and SSIM as
/// scikit-image's <c>structural_similarity</c> (7×7 uniform window, sample covariance, K1 = 0.01,
/// K2 = 0.03, mean over the pixels whose window lies inside the image, channels averaged).
/// Super-resolution uses the field's convention: Y channel (BT.601, 16–235) with <c>scale</c> border
/// pixels cropped.
/// </summary>
public static class Metrics
{
    /// <summary>PSNR in dB between two 8-bit images of the same size (peak 255).</summary>
    public static double Psnr(Image8 a, Image8 b)
    {
        CheckSameSize(a, b);
        double sum = 0;
        for (int i = 0; i < a.Data.Length; i++)
        {
            double d = a.Data[i] - b.Data[i];
            sum += d * d;
        }
        return PsnrFromMse(sum / a.Data.Length);
    }

    /// <summary>SSIM of two 8-bit images (each channel on its own, then averaged).</summary>
    public static double Ssim(Image8 a, Image8 b)
    {
        CheckSameSize(a, b);
        int plane = a.Width * a.Height;
        double total = 0;
        var x = new double[plane];
        var y = new double[plane];
        for (int c = 0; c < a.Channels; c++)
        {
            for (int p = 0; p < plane; p++)
            {
                x[p] = a.Data[p * a.Channels + c];
                y[p] = b.Data[p * b.Channels + c];
            }
            total += Ssim(x, y, a.Width, a.Height, 255.0);
        }
        return total / a.Channels;
    }

    /// <summary>PSNR and SSIM on the Y channel with <paramref name="border"/> pixels cropped on every side (RGB images).</summary>
    public static (double Psnr, double Ssim) LumaPsnrSsim(Image8 a, Image8 b, int border)
    {
        CheckSameSize(a, b);
        if (a.Channels != 3) throw new ArgumentException("Y-channel metrics need RGB images.", nameof(a));
        int w = a.Width - 2 * border, h = a.Height - 2 * border;
        if (w < 7 || h < 7) throw new ArgumentException($"A {a.Width}×{a.Height} image is too small for a {border}-pixel crop and a 7×7 SSIM window.", nameof(a));
        var ya = new double[w * h];
        var yb = new double[w * h];
        double sum = 0;
        for (int r = 0; r < h; r++)
        {
            for (int col = 0; col < w; col++)
            {
                int p = ((r + border) * a.Width + col + border) * 3;
                double va = Luma(a.Data, p), vb = Luma(b.Data, p);
                ya[r * w + col] = va;
                yb[r * w + col] = vb;
                sum += (va - vb) * (va - vb);
            }
        }
        return (PsnrFromMse(sum / (w * h)), Ssim(ya, yb, w, h, 255.0));
    }

    /// <summary>ITU-R BT.601 Y on the 16–235 scale, unrounded (MATLAB's rgb2ycbcr).</summary>
    private static double Luma(byte[] rgb, int p) =>
        (65.481 * rgb[p] + 128.553 * rgb[p + 1] + 24.966 * rgb[p + 2]) / 255.0 + 16.0;

    private static double PsnrFromMse(double mse) =>
        mse == 0 ? double.PositiveInfinity : 10.0 * Math.Log10(255.0 * 255.0 / mse);

    /// <summary>Mean SSIM of two planes (scikit-image's defaults; summed-area tables for the 7×7 means).</summary>
    private static double Ssim(double[] x, double[] y, int width, int height, double dataRange)
    {
        const int Win = 7, Pad = Win / 2;
        if (width < Win || height < Win) throw new ArgumentException($"SSIM needs images of at least {Win}×{Win}; got {width}×{height}.");
        int sw = width + 1;
        var sx = new double[sw * (height + 1)];
        var sy = new double[sx.Length];
        var sxx = new double[sx.Length];
        var syy = new double[sx.Length];
        var sxy = new double[sx.Length];
        for (int r = 0; r < height; r++)
        {
            for (int c = 0; c < width; c++)
            {
                double vx = x[r * width + c], vy = y[r * width + c];
                int i = (r + 1) * sw + c + 1, up = r * sw + c + 1, left = (r + 1) * sw + c, diag = r * sw + c;
                sx[i] = vx + sx[up] + sx[left] - sx[diag];
                sy[i] = vy + sy[up] + sy[left] - sy[diag];
                sxx[i] = vx * vx + sxx[up] + sxx[left] - sxx[diag];
                syy[i] = vy * vy + syy[up] + syy[left] - syy[diag];
                sxy[i] = vx * vy + sxy[up] + sxy[left] - sxy[diag];
            }
        }
        double n = Win * Win, covNorm = n / (n - 1);
        double c1 = (0.01 * dataRange) * (0.01 * dataRange), c2 = (0.03 * dataRange) * (0.03 * dataRange);
        double total = 0;
        for (int r = Pad; r < height - Pad; r++)
        {
            for (int c = Pad; c < width - Pad; c++)
            {
                int r0 = r - Pad, c0 = c - Pad, r1 = r + Pad + 1, c1i = c + Pad + 1;
                double Box(double[] s) => (s[r1 * sw + c1i] - s[r0 * sw + c1i] - s[r1 * sw + c0] + s[r0 * sw + c0]) / n;
                double ux = Box(sx), uy = Box(sy);
                double vx = covNorm * (Box(sxx) - ux * ux), vy = covNorm * (Box(syy) - uy * uy), vxy = covNorm * (Box(sxy) - ux * uy);
                total += (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            }
        }
        return total / ((double)(width - 2 * Pad) * (height - 2 * Pad));
    }

    private static void CheckSameSize(Image8 a, Image8 b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels)
            throw new ArgumentException($"Images differ in size: {a.Width}×{a.Height}×{a.Channels} vs {b.Width}×{b.Height}×{b.Channels}.");
    }
}
