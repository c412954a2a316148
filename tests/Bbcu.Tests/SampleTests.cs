using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using Bbcu.Samples;
using Bbcu.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// The sample apps against PyTorch: the committed models' evaluation on the held-out photo
/// (<c>samples/models/*.eval.json</c>, written by <c>tools/train_bbcu.py --eval-only</c> from the same
/// weights) must be reproduced by the C# samples: the same degraded input, the same PSNR within
/// 0.01 dB, the same SSIM within 0.001 (scikit-image's definition, reimplemented in C#).
/// </summary>
[Collection(ConsumerBuildTests.Collection)] // swaps Console.Error; runs alone
public sealed class SampleTests
{
    private readonly ITestOutputHelper _out;

    public SampleTests(ITestOutputHelper output) => _out = output;

    private static JsonElement Eval(string model) =>
        JsonDocument.Parse(File.ReadAllText(Repo.Path("samples", "models", model + ".eval.json"))).RootElement;

    private RestoreReport Run(CompiledModel model, RestorationTask task, RestoreSettings settings)
    {
        var log = new StringWriter();
        RestoreReport report = RestoreApp.Execute(model, task, settings, log);
        _out.WriteLine(log.ToString());
        return report;
    }

    [Fact]
    public void DenoiseSampleMatchesPyTorchOnTheHeldOutPhoto()
    {
        JsonElement eval = Eval("denoise_dncnn_bbcu_s25");
        Assert.Equal(25.0, eval.GetProperty("sigma").GetDouble());
        RestoreReport r = Run(Bbcu.Samples.Denoise.Program.Model, RestorationTask.Denoise, new RestoreSettings
        {
            Input = Repo.Path("samples", "images", "astronaut.png"),
            NoiseSigma = 25,
            Seed = (ulong)eval.GetProperty("noise_seed").GetInt32(),
            Threads = 2,
        });
        double pyNoisy = eval.GetProperty("noisy").GetProperty("psnr_u8").GetDouble();
        double pyOut = eval.GetProperty("output").GetProperty("psnr_u8").GetDouble();
        _out.WriteLine($"PSNR noisy C# {r.BaselinePsnr:F4} / PyTorch {pyNoisy:F4}; restored C# {r.RestoredPsnr:F4} / PyTorch {pyOut:F4}");
        // The noisy images are identical (same generator, same rounding), so their PSNRs agree to rounding.
        Assert.Equal(pyNoisy, r.BaselinePsnr!.Value, 9);
        Assert.True(Math.Abs(r.RestoredPsnr!.Value - pyOut) <= 0.01, $"restored PSNR {r.RestoredPsnr:F4} dB vs PyTorch {pyOut:F4} dB");
        Assert.True(r.RestoredPsnr - r.BaselinePsnr > 5, "the denoiser should gain several dB");
        Assert.True(Math.Abs(r.BaselineSsim!.Value - eval.GetProperty("noisy").GetProperty("ssim_u8").GetDouble()) <= 1e-6);
        Assert.True(Math.Abs(r.RestoredSsim!.Value - eval.GetProperty("output").GetProperty("ssim_u8").GetDouble()) <= 1e-3);
    }

    [Theory]
    [InlineData(0, "sr_bbcum_x2", 2)]
    [InlineData(1, "sr_bbcum_x4", 4)]
    public void SuperResolveSampleMatchesPyTorchOnTheHeldOutPhoto(int index, string name, int scale)
    {
        JsonElement eval = Eval(name);
        CompiledModel model = Bbcu.Samples.SuperResolve.Program.Models[index];
        Assert.Equal(scale, model.Scale);
        RestoreReport r = Run(model, RestorationTask.SuperResolve, new RestoreSettings
        {
            Input = Repo.Path("samples", "images", "astronaut.png"),
            Downscale = scale,
            Tile = 48, // tiled, on purpose: the result must not depend on it
            Threads = 2,
        });
        double pyBicubic = eval.GetProperty("bicubic").GetProperty("psnr_y").GetDouble();
        double pyOut = eval.GetProperty("output").GetProperty("psnr_y").GetDouble();
        _out.WriteLine($"Y-PSNR bicubic C# {r.BaselinePsnr:F4} / PyTorch {pyBicubic:F4}; restored C# {r.RestoredPsnr:F4} / PyTorch {pyOut:F4}");
        // Our MATLAB-style bicubic (downscale, then the bicubic baseline) is numpy's, up to rare ties in rounding.
        Assert.True(Math.Abs(r.BaselinePsnr!.Value - pyBicubic) <= 0.01, $"bicubic Y-PSNR {r.BaselinePsnr:F4} vs {pyBicubic:F4}");
        Assert.True(Math.Abs(r.RestoredPsnr!.Value - pyOut) <= 0.01, $"restored Y-PSNR {r.RestoredPsnr:F4} vs {pyOut:F4}");
        Assert.True(Math.Abs(r.RestoredSsim!.Value - eval.GetProperty("output").GetProperty("ssim_y").GetDouble()) <= 1e-3);
        Assert.True(r.RestoredPsnr > r.BaselinePsnr, "the network should beat bicubic");
    }

    /// <summary>
    /// Deblocking: the C# sample compresses with stb_image_write's JPEG encoder, PyTorch's evaluation with
    /// Pillow's (libjpeg); at quality 20 the two grey JPEGs of the photo differ in about 1.5 % of their
    /// pixels (by up to 14 levels), so the bound here is 0.05 dB, not 0.01.
    /// </summary>
    [Fact]
    public void DeblockSampleMatchesPyTorchOnTheHeldOutPhotoUpToTheJpegEncoder()
    {
        JsonElement eval = Eval("deblock_dncnn3_bbcu_q20");
        RestoreReport r = Run(Bbcu.Samples.Deblock.Program.Model, RestorationTask.Deblock, new RestoreSettings
        {
            Input = Repo.Path("samples", "images", "astronaut.png"),
            JpegQuality = 20,
            Grey = true, // as PyTorch's evaluation: the photo turned grey, then compressed
            Threads = 2,
        });
        Assert.Equal(1, r.Restored.Channels);
        double pyJpeg = eval.GetProperty("jpeg").GetProperty("psnr_u8").GetDouble();
        double pyOut = eval.GetProperty("output").GetProperty("psnr_u8").GetDouble();
        _out.WriteLine($"PSNR JPEG C# {r.BaselinePsnr:F4} / PyTorch {pyJpeg:F4}; restored C# {r.RestoredPsnr:F4} / PyTorch {pyOut:F4}");
        Assert.True(Math.Abs(r.BaselinePsnr!.Value - pyJpeg) <= 0.05, $"JPEG PSNR {r.BaselinePsnr:F4} vs {pyJpeg:F4}");
        Assert.True(Math.Abs(r.RestoredPsnr!.Value - pyOut) <= 0.05, $"restored PSNR {r.RestoredPsnr:F4} vs {pyOut:F4}");
        Assert.True(r.RestoredPsnr - r.BaselinePsnr > 0.5, "the deblocker should gain");
    }

    /// <summary>
    /// The grey deblocker on a colour photo (the default): the photo is compressed in colour, the model
    /// restores its luma, and the colour is the JPEG's: the output is RGB, its chroma equals the JPEG's up
    /// to 8-bit rounding, and the luma gains as much as on the grey photo.
    /// </summary>
    [Fact]
    public void DeblockKeepsTheColourOfAColourPhoto()
    {
        RestoreReport r = Run(Bbcu.Samples.Deblock.Program.Model, RestorationTask.Deblock, new RestoreSettings
        {
            Input = Repo.Path("samples", "images", "astronaut.png"),
            JpegQuality = 20,
            Threads = 2,
        });
        Assert.Equal(3, r.Restored.Channels);
        Assert.False(r.Restored.IsNeutral(), "the restored photo is grey");
        int pixels = r.Restored.Width * r.Restored.Height;
        float[] Chroma(Image8 image)
        {
            float[] ycc = image.ToPlanar();
            BbcuPixels.RgbToYCbCr(ycc, ycc, pixels);
            return ycc[pixels..];
        }
        float[] restored = Chroma(r.Restored), jpeg = Chroma(r.Baseline);
        double worst = 0, sum = 0;
        for (int i = 0; i < restored.Length; i++)
        {
            double d = Math.Abs(restored[i] - jpeg[i]) * 255;
            worst = Math.Max(worst, d);
            sum += d;
        }
        _out.WriteLine($"chroma vs the JPEG's: mean |diff| {sum / restored.Length:F3}, max {worst:F2} (8-bit levels)");
        Assert.True(sum / restored.Length < 0.5, $"the chroma moved by {sum / restored.Length:F3} levels on average");
        Assert.True(r.RestoredPsnr - r.BaselinePsnr > 0.5, $"luma gain {r.RestoredPsnr - r.BaselinePsnr:F2} dB");
    }

    /// <summary>
    /// The strip's magnified row: as wide as the panels' row, the zoomed pixels nearest-neighbour copies,
    /// and a zoom box on the region's very edge (its frame clipped to the panel) is no error.
    /// </summary>
    [Theory]
    [InlineData(20, 10, 10, 8)]  // inside
    [InlineData(0, 0, 10, 10)]   // on the top-left corner of the region
    [InlineData(30, 30, 10, 10)] // on the bottom-right corner
    public void StripZoomMagnifiesAndFramesTheRegion(int zx, int zy, int zw, int zh)
    {
        var rng = new Random(5);
        var data = new byte[40 * 40 * 3];
        rng.NextBytes(data);
        var a = new Image8(data, 40, 40, 3);
        var b = new Image8(data.Reverse().ToArray(), 40, 40, 3);
        Image8 strip = Strip.Compose(new[] { a, b }, null, (zx, zy, zw, zh));
        int factor = 40 / zw;
        Assert.Equal(2 * 40 + 8, strip.Width);
        Assert.Equal(40 + 8 + zh * factor, strip.Height);
        for (int r = 0; r < zh * factor; r++)
            for (int c = 0; c < zw * factor; c++)
                for (int k = 0; k < 3; k++)
                    Assert.Equal(b.Data[((zy + r / factor) * 40 + zx + c / factor) * 3 + k], strip.Data[((40 + 8 + r) * strip.Width + 48 + c) * 3 + k]);
    }

    /// <summary>A run cancelled after the model (here: as soon as the time is reported) writes no file and throws.</summary>
    [Fact]
    public void ACancelledRunLeavesNoFile()
    {
        string dir = Repo.TempFolder("sample-cancel");
        using var cts = new System.Threading.CancellationTokenSource();
        var log = new CancellingWriter("model time", cts);
        Assert.ThrowsAny<OperationCanceledException>(() => RestoreApp.Execute(Bbcu.Samples.Denoise.Program.Model, RestorationTask.Denoise, new RestoreSettings
        {
            Input = Repo.Path("samples", "images", "astronaut.png"),
            NoiseSigma = 25,
            Output = Path.Combine(dir, "out.png"),
            StripPath = Path.Combine(dir, "strip.png"),
            Threads = 2,
        }, log, cts.Token));
        _out.WriteLine(log.ToString());
        Assert.Contains("image      astronaut.png", log.ToString());
        Assert.Empty(Directory.GetFiles(dir));
    }

    /// <summary>A log that cancels a token when a line with <c>trigger</c> is written.</summary>
    private sealed class CancellingWriter(string trigger, System.Threading.CancellationTokenSource cts) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && value.Contains(trigger, StringComparison.Ordinal)) cts.Cancel();
        }
    }

    [Theory]
    [InlineData("--input x.png --runs 0")]
    [InlineData("--input x.png --add-noise -3")]
    [InlineData("--input x.png --strip-region 1,2,3")]
    [InlineData("--add-noise 25")]
    [InlineData("--input x.png --jpeg-quality 20")]
    public void UsageErrorsExitWith2(string args)
    {
        var saved = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        try
        {
            int code = RestoreApp.Main(Bbcu.Samples.Denoise.Program.Model, RestorationTask.Denoise, args.Split(' '), new StringWriter());
            _out.WriteLine($"exit {code}: {err}");
            Assert.Equal(2, code); // 2 = usage error (1 is a failed run, 130 a cancelled one)
            Assert.False(string.IsNullOrWhiteSpace(err.ToString()), "a usage error must say what was wrong");
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    [Fact]
    public void SuperResolveRejectsAScaleItHasNoModelFor()
    {
        var saved = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        try
        {
            int code = RestoreApp.Main(Bbcu.Samples.SuperResolve.Program.Models, RestorationTask.SuperResolve,
                new[] { "--input", Repo.Path("samples", "images", "astronaut.png"), "--downscale", "3" }, new StringWriter());
            Assert.Equal(2, code);
            Assert.Contains("×2, 4", err.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }
}
