using System;
using System.Collections.Generic;
using System.Linq;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Lowering;

/// <summary>
/// Stage 3: validated graph → layer IR. Binary convolutions get their per-output-channel scale
/// α = mean|W|, thresholds −input_bias, and packed sign bits here; zero cases are reported.
/// </summary>
internal static class Lowerer
{
    public static LayerProgram Lower(ValidatedModel model, DiagnosticBag diagnostics)
    {
        var layers = new List<Layer>();
        var producers = new Dictionary<Value, GraphNode>();
        foreach (GraphNode n in model.Nodes)
        {
            producers[n.Output] = n;
            layers.Add(LowerNode(n, model, producers, diagnostics));
        }
        return new LayerProgram(model.Name, model.Input, model.Output, layers);
    }

    private static Layer LowerNode(GraphNode n, ValidatedModel model, Dictionary<Value, GraphNode> producers, DiagnosticBag diagnostics)
    {
        Value x = n.Inputs[0];
        switch (n.Op)
        {
            case "conv2d":
            {
                Tensor w = n.Tensor("weight")!;
                return new ConvLayer(n.Label, x, n.Output, w.Shape[2], (float[])w.Data.Clone(), (float[]?)n.Tensor("bias")?.Data.Clone());
            }
            case "binary_conv2d":
                return LowerBinaryConv(n, model, producers, diagnostics);
            case "rprelu":
                return new RPReluLayer(n.Label, x, n.Output, n.Tensor("bias0")!.Data, Broadcast(n.Tensor("slope")!.Data, x.Channels), n.Tensor("bias1")!.Data);
            case "prelu":
                return new ActivationLayer(n.Label, Activation.PRelu, x, n.Output) { Slopes = Broadcast(n.Tensor("slope")!.Data, x.Channels) };
            case "relu":
                return new ActivationLayer(n.Label, Activation.Relu, x, n.Output);
            case "leaky_relu":
                return new ActivationLayer(n.Label, Activation.LeakyRelu, x, n.Output) { Slope = (float)n.Scalars["negative_slope"] };
            case "add":
                return new ElementwiseLayer(n.Label, ElementwiseOp.Add, x, n.Inputs[1], n.Output);
            case "sub":
                return new ElementwiseLayer(n.Label, ElementwiseOp.Subtract, x, n.Inputs[1], n.Output);
            case "mul":
                return new ScalarLayer(n.Label, ScalarOp.Multiply, (float)n.Scalars["scalar"], x, n.Output);
            case "div":
                return new ScalarLayer(n.Label, ScalarOp.Divide, (float)n.Scalars["scalar"], x, n.Output);
            case "pixel_shuffle":
                return new ResampleLayer(n.Label, ResampleKind.PixelShuffle, (int)n.Scalars["factor"], x, n.Output);
            case "upsample":
                return new ResampleLayer(n.Label, n.Strings["mode"] == "nearest" ? ResampleKind.Nearest : ResampleKind.Bilinear, (int)n.Scalars["factor"], x, n.Output);
            case "channel_expand":
                return new ChannelExpandLayer(n.Label, (int)n.Scalars["repeats"], x, n.Output);
            case "batch_norm":
            {
                // As PyTorch's CPU inference does: w = weight / sqrt(var + eps), b = bias − mean·w, y = x·w + b.
                float eps = n.Scalars.TryGetValue("eps", out double e) ? (float)e : 1e-5f;
                float[] weight = n.Tensor("weight")!.Data, bias = n.Tensor("bias")!.Data, mean = n.Tensor("running_mean")!.Data, variance = n.Tensor("running_var")!.Data;
                var scale = new float[x.Channels];
                var shift = new float[x.Channels];
                for (int c = 0; c < scale.Length; c++)
                {
                    float invstd = (float)(1.0 / Math.Sqrt(variance[c] + eps));
                    scale[c] = weight[c] * invstd;
                    shift[c] = bias[c] - mean[c] * scale[c];
                }
                var layer = new AffineLayer(n.Label, x, n.Output, scale, shift);
                layer.Notes.Add($"batch_norm '{n.Label}' as y = x·w + b with w = weight/sqrt(running_var + {eps.ToString("R", System.Globalization.CultureInfo.InvariantCulture)})");
                return layer;
            }
            default:
                throw new InvalidOperationException($"op '{n.Op}' passed validation but has no lowering");
        }
    }

    private static float[] Broadcast(float[] values, int channels) =>
        values.Length == channels ? values : Enumerable.Repeat(values[0], channels).ToArray();

    private static BinaryConvLayer LowerBinaryConv(GraphNode n, ValidatedModel model, Dictionary<Value, GraphNode> producers, DiagnosticBag diagnostics)
    {
        Tensor w = n.Tensor("weight")!;
        Value x = n.Inputs[0];
        int cin = x.Channels, cout = n.Output.Channels, words = (cin + 63) / 64;
        var layer = new BinaryConvLayer(n.Label, x, n.Output);

        // Sign(x + b) > 0  ⇔  x > −b exactly (IEEE addition is exact in sign): threshold t = −b.
        float[]? inputBias = n.Tensor("input_bias")?.Data;
        layer.Thresholds = new float[cin];
        for (int c = 0; c < cin; c++) layer.Thresholds[c] = inputBias is null ? 0f : -inputBias[c];

        var alpha = new float[cout];
        // The kernel's layout: [⌈Cout/4⌉][9 taps][words][4], output channel o in lane o mod 4 (padding lanes are 0).
        int groups = (cout + 3) / 4;
        var signs = new ulong[groups * 9 * words * 4];
        var mask = new ulong[signs.Length];
        var counts = new int[cout * 9];
        int zeros = 0;
        var zeroChannels = new List<int>();
        for (int o = 0; o < cout; o++)
        {
            double sum = 0;
            bool channelHasZero = false;
            for (int c = 0; c < cin; c++)
                for (int tap = 0; tap < 9; tap++)
                {
                    float v = w.Data[(o * cin + c) * 9 + tap];
                    sum += Math.Abs(v);
                    int at = ((o / 4 * 9 + tap) * words + (c >> 6)) * 4 + o % 4;
                    ulong bit = 1UL << (c & 63);
                    if (v < 0) signs[at] |= bit;
                    if (v != 0) { mask[at] |= bit; counts[o * 9 + tap]++; }
                    else { zeros++; channelHasZero = true; }
                }
            // α[o] = mean |W[o, :, :, :]| (HardBinaryConv's per-output-channel scale).
            alpha[o] = (float)(sum / (cin * 9));
            if (channelHasZero) zeroChannels.Add(o);
        }
        layer.Alpha = alpha;
        layer.Signs = signs;
        if (zeros > 0)
        {
            layer.Mask = mask;
            layer.Counts = counts;
            diagnostics.Add(BbcuDiagnostics.ZeroWeights, n.TensorLocations["weight"], model.ModelFile, w.Name, zeros, Ranges(zeroChannels));
        }
        layer.Shift = (float[]?)n.Tensor("bias")?.Data.Clone() ?? new float[cout];
        layer.Notes.Add($"α = mean|{w.Name}| per output channel; thresholds = −{n.Tensor("input_bias")?.Name ?? "0"}");

        // Where can the Sign input be exactly 0? After a ReLU, wherever the threshold is exactly 0.
        if (producers.TryGetValue(x, out GraphNode? producer) && producer.Op == "relu")
        {
            var exact = new List<int>();
            for (int c = 0; c < cin; c++) if (layer.Thresholds[c] == 0f) exact.Add(c);
            if (exact.Count > 0)
                diagnostics.Add(BbcuDiagnostics.SignZeroInput, n.Location, model.ModelFile, n.Label, x.Name, Ranges(exact));
        }
        return layer;
    }

    /// <summary>Formats channel indices compactly: "0-3, 7, 9-10".</summary>
    public static string Ranges(List<int> items)
    {
        var parts = new List<string>();
        for (int i = 0; i < items.Count;)
        {
            int j = i;
            while (j + 1 < items.Count && items[j + 1] == items[j] + 1) j++;
            parts.Add(i == j ? items[i].ToString() : $"{items[i]}-{items[j]}");
            i = j + 1;
        }
        return string.Join(", ", parts);
    }
}
