using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace Bbcu.Tests.Infrastructure;

/// <summary>A generated model: JSON text and safetensors bytes.</summary>
public sealed record ModelFiles(string Description, string Json, byte[] Weights, int InputChannels);

/// <summary>
/// Builds random valid models in the v1 format: DnCNN-like trunks with random channel counts
/// (1–130, across 64-bit word boundaries), depth, biases, exactly-zero thresholds and weights, and
/// wiring variants that defeat fusion (a conv output read twice, standalone activations).
/// </summary>
public sealed class RandomModels
{
    private readonly Random _rng;
    private readonly List<object> _nodes = new();
    private readonly List<(string Name, int[] Shape, float[] Data)> _tensors = new();
    private int _counter;

    private RandomModels(int seed) => _rng = new Random(seed);

    private float Normal(double sigma) =>
        (float)(sigma * Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble()));

    private float[] Normals(int n, double sigma) => Enumerable.Range(0, n).Select(_ => Normal(sigma)).ToArray();

    private string Tensor(string name, int[] shape, float[] data)
    {
        _tensors.Add((name, shape, data));
        return name;
    }

    private string Fresh(string prefix) => $"{prefix}{_counter++}";

    private void Node(Dictionary<string, object> node) => _nodes.Add(node);

    public static ModelFiles Create(int seed)
    {
        var m = new RandomModels(seed);
        return m.Build();
    }

    private ModelFiles Build()
    {
        int[] widths = { 1, 2, 5, 16, 63, 64, 65, 100, 130 };
        int cin = _rng.Next(1, 5);
        int nc = widths[_rng.Next(widths.Length)];
        int units = _rng.Next(1, 4);
        bool bias = _rng.Next(2) == 0;
        float k = new[] { 1f, 20f, 130f }[_rng.Next(3)];
        var desc = new StringBuilder($"cin={cin} nc={nc} units={units} bias={bias} k={k}");

        Node(new() { ["op"] = "mul", ["inputs"] = new[] { "x" }, ["output"] = "x_amp", ["scalar"] = k });
        Node(new() { ["op"] = "conv2d", ["name"] = "head", ["inputs"] = new[] { "x_amp" }, ["output"] = "head",
            ["weight"] = Tensor("head.weight", new[] { nc, cin, 3, 3 }, Normals(nc * cin * 9, 0.3)) });
        if (bias) ((Dictionary<string, object>)_nodes[^1])["bias"] = Tensor("head.bias", new[] { nc }, Normals(nc, 0.1));
        Node(new() { ["op"] = "relu", ["inputs"] = new[] { "head" }, ["output"] = "h0" });
        string h = "h0";
        double scale = k * 0.3;
        for (int u = 0; u < units; u++)
        {
            string p = $"body.{u}";
            // Thresholds around the activations' scale, some exactly 0 (Sign(0) = 0 after the ReLU).
            float[] move = Normals(nc, 0.3 * scale);
            for (int c = 0; c < nc; c++) if (_rng.Next(4) == 0) move[c] = 0;
            float[] w = Normals(nc * nc * 9, 1);
            if (_rng.Next(3) == 0) for (int i = 0; i < w.Length; i++) if (_rng.Next(10) == 0) w[i] = 0;
            string conv = Fresh("conv");
            var node = new Dictionary<string, object>
            {
                ["op"] = "binary_conv2d", ["name"] = p, ["inputs"] = new[] { h }, ["output"] = conv,
                ["input_bias"] = Tensor($"{p}.move0.bias", new[] { 1, nc, 1, 1 }, move),
                ["weight"] = Tensor($"{p}.binary_conv.weight", new[] { nc, nc, 3, 3 }, w),
            };
            if (bias) node["bias"] = Tensor($"{p}.binary_conv.bias", new[] { nc }, Normals(nc, 0.1 * scale));
            Node(node);
            int variant = _rng.Next(4);
            string act = Fresh("act");
            Node(new()
            {
                ["op"] = "rprelu", ["name"] = $"{p}.relu", ["inputs"] = new[] { conv }, ["output"] = act,
                ["bias0"] = Tensor($"{p}.relu.pr_bias0.bias", new[] { 1, nc, 1, 1 }, Normals(nc, 0.2 * scale)),
                ["slope"] = Tensor($"{p}.relu.pr_prelu.weight", new[] { nc }, Enumerable.Range(0, nc).Select(_ => (float)(0.05 + 0.45 * _rng.NextDouble())).ToArray()),
                ["bias1"] = Tensor($"{p}.relu.pr_bias1.bias", new[] { 1, nc, 1, 1 }, Normals(nc, 0.2 * scale)),
            });
            string next = Fresh("h");
            switch (variant)
            {
                case 0: // the BBCU-B unit: residual add, fully fused
                    Node(new() { ["op"] = "add", ["inputs"] = new[] { act, h }, ["output"] = next });
                    desc.Append(" B");
                    break;
                case 1: // residual written the other way round
                    Node(new() { ["op"] = "add", ["inputs"] = new[] { h, act }, ["output"] = next });
                    desc.Append(" B'");
                    break;
                case 2: // the conv output read twice: no fusion of the RPReLU
                {
                    string twice = Fresh("t");
                    Node(new() { ["op"] = "add", ["inputs"] = new[] { act, h }, ["output"] = twice });
                    Node(new() { ["op"] = "sub", ["inputs"] = new[] { twice, conv }, ["output"] = next });
                    desc.Append(" unfused");
                    break;
                }
                default: // no residual, a PReLU / LeakyReLU after
                {
                    bool leaky = _rng.Next(2) == 0;
                    var a = new Dictionary<string, object> { ["op"] = leaky ? "leaky_relu" : "prelu", ["inputs"] = new[] { act }, ["output"] = next };
                    if (leaky) a["negative_slope"] = 0.1;
                    else a["slope"] = Tensor($"{p}.prelu.weight", new[] { nc }, Normals(nc, 0.3));
                    Node(a);
                    desc.Append(leaky ? " leaky" : " prelu");
                    break;
                }
            }
            h = next;
        }
        Node(new() { ["op"] = "conv2d", ["name"] = "tail", ["inputs"] = new[] { h }, ["output"] = "noise",
            ["weight"] = Tensor("tail.weight", new[] { cin, nc, 3, 3 }, Normals(cin * nc * 9, 0.3 / Math.Sqrt(nc * 9))) });
        if (bias) ((Dictionary<string, object>)_nodes[^1])["bias"] = Tensor("tail.bias", new[] { cin }, Normals(cin, 0.1));
        Node(new() { ["op"] = "sub", ["inputs"] = new[] { "x_amp", "noise" }, ["output"] = "diff" });
        Node(new() { ["op"] = "div", ["inputs"] = new[] { "diff" }, ["output"] = "out", ["scalar"] = k });

        var model = new Dictionary<string, object>
        {
            ["format"] = "bbcu-model", ["version"] = 1, ["name"] = $"random_{_counter}",
            ["inputs"] = new[] { new Dictionary<string, object> { ["name"] = "x", ["channels"] = cin } },
            ["outputs"] = new[] { "out" },
            ["nodes"] = _nodes,
        };
        string json = JsonSerializer.Serialize(model, new JsonSerializerOptions { WriteIndented = true });
        return new ModelFiles(desc.ToString(), json, SafetensorsIo.Write(_tensors), cin);
    }
}
