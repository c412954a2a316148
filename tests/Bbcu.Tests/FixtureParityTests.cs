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
/// the generated code must match PyTorch's float32 output to max |diff| ≤ 1e-5 and PSNR ≥ 135 dB (the
/// project's parity bar), with no NaN or ±∞ anywhere.
/// </summary>
public sealed class FixtureParityTests
{
    public const double MinPsnr = 135;

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

        Closeness c = FloatAssert.Close(output, expected, 1e-5, name);
        Closeness f64 = FloatAssert.Close(output, io["output_f64"].AsDoubles(), 1e-5, name + " vs float64");
        _out.WriteLine($"{name}: {channels}×{height}×{width}, {c}; vs PyTorch float64: {f64}");
        Assert.True(c.Psnr >= MinPsnr, $"{name}: PSNR {c.Psnr:F1} dB < {MinPsnr} dB");
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
        FloatAssert.AllFinite(got, name + " reference interpreter");
        FloatAssert.AllFinite(expected, name + " PyTorch float64");
        Assert.Equal(expected.Length, got.Length);
        double maxDiff = 0;
        for (int i = 0; i < got.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(got[i] - expected[i]));
        _out.WriteLine($"{name}: reference vs PyTorch float64 max |diff| = {maxDiff:E3}; {reference.SignInputs} Sign inputs, {reference.ExactZeroSignInputs} exactly 0");
        Assert.True(maxDiff <= 1e-9, $"{name}: reference interpreter differs from PyTorch float64 by {maxDiff:E3}");
    }
}
