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
/// run, and compared with the independent double-precision reference interpreter; each is also run tiled and
/// on 2 threads, which must give the same bits. A failure is shrunk by CsCheck to a small graph and printed
/// with its JSON; save that under tests/graph-regressions/ (one .json per case), which
/// <see cref="RegressionGraphsStayFixed"/> replays on every run.
/// Seeds are random per run (CsCheck prints the seed of a failure: set BBCU_CSCHECK_SEED to replay it);
/// BBCU_CSCHECK_ITER sets the number of graphs (default 12 in CI, 200 under Category=LongRun).
/// </summary>
public sealed class GraphDifferentialTests
{
    private readonly ITestOutputHelper _out;
    private int _checked, _discarded;

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
        GraphSpec.Gen.Sample(Check, writeLine: _out.WriteLine, seed: string.IsNullOrEmpty(seed) ? null : seed, iter: iter, threads: 1,
            print: s => s + "\n" + s.ToJson());
        _out.WriteLine($"{_checked} graphs checked, {_discarded} discarded (no input without near-threshold Sign inputs)");
        Assert.True(_discarded * 4 <= _checked + _discarded, $"too many graphs discarded: {_discarded} of {_checked + _discarded}");
    }

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
            Check(spec);
        }
        Assert.True(_checked > 0, "every regression graph was discarded");
    }

    private void Check(GraphSpec spec)
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
        for (int draw = 0; draw < 100; draw++)
        {
            input = Enumerable.Range(0, spec.Cin * w * h).Select(_ => (double)(float)(rng.NextDouble() * 1.5 - 0.25)).ToArray();
            expected = reference.Run(input, w, h, out _);
            if (reference.MinRelativeMargin >= 1e-5) break;
        }
        if (reference.MinRelativeMargin < 1e-5)
        {
            Interlocked.Increment(ref _discarded);
            return;
        }
        Interlocked.Increment(ref _checked);
        float[] x = input.Select(v => (float)v).ToArray();
        var output = new float[expected.Length];
        var ws = (BbcuWorkspace)create.Invoke(null, new object[] { w, h })!;
        ws.DegreeOfParallelism = 1;
        run(x, w, h, output, ws);
        double peak = 1 + expected.Max(Math.Abs);
        double maxDiff = output.Zip(expected, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff <= 1e-5 * peak, $"{spec} at {w}×{h}: max |diff| vs the reference {maxDiff:E3} > 1e-5·{peak:F2}");

        // The same bits on 2 threads, and tiled with 1×1 … 3×3 cores.
        ws.DegreeOfParallelism = 2;
        var two = new float[output.Length];
        run(x, w, h, two, ws);
        Assert.True(output.AsSpan().SequenceEqual(two), $"{spec} at {w}×{h}: 2 threads changed the bits");
        if (w * h > 1)
        {
            var tiny = (BbcuWorkspace)create.Invoke(null, new object[] { 2 * halo + 1 + (w + h) % 3, 2 * halo + 1 })!;
            var tiled = new float[output.Length];
            run(x, w, h, tiled, tiny);
            Assert.True(output.AsSpan().SequenceEqual(tiled), $"{spec} at {w}×{h}: tiling (halo {halo}) changed the bits");
        }
    }
}
