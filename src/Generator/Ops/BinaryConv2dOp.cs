using System;
using System.Collections.Generic;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary>
/// <c>binary_conv2d</c>: the BBCU binary convolution, <c>α ⊙ (sign(x + input_bias) ⊛ sign(W)) + bias</c>, 3×3.
/// Lowering computes α = mean|W| per output channel, the thresholds −input_bias and the packed sign bits.
/// </summary>
internal sealed class BinaryConv2dOp : OpDefinition
{
    public override string Name => "binary_conv2d";
    public override OpRole Role => OpRole.BinaryConvolution;
    public override string[] RequiredTensors => new[] { "weight" };
    public override string[] OptionalTensors => new[] { "input_bias", "bias" };

    public override void Infer(NodeCheck node) => Conv2dOp.InferConv(node, binary: true);

    public override Layer Lower(GraphNode n, LowerContext context)
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
            context.Diagnostics.Add(BbcuDiagnostics.ZeroWeights, n.TensorLocations["weight"], context.Model.ModelFile, w.Name, zeros, Lowerer.Ranges(zeroChannels));
        }
        layer.Shift = (float[]?)n.Tensor("bias")?.Data.Clone() ?? new float[cout];
        layer.Notes.Add($"α = mean|{w.Name}| per output channel; thresholds = −{n.Tensor("input_bias")?.Name ?? "0"}");

        // Where can the Sign input be exactly 0? After an op that clamps at zero (ReLU), wherever the threshold is exactly 0.
        if (context.Producers.TryGetValue(x, out GraphNode? producer) && producer.Op.ClampsAtZero)
        {
            var exact = new List<int>();
            for (int c = 0; c < cin; c++) if (layer.Thresholds[c] == 0f) exact.Add(c);
            if (exact.Count > 0)
                context.Diagnostics.Add(BbcuDiagnostics.SignZeroInput, n.Location, context.Model.ModelFile, n.Label, x.Name, Lowerer.Ranges(exact));
        }
        return layer;
    }
}
