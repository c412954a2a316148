using System;
using System.Collections.Generic;
using System.Linq;
using Bbcu.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// Random valid models compiled by the real generator and run, against the independent double-precision
/// reference interpreter. Inputs are redrawn until no Sign input lies within 1e-5·(1 + max|x|) of its
/// threshold (other than exact zeros, which both sides treat as sign 0): float32 rounding of a Sign
/// input is about 1e-7 of that scale, so no binary activation can flip and the outputs must agree to
/// float32 accuracy. The number of redraws is reported; image sizes are kept small enough (at most
/// ~6000 Sign inputs) that a clean draw exists.
/// </summary>
public sealed class DifferentialTests
{
    private readonly ITestOutputHelper _out;

    public DifferentialTests(ITestOutputHelper output) => _out = output;

    public static IEnumerable<object[]> Seeds() => Enumerable.Range(1, 16).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomModelMatchesReference(int seed)
    {
        ModelFiles files = RandomModels.Create(seed);
        var result = GeneratorHarness.RunModel(files.Json, files.Weights);
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Severity >= Microsoft.CodeAnalysis.DiagnosticSeverity.Warning);
        var run = GeneratorHarness.GetRun(result.LoadModel());
        var reference = new ReferenceModel(files.Json, SafetensorsIo.Read(files.Weights));

        var rng = new Random(seed * 7919);
        var sizes = new (int W, int H)[] { (1, 1), (1, 5), (6, 1), (2, 2), (7, 3), (4, 9), (11, 6) };
        foreach (var (w, h) in sizes)
        {
            if (reference.CountSignInputs(w, h) > 6000) continue;
            double[] input = Array.Empty<double>();
            double[] expected = Array.Empty<double>();
            int redraws = 0, channels = 0;
            for (; redraws < 200; redraws++)
            {
                input = Enumerable.Range(0, files.InputChannels * w * h).Select(_ => (double)(float)(rng.NextDouble() * 1.5 - 0.25)).ToArray();
                expected = reference.Run(input, w, h, out channels);
                if (reference.MinRelativeMargin >= 1e-5) break;
            }
            Assert.True(reference.MinRelativeMargin >= 1e-5, $"seed {seed}: no input without near-threshold Sign inputs after {redraws} draws");
            var output = new float[expected.Length];
            run(input.Select(v => (float)v).ToArray(), w, h, output);
            FloatAssert.AllFinite(expected, $"seed {seed} reference");
            double peak = 1 + expected.Max(Math.Abs);
            Closeness c = FloatAssert.Close(output, expected, 1e-5 * peak, $"seed {seed} [{files.Description}] {w}×{h} (bound 1e-5·{peak:F2})");
            _out.WriteLine($"seed {seed} [{files.Description}] {w}×{h}: {reference.SignInputs} Sign inputs, {reference.ExactZeroSignInputs} exactly 0, " +
                           $"{redraws} redraws, {c} (peak {peak:F2})");
        }
    }
}
