using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// The build-time cost report (BBCU032 and the generated <c>Cost</c> class) for the paper's network sizes,
/// against the paper's Table 1 (BBCU-L, BBCU-M) and Table 2 (DnCNN-BBCU). The graphs are written as
/// tools/export_bbcu.py writes them; the cost depends only on shapes, so the weights are constants.
/// </summary>
public sealed class CostReportTests
{
    private readonly ITestOutputHelper _out;

    public CostReportTests(ITestOutputHelper output) => _out = output;

    /// <summary>Paper value, as printed: OPs in G and Params in K.</summary>
    [Theory]
    [InlineData("bbcul", 2, 18.55, 225.0)]
    [InlineData("bbcul", 4, 79.20, 372.0)]
    [InlineData("bbcum", 2, 1.83, 46.0)]
    [InlineData("bbcum", 4, 3.95, 51.0)]
    [InlineData("dncnn", 1, 0.8, 24.0)]
    public void CostMatchesThePapersTables(string arch, int scale, double paperOps, double paperParams)
    {
        var (json, weights) = PaperModels.Build(arch, scale);
        var result = GeneratorHarness.RunModel(json, weights);
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Severity >= DiagnosticSeverity.Warning);
        string message = result.Single("BBCU032").GetMessage(CultureInfo.InvariantCulture);
        _out.WriteLine(message);
        string source = result.GeneratedSource;
        double ops = Constant(source, "TotalOps") / 1e9, parameters = Constant(source, "TotalParams") / 1e3;
        _out.WriteLine($"{arch} x{scale}: OPs {ops:F3} G (paper {paperOps}), Params {parameters:F2} K (paper {paperParams})");
        // "Agree to the digits printed": within one unit of the paper's last printed digit.
        double opsDigit = paperOps < 1 ? 0.1 : 0.01;
        Assert.InRange(ops, paperOps - opsDigit, paperOps + opsDigit);
        Assert.InRange(parameters, paperParams - 1, paperParams + 1);
        Assert.Contains($"OPs {ops.ToString("0.00", CultureInfo.InvariantCulture)} G", message);
    }

    [Fact]
    public void PartsAddUpAndBinaryCountsAreScaled()
    {
        var (json, weights) = PaperModels.Build("bbcum", 2);
        string source = GeneratorHarness.RunModel(json, weights).GeneratedSource;
        double parts = new[] { "Head", "Body", "Upsampling", "Tail" }.Sum(p => Constant(source, p + "Ops"));
        Assert.Equal(Constant(source, "TotalOps"), parts, 3);
        // BBCU-M ×2 by hand: conv_first 3·64·9·57600; 32 body units and the upsampling unit binary (/64); conv_hr binary at 640×360; conv_last float.
        double expected = 1728.0 * 57600 + 32 * 36864.0 * 57600 / 64 + 147456.0 * 57600 / 64 + 36864.0 * 230400 / 64 + 1728.0 * 230400;
        Assert.Equal(expected, Constant(source, "TotalOps"), 1);
        Assert.Equal(1728.0 * 57600, Constant(source, "HeadOps"), 1);
        Assert.Equal(147456.0 * 57600 / 64, Constant(source, "UpsamplingOps"), 1);
    }

    private static double Constant(string source, string name)
    {
        Match m = Regex.Match(source, $@"\b{name} = ([0-9.E+-]+)");
        Assert.True(m.Success, $"no constant {name}");
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}

/// <summary>Paper-size BBCU-L, BBCU-M and DnCNN-BBCU graphs, as the exporter writes them, with constant weights.</summary>
public static class PaperModels
{
    public static (string Json, byte[] Weights) Build(string arch, int scale)
    {
        var nodes = new List<Dictionary<string, object>>();
        var tensors = new List<(string, int[], float[])>();
        string T(string name, params int[] shape)
        {
            int n = shape.Aggregate(1, (a, b) => a * b);
            tensors.Add((name, shape, Enumerable.Range(0, n).Select(i => i % 3 == 0 ? -0.5f : 0.25f).ToArray()));
            return name;
        }
        void N(string op, string output, string[] inputs, params (string Key, object Value)[] props)
        {
            var d = new Dictionary<string, object> { ["op"] = op, ["inputs"] = inputs, ["output"] = output };
            foreach (var (k, v) in props) d[k] = v;
            nodes.Add(d);
        }
        string BinaryUnit(string p, string x, int cin, int cout)
        {
            N("binary_conv2d", p + ".conv", new[] { x }, ("name", p), ("input_bias", T(p + ".move0.bias", 1, cin, 1, 1)), ("weight", T(p + ".binary_conv.weight", cout, cin, 3, 3)));
            N("rprelu", p + ".act", new[] { p + ".conv" }, ("bias0", T(p + ".relu.pr_bias0.bias", 1, cout, 1, 1)), ("slope", T(p + ".relu.pr_prelu.weight", cout)), ("bias1", T(p + ".relu.pr_bias1.bias", 1, cout, 1, 1)));
            return p + ".act";
        }
        string Conv(string p, string x, int cin, int cout, bool bias = true)
        {
            var props = new List<(string, object)> { ("name", p), ("weight", T(p + ".weight", cout, cin, 3, 3)) };
            if (bias) props.Add(("bias", T(p + ".bias", cout)));
            N("conv2d", p, new[] { x }, props.ToArray());
            return p;
        }
        int channels;
        if (arch == "dncnn")
        {
            channels = 3;
            const int nc = 64, nb = 20;
            N("mul", "x_amp", new[] { "x" }, ("scalar", 130));
            Conv("model.0", "x_amp", 3, nc, bias: false);
            N("relu", "h0", new[] { "model.0" });
            string h = "h0";
            for (int i = 2; i < nb; i++)
            {
                string a = BinaryUnit($"model.{i}", h, nc, nc);
                N("add", $"h{i}", new[] { a, h });
                h = $"h{i}";
            }
            Conv($"model.{nb}", h, nc, 3, bias: false);
            N("sub", "diff", new[] { "x_amp", $"model.{nb}" });
            N("div", "out", new[] { "diff" }, ("scalar", 130));
        }
        else
        {
            channels = 3;
            const int nf = 64, blocks = 16;
            bool m = arch == "bbcum";
            N("mul", "x_amp", new[] { "x" }, ("scalar", 130));
            Conv("conv_first", "x_amp", 3, nf);
            N("leaky_relu", "h0", new[] { "conv_first" }, ("negative_slope", 0.1));
            string h = "h0";
            int k = 0;
            for (int b = 0; b < blocks; b++)
                for (int u = 0; u < 2; u++)
                {
                    string a = BinaryUnit($"body.{b}.body.{u}", h, nf, nf);
                    N("add", $"h{++k}", new[] { a, h });
                    h = $"h{k}";
                }
            int stages = scale == 4 ? 2 : 1, r = scale == 4 ? 2 : scale;
            for (int s = 1; s <= stages; s++)
            {
                string p = $"upconv{s}";
                if (m)
                {
                    string a = BinaryUnit(p, h, nf, nf * r * r);
                    N("pixel_shuffle", p + ".shuffle", new[] { a }, ("factor", r));
                    N("upsample", p + ".up", new[] { h }, ("mode", "nearest"), ("factor", r));
                    N("add", $"up{s}", new[] { p + ".shuffle", p + ".up" });
                    h = $"up{s}";
                }
                else
                {
                    Conv(p, h, nf, nf * r * r);
                    N("pixel_shuffle", p + ".shuffle", new[] { p }, ("factor", r));
                    N("leaky_relu", $"up{s}", new[] { p + ".shuffle" }, ("negative_slope", 0.1));
                    h = $"up{s}";
                }
            }
            if (m)
            {
                string a = BinaryUnit("conv_hr", h, nf, nf);
                N("add", "hr", new[] { a, h });
            }
            else Conv("conv_hr", h, nf, nf);
            N("leaky_relu", "hr_act", new[] { m ? "hr" : "conv_hr" }, ("negative_slope", 0.1));
            Conv("conv_last", "hr_act", nf, 3);
            N("upsample", "base", new[] { "x_amp" }, ("mode", "bilinear"), ("factor", scale), ("align_corners", false));
            N("add", "sum", new[] { "conv_last", "base" });
            N("div", "out", new[] { "sum" }, ("scalar", 130));
        }
        var model = new Dictionary<string, object>
        {
            ["format"] = "bbcu-model", ["version"] = 1, ["name"] = $"{arch}_x{scale}",
            ["inputs"] = new[] { new Dictionary<string, object> { ["name"] = "x", ["channels"] = channels } },
            ["outputs"] = new[] { "out" }, ["nodes"] = nodes,
        };
        return (JsonSerializer.Serialize(model), SafetensorsIo.Write(tensors));
    }
}
