using System;
using System.Linq;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Bbcu.Tests;

/// <summary>The emitted source for three small models, approved by a person (Snapshots/*.verified.cs).</summary>
public sealed class SnapshotTests
{
    /// <summary>A PyTorch-exported DnCNN-BBCU fixture (1 → 8 → 1, k = 20): folding of k, RPReLU and residual fusion.</summary>
    [Fact]
    public void DnCnnFixture()
    {
        var result = GeneratorHarness.RunFolder(Repo.Path("tests", "fixtures", "dncnn_g1_nc8_nb3_1x1"));
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Severity >= DiagnosticSeverity.Warning);
        Approval.Verify("DnCnnFixture", result.GeneratedSource);
    }

    /// <summary>
    /// A DnCNN3-BBCU fixture with two chained binary units (1 → 16 → 1, conv bias): the first signs and
    /// packs the second's input as it writes each row, into the other of two packed buffers.
    /// </summary>
    [Fact]
    public void ChainedBinaryUnits()
    {
        var result = GeneratorHarness.RunFolder(Repo.Path("tests", "fixtures", "dncnn3_g1_nc16_nb4"));
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Severity >= DiagnosticSeverity.Warning);
        Assert.Contains("nextPacked: nextPacked", result.GeneratedSource);
        Approval.Verify("ChainedBinaryUnits", result.GeneratedSource);
    }

    /// <summary>A hand-built 2 → 3 → 2 model with exactly-zero weights (masks), PReLU and an unfused RPReLU.</summary>
    [Fact]
    public void SmallGraphWithZeroWeights()
    {
        var (json, weights) = SmallModels.ZeroWeightsGraph();
        var result = GeneratorHarness.RunModel(json, weights);
        Assert.Contains("BBCU031", result.Ids);
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Severity >= DiagnosticSeverity.Warning);
        Approval.Verify("SmallGraphWithZeroWeights", result.GeneratedSource);
        Approval.Verify("SmallGraphWithZeroWeights.Data", result.GeneratedData);
    }

    [Fact]
    public void SameInputsGiveByteIdenticalSource()
    {
        string folder = Repo.Path("tests", "fixtures", "dncnn_c3_nc70_nb4");
        string a = GeneratorHarness.RunFolder(folder).AllGenerated;
        string b = GeneratorHarness.RunFolder(folder).AllGenerated;
        Assert.Equal(a, b);
    }
}

/// <summary>Small hand-written models shared by tests.</summary>
public static class SmallModels
{
    public static (string Json, byte[] Weights) ZeroWeightsGraph()
    {
        const string json = """
            {
              "format": "bbcu-model",
              "version": 1,
              "name": "small_zero_weights",
              "inputs": [ { "name": "x", "channels": 2 } ],
              "outputs": [ "y" ],
              "nodes": [
                { "op": "conv2d", "name": "head", "inputs": ["x"], "output": "h", "weight": "head.weight", "bias": "head.bias" },
                { "op": "prelu", "name": "act", "inputs": ["h"], "output": "a", "slope": "act.weight" },
                { "op": "binary_conv2d", "name": "body", "inputs": ["a"], "output": "b", "input_bias": "body.move0.bias", "weight": "body.binary_conv.weight" },
                { "op": "rprelu", "name": "body.relu", "inputs": ["b"], "output": "r", "bias0": "body.relu.pr_bias0.bias", "slope": "body.relu.pr_prelu.weight", "bias1": "body.relu.pr_bias1.bias" },
                { "op": "add", "inputs": ["r", "b"], "output": "s" },
                { "op": "conv2d", "name": "tail", "inputs": ["s"], "output": "y", "weight": "tail.weight" }
              ]
            }
            """;
        float[] Seq(int n, float start, float step) => Enumerable.Range(0, n).Select(i => start + step * ((i * 7) % 11 - 5)).ToArray();
        float[] binary = Seq(3 * 3 * 9, 0f, 0.25f);
        binary[4] = 0f; binary[30] = 0f;
        var weights = SafetensorsIo.Write(new (string, int[], float[])[]
        {
            ("head.weight", new[] { 3, 2, 3, 3 }, Seq(54, 0.01f, 0.05f)),
            ("head.bias", new[] { 3 }, new[] { 0.1f, -0.2f, 0f }),
            ("act.weight", new[] { 3 }, new[] { 0.25f, 0.1f, 0.5f }),
            ("body.move0.bias", new[] { 1, 3, 1, 1 }, new[] { 0f, 0.125f, -0.5f }),
            ("body.binary_conv.weight", new[] { 3, 3, 3, 3 }, binary),
            ("body.relu.pr_bias0.bias", new[] { 1, 3, 1, 1 }, new[] { 0.5f, -0.25f, 0f }),
            ("body.relu.pr_prelu.weight", new[] { 3 }, new[] { 0.25f, 0.25f, 0.125f }),
            ("body.relu.pr_bias1.bias", new[] { 1, 3, 1, 1 }, new[] { -0.5f, 0f, 1f }),
            ("tail.weight", new[] { 2, 3, 3, 3 }, Seq(54, 0f, 0.03f)),
        });
        return (json, weights);
    }
}
