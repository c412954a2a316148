using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Bbcu.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// Golden fixtures from the authors' PyTorch modules (tools/make_fixtures.py → tools/export_bbcu.py):
/// the generated code must match PyTorch's float32 output to max |diff| ≤ 1e-5 and PSNR ≥ 100 dB.
/// </summary>
public sealed class FixtureParityTests
{
    private readonly ITestOutputHelper _out;

    public FixtureParityTests(ITestOutputHelper output) => _out = output;

    public static IEnumerable<object[]> Cases() =>
        Directory.GetDirectories(Repo.Path("tests", "fixtures")).Select(d => new object[] { Path.GetFileName(d) }).OrderBy(c => (string)c[0]);

    [Theory]
    [MemberData(nameof(Cases))]
    public void GeneratedCodeMatchesPyTorch(string name)
    {
        string folder = Repo.Path("tests", "fixtures", name);
        var io = SafetensorsIo.Read(Path.Combine(folder, "io.safetensors"));
        var input = io["input"];
        var expected = io["output"].AsFloats();
        int channels = input.Shape[1], height = input.Shape[2], width = input.Shape[3];
        int scale = io["output"].Shape[2] / height;

        GeneratorResult result = GeneratorHarness.RunFolder(folder);
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Severity >= Microsoft.CodeAnalysis.DiagnosticSeverity.Warning);
        Type model = result.LoadModel();
        Assert.Equal(channels, GeneratorHarness.Constant<int>(model, "InputChannels"));
        Assert.Equal(io["output"].Shape[1], GeneratorHarness.Constant<int>(model, "OutputChannels"));
        Assert.Equal(scale, GeneratorHarness.Constant<int>(model, "Scale"));

        var output = new float[expected.Length];
        GeneratorHarness.GetRun(model)(input.AsFloats(), width, height, output);

        double maxDiff = Metrics.MaxAbsDiff(output, expected);
        double psnr = Metrics.Psnr(output, expected);
        _out.WriteLine($"{name}: {channels}×{height}×{width}, max |diff| = {maxDiff:E3}, PSNR = {psnr:F1} dB");
        Assert.True(maxDiff <= 1e-5, $"{name}: max |diff| {maxDiff:E3} > 1e-5 (PSNR {psnr:F1} dB)");
        Assert.True(psnr >= 100, $"{name}: PSNR {psnr:F1} dB < 100 dB");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReferenceInterpreterMatchesPyTorch(string name)
    {
        // Checks the test's own reference against PyTorch, so that random-model tests against it mean something.
        string folder = Repo.Path("tests", "fixtures", name);
        var io = SafetensorsIo.Read(Path.Combine(folder, "io.safetensors"));
        var input = io["input"];
        var expected = io["output_f64"].AsDoubles();
        var reference = ReferenceModel.FromFolder(folder);
        double[] got = reference.Run(input.AsDoubles(), input.Shape[3], input.Shape[2], out _);
        double maxDiff = got.Zip(expected, (a, b) => Math.Abs(a - b)).Max();
        _out.WriteLine($"{name}: reference vs PyTorch float64 max |diff| = {maxDiff:E3}; {reference.SignInputs} Sign inputs, {reference.ExactZeroSignInputs} exactly 0");
        Assert.True(maxDiff <= 1e-9, $"{name}: reference interpreter differs from PyTorch float64 by {maxDiff:E3}");
    }
}
