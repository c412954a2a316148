using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime;
using System.Threading;
using System.Threading.Tasks;

namespace Bbcu.Samples;

/// <summary>What one restoration run was asked to do (the parsed command line).</summary>
public sealed class RestoreSettings
{
    /// <summary>Image to read (PNG, JPEG, BMP, …).</summary>
    public required string Input { get; init; }

    /// <summary>Where to write the restored PNG, or null.</summary>
    public string? Output { get; init; }

    /// <summary>The clean image to compare with when the input is already degraded, or null.</summary>
    public string? Reference { get; init; }

    /// <summary>Where to write the network's (degraded) input as PNG, or null.</summary>
    public string? SaveInput { get; init; }

    /// <summary>Where to write the before/after strip, or null.</summary>
    public string? StripPath { get; init; }

    /// <summary>The part of the image the strip shows (output coordinates), or null for all of it.</summary>
    public (int X, int Y, int Width, int Height)? StripRegion { get; init; }

    /// <summary>A part of the strip's region to show magnified below it (output coordinates), or null.</summary>
    public (int X, int Y, int Width, int Height)? StripZoom { get; init; }

    /// <summary>Noise std on the 0–255 scale to add first (denoising), or null.</summary>
    public double? NoiseSigma { get; init; }

    /// <summary>Noise seed.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>JPEG quality to compress with first (deblocking), or null.</summary>
    public int? JpegQuality { get; init; }

    /// <summary>Factor to bicubic-downscale by first (super-resolution), or null.</summary>
    public int? Downscale { get; init; }

    /// <summary>Threads for the model (workspace.DegreeOfParallelism).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Largest input tile side: the workspace is sized for Tile × Tile pixels; larger images run in tiles.</summary>
    public int Tile { get; init; } = 512;

    /// <summary>Runs of the model (the fastest is reported).</summary>
    public int Runs { get; init; } = 1;

    /// <summary>
    /// With a grey (luma) model: turn a colour photo grey first, as the model was trained and evaluated.
    /// False (the default): restore the photo's luma with the model and keep its colour.
    /// </summary>
    public bool Grey { get; init; }
}

/// <summary>Metrics and images of one run.</summary>
/// <param name="Restored">The model's output, 8-bit.</param>
/// <param name="Baseline">What the restored image is compared with: the noisy or JPEG input, or the bicubic upscale.</param>
/// <param name="Clean">The clean image, when known.</param>
/// <param name="BaselinePsnr">PSNR of <paramref name="Baseline"/> against the clean image (Y channel for super-resolution).</param>
/// <param name="BaselineSsim">SSIM of the baseline.</param>
/// <param name="RestoredPsnr">PSNR of the restored image.</param>
/// <param name="RestoredSsim">SSIM of the restored image.</param>
/// <param name="ModelMilliseconds">Fastest model run.</param>
public sealed record RestoreReport(Image8 Restored, Image8 Baseline, Image8? Clean, double? BaselinePsnr, double? BaselineSsim,
    double? RestoredPsnr, double? RestoredSsim, double ModelMilliseconds);

/// <summary>The command line and the work every sample shares.</summary>
public static class RestoreApp
{
    /// <summary>Parses <paramref name="args"/>, runs, and returns the process exit code (0 ok, 1 failure, 2 usage, 130 cancelled).</summary>
    public static int Main(CompiledModel model, RestorationTask task, string[] args, TextWriter? stdout = null) =>
        Main(new[] { model }, task, args, stdout);

    /// <summary>
    /// As <see cref="Main(CompiledModel, RestorationTask, string[], TextWriter?)"/> with a choice of models of
    /// different scales (super-resolution): <c>--scale</c> picks one (default: <c>--downscale</c>'s value, else the largest).
    /// </summary>
    public static int Main(IReadOnlyList<CompiledModel> models, RestorationTask task, string[] args, TextWriter? stdout = null)
    {
        ArgumentNullException.ThrowIfNull(models);
        if (models.Count == 0) throw new ArgumentException("At least one model is needed.", nameof(models));
        CompiledModel model = models[0];
        foreach (CompiledModel m in models) if (m.Scale > model.Scale) model = m;
        TextWriter log = stdout ?? Console.Out;
        var input = new Option<string>("--input", "-i") { Description = "Image to restore (PNG, JPEG, BMP, TGA); read as RGB" + (model.InputChannels == 1 ? " and turned grey (BT.601)" : ""), Required = true };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write the restored image (PNG)" };
        var reference = new Option<string?>("--reference") { Description = "The clean image, for PSNR/SSIM when --input is already degraded" };
        var saveInput = new Option<string?>("--save-input") { Description = "Also write the network's input (the degraded image) as PNG" };
        var strip = new Option<string?>("--strip") { Description = "Write a before/after strip: degraded (bicubic for SR) · restored · clean" };
        var stripRegion = new Option<string?>("--strip-region") { Description = "X,Y,W,H: the part of the (output-size) image the strip shows (default: all)" };
        var stripZoom = new Option<string?>("--strip-zoom") { Description = "X,Y,W,H: a part of that region to show magnified (nearest neighbour) in a second row" };
        var threads = new Option<int>("--threads") { Description = "Threads for the model (default: processor count)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var tile = new Option<int>("--tile") { Description = "Workspace side in input pixels; larger images run in tiles (default 512)", DefaultValueFactory = _ => 512 };
        var runs = new Option<int>("--runs") { Description = "Run the model N times and report the fastest (default 1)", DefaultValueFactory = _ => 1 };
        var sigma = new Option<double?>("--add-noise") { Description = "Add Gaussian noise of std SIGMA/255 (not clipped) before denoising" };
        var seed = new Option<ulong>("--seed") { Description = "Noise seed (default 1); the noise is tools/train_bbcu.py's", DefaultValueFactory = _ => 1 };
        var quality = new Option<int?>("--jpeg-quality") { Description = "Compress with JPEG at this quality (1-100) before deblocking" };
        var downscale = new Option<int?>("--downscale") { Description = "Bicubic-downscale by this factor before super-resolving" };
        var grey = new Option<bool>("--grey") { Description = "Turn a colour photo grey first (default: the grey model restores its luma, BT.601 Y, and the colour is kept)" };
        string scales = string.Join(", ", models.Select(m => m.Scale.ToString(CultureInfo.InvariantCulture)));
        var scaleOption = new Option<int?>("--scale") { Description = $"Upscaling factor, one of {scales} (default: --downscale's value, else {model.Scale})" };

        string exe = task switch { RestorationTask.Denoise => "Denoise", RestorationTask.Deblock => "Deblock", _ => "SuperResolve" };
        var root = new RootCommand(task switch
        {
            RestorationTask.Denoise => $"Denoise a photo with the compiled BBCU model '{model.Name}'.",
            RestorationTask.Deblock => $"Remove JPEG blocking from a photo with the compiled BBCU model '{model.Name}' (grey: a colour photo's luma is restored and its colour kept).",
            _ => $"Super-resolve a photo (×{scales}) with a compiled BBCU-M model.",
        } + "\n\nExamples:\n" + task switch
        {
            RestorationTask.Denoise =>
                $"  {exe} --input photo.png --add-noise 25 --output out/denoised.png          add noise, denoise, print PSNR/SSIM\n" +
                $"  {exe} --input noisy.png --reference clean.png --output out/clean.png       an already noisy photo\n" +
                $"  {exe} --input photo.png --add-noise 25 --strip out/strip.png --strip-region 100,100,200,200",
            RestorationTask.Deblock =>
                $"  {exe} --input photo.png --jpeg-quality 20 --output out/deblocked.png      compress, deblock, print PSNR/SSIM\n" +
                $"  {exe} --input photo.jpg --output out/deblocked.png                        an already compressed photo\n" +
                $"  {exe} --input photo.png --jpeg-quality 20 --grey --strip out/strip.png     grey, with a before/after strip",
            _ =>
                $"  {exe} --input photo.png --downscale 4 --output out/x4.png                 downscale, upscale, print Y-PSNR/SSIM\n" +
                $"  {exe} --input small.png --scale 2 --output out/x2.png                      a real low-resolution photo\n" +
                $"  {exe} --input photo.png --downscale 4 --tile 128 --threads 1                 little memory, one thread",
        }) { input, output, reference, saveInput, strip, stripRegion, stripZoom, threads, tile, runs };
        switch (task)
        {
            case RestorationTask.Denoise: root.Add(sigma); root.Add(seed); break;
            case RestorationTask.Deblock: root.Add(quality); if (model.InputChannels == 1) root.Add(grey); break;
            default: root.Add(downscale); root.Add(scaleOption); break;
        }

        // Ctrl+C cancels the token; the model stops at its next layer or tile.
        root.SetAction((parse, cancellationToken) => Task.FromResult(Act(parse, cancellationToken)));
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // A missing or unknown option is a usage error (exit 2), like the checks in Act; System.CommandLine's own default is 1.
            foreach (var e in parsed.Errors) Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine("Run with --help for the options.");
            return 2;
        }
        return parsed.Invoke();

        int Act(ParseResult parse, CancellationToken cancellationToken)
        {
            RestoreSettings settings;
            try
            {
                if (task == RestorationTask.SuperResolve)
                {
                    int want = parse.GetValue(scaleOption) ?? parse.GetValue(downscale) ?? model.Scale;
                    CompiledModel? pick = null;
                    foreach (CompiledModel m in models) if (m.Scale == want) pick = m;
                    model = pick ?? throw new ArgumentException($"--scale {want}: this sample has models for ×{scales}.");
                }
                settings = new RestoreSettings
                {
                    Input = parse.GetValue(input)!,
                    Output = parse.GetValue(output),
                    Reference = parse.GetValue(reference),
                    SaveInput = parse.GetValue(saveInput),
                    StripPath = parse.GetValue(strip),
                    StripRegion = ParseRegion("--strip-region", parse.GetValue(stripRegion)),
                    StripZoom = ParseRegion("--strip-zoom", parse.GetValue(stripZoom)),
                    Threads = parse.GetValue(threads),
                    Tile = parse.GetValue(tile),
                    Runs = parse.GetValue(runs),
                    NoiseSigma = task == RestorationTask.Denoise ? parse.GetValue(sigma) : null,
                    Seed = task == RestorationTask.Denoise ? parse.GetValue(seed) : 1,
                    JpegQuality = task == RestorationTask.Deblock ? parse.GetValue(quality) : null,
                    Downscale = task == RestorationTask.SuperResolve ? parse.GetValue(downscale) : null,
                    Grey = task == RestorationTask.Deblock && parse.GetValue(grey),
                };
                Validate(model, settings);
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
            try
            {
                Execute(model, task, settings, log, cancellationToken);
                return 0;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("cancelled");
                return 130;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
        }
    }

    private static (int, int, int, int)? ParseRegion(string option, string? text)
    {
        if (text is null) return null;
        string[] parts = text.Split(',');
        var v = new int[4];
        if (parts.Length != 4 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out v[0])
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out v[1])
            || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out v[2])
            || !int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out v[3]) || v[2] == 0 || v[3] == 0)
            throw new ArgumentException($"{option} '{text}': expected X,Y,W,H (non-negative integers, W and H > 0).");
        return (v[0], v[1], v[2], v[3]);
    }

    private static void Validate(CompiledModel model, RestoreSettings s)
    {
        if (s.Threads < 1) throw new ArgumentException($"--threads {s.Threads}: needs at least 1.");
        if (s.Tile < 1) throw new ArgumentException($"--tile {s.Tile}: needs at least 1 pixel.");
        if (s.Runs < 1) throw new ArgumentException($"--runs {s.Runs}: needs at least 1.");
        if (s.NoiseSigma is double sd && (!double.IsFinite(sd) || sd < 0)) throw new ArgumentException($"--add-noise {sd}: needs a number >= 0.");
        if (s.JpegQuality is int q && q is < 1 or > 100) throw new ArgumentException($"--jpeg-quality {q}: JPEG quality is 1..100.");
        if (s.Downscale is int d && d != model.Scale)
            throw new ArgumentException($"--downscale {d}: the model '{model.Name}' upscales by {model.Scale}; use --downscale {model.Scale}.");
    }

    /// <summary>
    /// Reads, degrades (when asked), restores, measures, reports to <paramref name="log"/> and writes the files
    /// asked for. The header is printed before the model runs, progress goes to standard error (per layer in
    /// one pass, per tile in a tiled run), and <paramref name="cancellationToken"/> is honoured in every phase:
    /// a cancelled run throws <see cref="OperationCanceledException"/> and leaves no file behind (each file is
    /// written to a temporary name and renamed when complete). Memory: the decoded images (bytes), the model's
    /// input and output planes (floats) and the workspace; the metrics stream over rows.
    /// </summary>
    public static RestoreReport Execute(CompiledModel model, RestorationTask task, RestoreSettings s, TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(log);
        long start = Stopwatch.GetTimestamp();
        // A grey model on a colour photo restores its luma and keeps its colour, unless asked to go grey.
        bool greyModel = model.InputChannels == 1;
        Image8 loaded = Image8.LoadRgb(s.Input);
        bool luma = greyModel && !s.Grey && !loaded.IsNeutral();
        Image8 Prepare(Image8 image) => greyModel && !luma ? image.ToGrey() : image;
        loaded = Prepare(loaded);
        Image8? clean = s.Reference is null ? null : Prepare(Image8.LoadRgb(s.Reference));
        int scale = model.Scale;
        cancellationToken.ThrowIfCancellationRequested();

        // The degraded image (8-bit), the network's input (planar floats), and what the result is compared with.
        Image8 degraded;
        float[]? noisy = null;
        string what;
        switch (task)
        {
            case RestorationTask.Denoise when s.NoiseSigma is double sigma:
                clean = loaded;
                noisy = loaded.ToPlanar();
                Degradations.AddGaussianNoise(noisy, sigma / 255.0, s.Seed);
                degraded = Image8.FromPlanar(noisy, loaded.Width, loaded.Height, loaded.Channels);
                what = FormattableString.Invariant($"Gaussian noise sigma {sigma:0.###}/255, seed {s.Seed} (not clipped)");
                break;
            case RestorationTask.Deblock when s.JpegQuality is int q:
                clean = loaded;
                degraded = loaded.JpegRoundTrip(q);
                what = $"JPEG quality {q} (stb_image_write), {(loaded.Channels == 1 ? "grey" : "colour")}";
                break;
            case RestorationTask.SuperResolve when s.Downscale is int d:
                clean = loaded.Width % d == 0 && loaded.Height % d == 0 ? loaded : loaded.Crop(0, 0, loaded.Width / d * d, loaded.Height / d * d);
                if (clean.Width < d || clean.Height < d) throw new ArgumentException($"A {loaded.Width}×{loaded.Height} image is too small to downscale by {d}.");
                degraded = Degradations.ResizeBicubic(clean, clean.Width / d, clean.Height / d);
                what = $"bicubic downscale ×1/{d} (MATLAB imresize, antialiased)";
                break;
            default:
                degraded = loaded;
                what = "none added (the input is taken as degraded)";
                break;
        }
        int width = degraded.Width, height = degraded.Height, plane = width * height;
        if (clean is not null && (clean.Width != width * scale || clean.Height != height * scale))
            throw new ArgumentException($"--reference is {clean.Width}×{clean.Height}; the output will be {width * scale}×{height * scale}.");
        // Colour through a luma model: planar Y, Cb, Cr of the degraded photo; the model sees the Y plane.
        float[] planar = noisy ?? degraded.ToPlanar();
        if (luma) BbcuPixels.RgbToYCbCr(planar, planar, plane);
        cancellationToken.ThrowIfCancellationRequested();

        // The header, before the model runs.
        string Kind(Image8 i) => i.Channels == 1 ? "grey" : "RGB";
        log.WriteLine($"image      {Path.GetFileName(s.Input)} {loaded.Width}x{loaded.Height} {Kind(loaded)}; model {model.Name} ({model.LayerCount} layers{(scale > 1 ? $", x{scale}" : "")})");
        log.WriteLine($"degraded   {what}");
        if (luma) log.WriteLine("colour     the grey model restores the luma (BT.601 Y); the colour (Cb, Cr) is the input's");
        log.Flush();

        // Run: one workspace of at most Tile × Tile pixels; larger images go in tiles. Progress on standard error.
        BbcuWorkspace workspace = model.CreateWorkspace(Math.Min(s.Tile, width), Math.Min(s.Tile, height));
        workspace.DegreeOfParallelism = s.Threads;
        bool tiled = (long)width * height > (long)workspace.Width * workspace.Height;
        var progress = new ProgressLine(tiled ? "tiles" : "layers");
        int tilesSeen = 0;
        workspace.TileCompleted = (done, total) => { tilesSeen = total; progress.Report(done, total); };
        if (!tiled) workspace.LayerCompleted = progress.Report;
        var output = new float[model.OutputChannels * width * scale * height * scale];
        double best = double.MaxValue;
        for (int r = 0; r < s.Runs; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            model.Run(planar.AsSpan(0, model.InputChannels * plane), width, height, output, workspace, cancellationToken);
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        Image8 restored, restoredLuma;
        if (luma)
        {
            // The restored Y with the input's Cb and Cr, back to RGB.
            output.CopyTo(planar, 0);
            restoredLuma = Image8.FromPlanar(output, width, height, 1);
            BbcuPixels.YCbCrToRgb(planar, planar, plane);
            restored = Image8.FromPlanar(planar, width, height, 3);
        }
        else
        {
            restored = restoredLuma = Image8.FromPlanar(output, width * scale, height * scale, model.OutputChannels);
        }
        planar = output = null!; // the float planes are no longer needed
        Image8 baseline = task == RestorationTask.SuperResolve ? Degradations.ResizeBicubic(degraded, width * scale, height * scale) : degraded;
        cancellationToken.ThrowIfCancellationRequested();

        // Measure.
        double? bp = null, bs = null, rp = null, rs = null;
        if (clean is not null)
        {
            string baseName = task switch { RestorationTask.Denoise => "noisy", RestorationTask.Deblock => "JPEG", _ => "bicubic" };
            if (task == RestorationTask.SuperResolve && clean.Channels == 3)
            {
                (bp, bs) = Metrics.LumaPsnrSsim(baseline, clean, scale, cancellationToken);
                (rp, rs) = Metrics.LumaPsnrSsim(restored, clean, scale, cancellationToken);
                log.WriteLine($"metrics    vs the clean image, Y channel (BT.601), {scale}-pixel border cropped");
            }
            else
            {
                // A luma model on a colour photo is measured on what it restores: the grey (BT.601 Y) images.
                Image8 b = luma ? baseline.ToGrey() : baseline, c = luma ? clean.ToGrey() : clean;
                bp = Metrics.Psnr(b, c);
                bs = Metrics.Ssim(b, c, cancellationToken);
                rp = Metrics.Psnr(restoredLuma, c);
                rs = Metrics.Ssim(restoredLuma, c, cancellationToken);
                log.WriteLine(luma
                    ? "metrics    vs the clean image's luma (BT.601 Y, 8-bit), which is what the model restores"
                    : "metrics    vs the clean image, 8-bit values (clamp to [0,1], round x*255)");
            }
            log.WriteLine(FormattableString.Invariant($"{baseName,-10} PSNR {bp:0.00} dB  SSIM {bs:0.0000}"));
            log.WriteLine(FormattableString.Invariant($"restored   PSNR {rp:0.00} dB  SSIM {rs:0.0000}   (gain {rp - bp:+0.00;-0.00} dB)"));
        }
        string tiles = tilesSeen > 1 ? $"{tilesSeen} tiles" : "one pass";
        log.WriteLine(FormattableString.Invariant($"model time {best:0.0} ms ({(s.Runs > 1 ? $"fastest of {s.Runs}" : JitInfo.GetCompiledMethodCount() > 0 ? "one run, includes JIT" : "one run, Native AOT")}), {s.Threads} thread{(s.Threads == 1 ? "" : "s")}, {tiles}, workspace {workspace.Bytes / (1024.0 * 1024.0):0.0} MiB"));

        // Write: each file under a temporary name, renamed once complete; nothing is left if cancelled.
        var written = new List<string>();
        void Save(Image8 image, string? path)
        {
            if (path is null) return;
            cancellationToken.ThrowIfCancellationRequested();
            image.SavePng(path, cancellationToken);
            written.Add(path);
        }
        try
        {
            Save(restored, s.Output);
            Save(degraded, s.SaveInput);
            if (s.StripPath is not null)
            {
                Image8[] panels = clean is null ? new[] { baseline, restored } : new[] { baseline, restored, clean };
                var region = s.StripRegion;
                if (region is { } rg && (rg.X + rg.Width > restored.Width || rg.Y + rg.Height > restored.Height))
                    throw new ArgumentException($"--strip-region {rg.X},{rg.Y},{rg.Width},{rg.Height} is outside the {restored.Width}×{restored.Height} output.");
                Save(Strip.Compose(panels, region, s.StripZoom), s.StripPath);
            }
        }
        catch (OperationCanceledException)
        {
            foreach (string path in written) File.Delete(path); // a cancelled run leaves no output at all
            throw;
        }
        foreach (string path in written) log.WriteLine($"wrote      {path}");
        log.WriteLine(FormattableString.Invariant($"total time {Stopwatch.GetElapsedTime(start).TotalMilliseconds:0} ms (read, degrade, restore, measure, write)"));
        return new RestoreReport(restored, baseline, clean, bp, bs, rp, rs, best);
    }

    /// <summary>
    /// Progress on standard error: a line rewritten in place on a terminal; about every tenth step (and the
    /// last) as lines of their own when standard error is redirected.
    /// </summary>
    private sealed class ProgressLine
    {
        private readonly string _what;
        private readonly bool _interactive = !Console.IsErrorRedirected;

        public ProgressLine(string what) => _what = what;

        public void Report(int done, int total)
        {
            if (_interactive) Console.Error.Write($"\r{_what,-10} {done}/{total}");
            else if (done == total || done % Math.Max(1, total / 10) == 0) Console.Error.WriteLine($"{_what,-10} {done}/{total}");
            if (_interactive && done == total) Console.Error.WriteLine();
        }
    }
}
