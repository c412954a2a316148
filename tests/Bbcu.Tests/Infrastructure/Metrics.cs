using System;

namespace Bbcu.Tests.Infrastructure;

public static class Metrics
{
    /// <summary>The largest |a − b|; +∞ when either span holds a NaN or ±∞ anywhere, so no bound passes it.</summary>
    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"length {a.Length} vs {b.Length}");
        double m = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (!float.IsFinite(a[i]) || !float.IsFinite(b[i])) return double.PositiveInfinity;
            m = Math.Max(m, Math.Abs((double)a[i] - b[i]));
        }
        return m;
    }

    /// <summary>PSNR in dB for images on a 0..1 scale (peak 1); +∞ when identical.</summary>
    public static double Psnr(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"length {a.Length} vs {b.Length}");
        double mse = 0;
        for (int i = 0; i < a.Length; i++) { double d = (double)a[i] - b[i]; mse += d * d; }
        mse /= a.Length;
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(1 / mse);
    }
}
