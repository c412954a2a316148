using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using Bbcu;
using StbImageSharp;
using StbImageWriteSharp;

namespace Bbcu.Samples.Denoise;

/// <summary>
/// The DnCNN-BBCU colour denoiser (σ = 25), compiled at build time from
/// samples/models/denoise_dncnn_bbcu_s25.json + .safetensors (see docs/models.md).
/// </summary>
[BbcuModel("denoise_dncnn_bbcu_s25.json", "denoise_dncnn_bbcu_s25.safetensors")]
public static partial class Denoiser { }

/// <summary>Command-line sample: optionally adds Gaussian noise to a PNG, denoises it, reports PSNR.</summary>
public static class Program
{
    private const string Usage =
        "usage: Denoise --input IMAGE [--output OUT.png] [--add-noise SIGMA] [--seed N] [--save-noisy PATH] [--runs N]\n" +
        "  --input IMAGE      an image StbImageSharp reads (PNG, JPEG, BMP, ...), used as RGB\n" +
        "  --output OUT.png   where to write the restored image (default: none)\n" +
        "  --add-noise SIGMA  add Gaussian noise of std SIGMA/255 (not clipped) before denoising;\n" +
        "                     without it the input is taken as already noisy\n" +
        "  --seed N           noise seed (default 1); the noise matches tools/train_bbcu.py's evaluation\n" +
        "  --save-noisy PATH  also write the noisy input (clamped, 8-bit) as PNG\n" +
        "  --runs N           run the model N times and report the fastest (default 1)";

    /// <summary>Entry point; returns 0 on success, 2 on a usage error.</summary>
    public static int Main(string[] args)
    {
        string? input = null, output = null, saveNoisy = null;
        double? sigma = null;
        ulong seed = 1;
        int runs = 1;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--input": input = Value(); break;
                    case "--output": output = Value(); break;
                    case "--save-noisy": saveNoisy = Value(); break;
                    case "--add-noise": sigma = double.Parse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture); break;
                    case "--seed": seed = ulong.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture); break;
                    case "--runs": runs = int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture); break;
                    case "-h":
                    case "--help": Console.WriteLine(Usage); return 0;
                    default: throw new ArgumentException($"unknown argument '{args[i]}'");
                }
            }
            if (input is null) throw new ArgumentException("--input is required");
            if (sigma is double s && (!double.IsFinite(s) || s < 0)) throw new ArgumentException("--add-noise must be a number >= 0");
            if (runs < 1) throw new ArgumentException("--runs must be >= 1");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Usage);
            return 2;
        }

        ImageResult image;
        using (FileStream fs = File.OpenRead(input))
        {
            image = ImageResult.FromStream(fs, StbImageSharp.ColorComponents.RedGreenBlue);
        }
        int width = image.Width, height = image.Height, plane = width * height;
        float[] clean = ToPlanar(image.Data, width, height);

        float[] noisy = clean;
        if (sigma is double sd)
        {
            noisy = (float[])clean.Clone();
            AddGaussianNoise(noisy, sd / 255.0, seed);
        }

        float[] restored = new float[Denoiser.OutputChannels * plane];
        BbcuWorkspace workspace = Denoiser.CreateWorkspace(width, height);
        double best = double.MaxValue;
        for (int r = 0; r < runs; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Denoiser.Run(noisy, width, height, restored, workspace);
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }

        byte[] cleanU8 = image.Data;
        byte[] noisyU8 = ToInterleavedU8(noisy, width, height);
        byte[] restoredU8 = ToInterleavedU8(restored, width, height);
        string reference = sigma is null ? "input" : "clean";
        Console.WriteLine($"image      {Path.GetFileName(input)} {width}x{height}, model {Denoiser.ModelName} ({Denoiser.LayerCount} layers)");
        if (sigma is double sg)
        {
            Console.WriteLine(FormattableString.Invariant($"noise      sigma {sg:0.###}/255, seed {seed} (Gaussian, not clipped)"));
            Console.WriteLine(FormattableString.Invariant($"PSNR noisy    vs clean: {Psnr(noisyU8, cleanU8):0.00} dB"));
        }
        Console.WriteLine(FormattableString.Invariant($"PSNR restored vs {reference}: {Psnr(restoredU8, cleanU8):0.00} dB   (8-bit values: clamp to [0,1], round x*255)"));
        Console.WriteLine(FormattableString.Invariant($"time       {best:0.0} ms per run ({(runs > 1 ? $"fastest of {runs}" : "one run, includes JIT")}; workspace {workspace.Bytes / (1024.0 * 1024.0):0.0} MiB)"));

        if (output is not null) WritePng(output, restoredU8, width, height);
        if (saveNoisy is not null) WritePng(saveNoisy, noisyU8, width, height);
        return 0;
    }

    /// <summary>Interleaved RGB bytes → planar CHW floats in [0, 1].</summary>
    private static float[] ToPlanar(byte[] rgb, int width, int height)
    {
        int plane = width * height;
        var chw = new float[3 * plane];
        for (int p = 0; p < plane; p++)
        {
            for (int c = 0; c < 3; c++) chw[c * plane + p] = rgb[3 * p + c] / 255f;
        }
        return chw;
    }

    /// <summary>Planar CHW floats → interleaved RGB bytes: clamp to [0, 1], round(x·255).</summary>
    private static byte[] ToInterleavedU8(float[] chw, int width, int height)
    {
        int plane = width * height;
        var rgb = new byte[3 * plane];
        for (int p = 0; p < plane; p++)
        {
            for (int c = 0; c < 3; c++)
            {
                float v = Math.Clamp(chw[c * plane + p], 0f, 1f) * 255f;
                rgb[3 * p + c] = (byte)MathF.Round(v, MidpointRounding.ToEven);
            }
        }
        return rgb;
    }

    /// <summary>
    /// x[i] += std · N(0,1) in float64, stored as float32, no clipping (as the authors' test does).
    /// Same generator as tools/train_bbcu.py (gaussian_noise): SplitMix64 outputs 2j and 2j+1 give
    /// u1 = ((a » 11) + 1)·2⁻⁵³ ∈ (0, 1] and u2 = (b » 11)·2⁻⁵³; Box–Muller gives values 2j, 2j+1.
    /// </summary>
    private static void AddGaussianNoise(float[] x, double std, ulong seed)
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

    /// <summary>PSNR in dB between two 8-bit images of the same size (peak 255).</summary>
    private static double Psnr(byte[] a, byte[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = a[i] - b[i];
            sum += d * d;
        }
        double mse = sum / a.Length;
        return mse == 0 ? double.PositiveInfinity : 10.0 * Math.Log10(255.0 * 255.0 / mse);
    }

    private static void WritePng(string path, byte[] rgb, int width, int height)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        using FileStream fs = File.Create(path);
        new ImageWriter().WritePng(rgb, width, height, StbImageWriteSharp.ColorComponents.RedGreenBlue, fs);
        Console.WriteLine($"wrote      {path}");
    }
}
