using System;
using System.IO;
using System.Linq;
using System.Threading;
using Bbcu.Tests.Infrastructure;
using CsCheck;
using Microsoft.CodeAnalysis;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// Differential testing of the whole compiler with CsCheck: random valid graphs (<see cref="GraphSpec"/>:
/// 1–4 input channels, 1–130 feature channels across 64-bit word boundaries, k ∈ {1, 20, 130}, 1×1/3×3/5×5
/// head and 1×1/3×3 tail kernels, 1–3 units of seven kinds — BBCU-B both ways round, unfusable wiring,
/// PReLU, V1 with BatchNorm, V2, BBCU-U ×2 — exactly-zero thresholds and weights, optional float pixel-shuffle
/// upsampling ×2/×3, nearest or bilinear global skip, images 1×1 to 9×9) are compiled by the real generator,
/// run, and compared with the independent double-precision reference interpreter; each is also run on a larger
/// image on 2 threads and in tiles (more than one, asserted), which must give the one-pass bits. Runs in the
/// <see cref="Serial"/> collection so that its 2-thread runs get the worker pool (asserted over the campaign). A failure is shrunk by CsCheck to a small graph and printed
/// with its JSON; save that under tests/graph-regressions/ (one .json per case), which
/// <see cref="RegressionGraphsStayFixed"/> replays on every run.
/// Seeds are random per run (CsCheck prints the seed of a failure: set BBCU_CSCHECK_SEED to replay it);
/// BBCU_CSCHECK_ITER sets the number of graphs (default 12 in CI, 200 under Category=LongRun).
/// </summary>
[Collection(Serial.Name)]
public sealed class GraphDifferentialTests
{
    private readonly ITestOutputHelper _out;
    private int _checked, _discarded, _tiles;

    public GraphDifferentialTests(ITestOutputHelper output) => _out = output;

    /// <summary>Every CI run: 12 graphs (each is a full Roslyn compile, about 5–10 s here).</summary>
    [Fact]
    public void RandomGraphsMatchTheReference() => Campaign(12);

    /// <summary>A longer campaign on request: <c>dotnet test --filter Category=LongRun</c> (default 200 graphs).</summary>
    [Fact]
    [Trait("Category", "LongRun")]
    public void LongGraphCampaign() => Campaign(200);

    private void Campaign(long defaultIter)
    {
        long iter = long.TryParse(Environment.GetEnvironmentVariable("BBCU_CSCHECK_ITER"), out long n) && n > 0 ? n : defaultIter;
        string? seed = Environment.GetEnvironmentVariable("BBCU_CSCHECK_SEED");
        long workersBefore = BbcuParallel.WorkerChunks;
        GraphSpec.Gen.Sample(spec => Check(spec, replay: false), writeLine: _out.WriteLine, seed: string.IsNullOrEmpty(seed) ? null : seed,
            iter: iter, threads: 1, print: s => s + "\n" + s.ToJson());
        long workerChunks = BbcuParallel.WorkerChunks - workersBefore;
        _out.WriteLine($"{_checked} graphs checked, {_discarded} discarded (no input without near-threshold Sign inputs); " +
                       $"{_tiles} tiles run in all; {workerChunks} chunks ran on worker threads");
        Assert.True(_discarded * 4 <= _checked + _discarded, $"too many graphs discarded: {_discarded} of {_checked + _discarded}");
        Assert.True(workerChunks > 0, $"the 2-thread runs never used a worker thread (ProcessorCount = {Environment.ProcessorCount}; set DOTNET_PROCESSOR_COUNT=2 on one processor)");
    }

    /// <summary>
    /// Replays every saved graph. Each stores a known-good <c>InputSeed</c>: its first input draw is clear
    /// of every Sign threshold, so a replay always compares with the reference (never discarded).
    /// </summary>
    [Fact]
    public void RegressionGraphsStayFixed()
    {
        string dir = Repo.Path("tests", "graph-regressions");
        string[] files = Directory.GetFiles(dir, "*.json").OrderBy(f => f, StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        foreach (string f in files)
        {
            GraphSpec spec = GraphSpec.FromJson(File.ReadAllText(f));
            _out.WriteLine($"{Path.GetFileName(f)}: {spec}");
            Check(spec, replay: true);
        }
        Assert.Equal(files.Length, _checked);
    }

    /// <summary>
    /// Compiles the graph, compares a run on a small image with the reference interpreter (1 thread), then
    /// checks on a larger image that 2 threads and a tiled run (more than one tile, asserted) give the
    /// one-pass bits. A replay draws exactly one input (the stored seed must be clear of the thresholds);
    /// the campaign redraws up to 100 times and discards the graph if no draw is clear.
    /// </summary>
    private void Check(GraphSpec spec, bool replay)
    {
        ModelFiles files = spec.Build();
        GeneratorResult result = GeneratorHarness.RunModel(files.Json, files.Weights);
        var bad = result.GeneratorDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(bad.Count == 0, $"{spec}: {string.Join("; ", bad)}");
        Type model = result.LoadModel();
        var run = GeneratorHarness.GetRunWorkspace(model);
        int halo = GeneratorHarness.Constant<int>(model, "Halo"), scale = GeneratorHarness.Constant<int>(model, "Scale");
        Assert.Equal(spec.Scale, scale);
        var create = model.GetMethod("CreateWorkspace")!;
        var reference = new ReferenceModel(files.Json, SafetensorsIo.Read(files.Weights));

        int w = spec.Width, h = spec.Height;
        while (reference.CountSignInputs(w, h) > 6000 && (w > 1 || h > 1))
        {
            if (w >= h) w--; else h--;
        }
        var rng = new Random(spec.InputSeed);
        double[] input = Array.Empty<double>(), expected = Array.Empty<double>();
        int draws = replay ? 1 : 100;
        for (int draw = 0; draw < draws; draw++)
        {
            input = Enumerable.Range(0, spec.Cin * w * h).Select(_ => (double)(float)(rng.NextDouble() * 1.5 - 0.25)).ToArray();
            expected = reference.Run(input, w, h, out _);
            if (reference.MinRelativeMargin >= 1e-5) break;
        }
        if (reference.MinRelativeMargin < 1e-5)
        {
            Assert.False(replay, $"{spec}: the stored InputSeed {spec.InputSeed} no longer gives an input clear of the Sign thresholds " +
                                 $"(smallest relative margin {reference.MinRelativeMargin:E2}); store a seed whose first draw is clear, e.g. {FindCleanSeed(reference, spec, w, h)}");
            Interlocked.Increment(ref _discarded);
            return;
        }
        Interlocked.Increment(ref _checked);
        float[] x = input.Select(v => (float)v).ToArray();
        var output = new float[expected.Length];
        var ws = (BbcuWorkspace)create.Invoke(null, new object[] { w, h })!;
        ws.DegreeOfParallelism = 1;
        run(x, w, h, output, ws);
        FloatAssert.AllFinite(expected, $"{spec}: reference");
        double peak = 1 + expected.Max(Math.Abs);
        FloatAssert.Close(output, expected, 1e-5 * peak, $"{spec} at {w}×{h} vs the reference (bound 1e-5·{peak:F2})");

        // Bits: a larger image (no reference needed) on 1 thread, on 2 threads, and in tiles of 2×2 … 4×4
        // core pixels; the tiled run must really tile.
        int core = 2 + (spec.Width + spec.Height) % 3;
        int bw = Math.Max(12, 2 * halo + core + 3), bh = Math.Max(10, 2 * halo + core + 2);
        var brng = new Random(spec.InputSeed ^ 0x5bd1e995);
        float[] big = Enumerable.Range(0, spec.Cin * bw * bh).Select(_ => (float)(brng.NextDouble() * 1.5 - 0.25)).ToArray();
        int outLength = expected.Length / (w * h) * bw * bh;
        var one = new float[outLength];
        var bigWs = (BbcuWorkspace)create.Invoke(null, new object[] { bw, bh })!;
        bigWs.DegreeOfParallelism = 1;
        run(big, bw, bh, one, bigWs);
        FloatAssert.AllFinite(one, $"{spec} at {bw}×{bh}");
        bigWs.DegreeOfParallelism = 2;
        var two = new float[outLength];
        run(big, bw, bh, two, bigWs);
        FloatAssert.SameBits(one, two, $"{spec} at {bw}×{bh}: 2 threads vs 1");

        var tiny = (BbcuWorkspace)create.Invoke(null, new object[] { 2 * halo + core, 2 * halo + core })!;
        tiny.DegreeOfParallelism = 1;
        int tiles = 0;
        tiny.TileCompleted = (done, _) => tiles = done;
        var tiled = new float[outLength];
        run(big, bw, bh, tiled, tiny);
        Assert.True(tiles > 1, $"{spec} at {bw}×{bh}: the {tiny.Width}×{tiny.Height} workspace ran {tiles} tile(s)");
        Interlocked.Add(ref _tiles, tiles);
        FloatAssert.SameBits(one, tiled, $"{spec} at {bw}×{bh}: {tiles} tiles (halo {halo}, core {core}) vs one pass");
    }

    /// <summary>The first seed (from 1) whose first draw is clear of the Sign thresholds, for the failure message.</summary>
    private static string FindCleanSeed(ReferenceModel reference, GraphSpec spec, int w, int h)
    {
        for (int seed = 1; seed <= 2000; seed++)
        {
            var rng = new Random(seed);
            double[] input = Enumerable.Range(0, spec.Cin * w * h).Select(_ => (double)(float)(rng.NextDouble() * 1.5 - 0.25)).ToArray();
            reference.Run(input, w, h, out _);
            if (reference.MinRelativeMargin >= 1e-5) return seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return "(none found in 1…2000)";
    }
}
