using System;
using System.Threading;

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
    public static double Ssim(Image8 a, Image8 b, CancellationToken cancellationToken = default)
    {
        CheckSameSize(a, b);
        int channels = a.Channels, width = a.Width;
        double total = 0;
        for (int c = 0; c < channels; c++)
        {
            int channel = c;
            total += Ssim(a.Width, a.Height, (r, x, y) =>
            {
                int p = r * width * channels + channel;
                for (int i = 0; i < x.Length; i++, p += channels)
                {
                    x[i] = a.Data[p];
                    y[i] = b.Data[p];
                }
            }, 255.0, cancellationToken);
        }
        return total / channels;
    }

    /// <summary>PSNR and SSIM on the Y channel with <paramref name="border"/> pixels cropped on every side (RGB images).</summary>
    public static (double Psnr, double Ssim) LumaPsnrSsim(Image8 a, Image8 b, int border, CancellationToken cancellationToken = default)
    {
        CheckSameSize(a, b);
        if (a.Channels != 3) throw new ArgumentException("Y-channel metrics need RGB images.", nameof(a));
        int w = a.Width - 2 * border, h = a.Height - 2 * border;
        if (w < 7 || h < 7) throw new ArgumentException($"A {a.Width}×{a.Height} image is too small for a {border}-pixel crop and a 7×7 SSIM window.", nameof(a));
        double sum = 0;
        double ssim = Ssim(w, h, (r, ya, yb) =>
        {
            for (int col = 0; col < w; col++)
            {
                int p = ((r + border) * a.Width + col + border) * 3;
                double va = Luma(a.Data, p), vb = Luma(b.Data, p);
                ya[col] = va;
                yb[col] = vb;
                sum += (va - vb) * (va - vb); // each row is read once, in order
            }
        }, 255.0, cancellationToken);
        return (PsnrFromMse(sum / ((double)w * h)), ssim);
    }

    /// <summary>ITU-R BT.601 Y on the 16–235 scale, unrounded (MATLAB's rgb2ycbcr).</summary>
    private static double Luma(byte[] rgb, int p) =>
        (65.481 * rgb[p] + 128.553 * rgb[p + 1] + 24.966 * rgb[p + 2]) / 255.0 + 16.0;

    private static double PsnrFromMse(double mse) =>
        mse == 0 ? double.PositiveInfinity : 10.0 * Math.Log10(255.0 * 255.0 / mse);

    /// <summary>Writes row <c>row</c> of the two images into <c>x</c> and <c>y</c>; rows are asked for once each, top to bottom.</summary>
    private delegate void RowReader(int row, Span<double> x, Span<double> y);

    /// <summary>
    /// Mean SSIM of two planes (scikit-image's defaults), streamed: rows are read once, top to bottom, and
    /// only the 7 rows of the current window are held, with per-column sums over them, so the memory is a
    /// few rows whatever the image size. On 8-bit values every window sum is an exact integer, so the
    /// result does not depend on the order of the additions.
    /// </summary>
    private static double Ssim(int width, int height, RowReader read, double dataRange, CancellationToken cancellationToken)
    {
        const int Win = 7, Pad = Win / 2;
        if (width < Win || height < Win) throw new ArgumentException($"SSIM needs images of at least {Win}×{Win}; got {width}×{height}.");
        var rowsX = new double[Win * width];
        var rowsY = new double[Win * width];
        var sx = new double[width];
        var sy = new double[width];
        var sxx = new double[width];
        var syy = new double[width];
        var sxy = new double[width];
        double n = Win * Win, covNorm = n / (n - 1);
        double c1 = (0.01 * dataRange) * (0.01 * dataRange), c2 = (0.03 * dataRange) * (0.03 * dataRange);
        double total = 0;
        for (int r = 0; r < height; r++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Span<double> x = rowsX.AsSpan(r % Win * width, width), y = rowsY.AsSpan(r % Win * width, width);
            if (r >= Win)
                for (int c = 0; c < width; c++) // the row leaving the window
                {
                    sx[c] -= x[c]; sy[c] -= y[c]; sxx[c] -= x[c] * x[c]; syy[c] -= y[c] * y[c]; sxy[c] -= x[c] * y[c];
                }
            read(r, x, y);
            for (int c = 0; c < width; c++)
            {
                sx[c] += x[c]; sy[c] += y[c]; sxx[c] += x[c] * x[c]; syy[c] += y[c] * y[c]; sxy[c] += x[c] * y[c];
            }
            if (r < Win - 1) continue;
            // The windows centred on row r - Pad.
            for (int c = Pad; c < width - Pad; c++)
            {
                double bx = 0, by = 0, bxx = 0, byy = 0, bxy = 0;
                for (int k = c - Pad; k <= c + Pad; k++)
                {
                    bx += sx[k]; by += sy[k]; bxx += sxx[k]; byy += syy[k]; bxy += sxy[k];
                }
                double ux = bx / n, uy = by / n;
                double vx = covNorm * (bxx / n - ux * ux), vy = covNorm * (byy / n - uy * uy), vxy = covNorm * (bxy / n - ux * uy);
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
