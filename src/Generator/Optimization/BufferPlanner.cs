using System;
using System.Collections.Generic;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Optimization;

/// <summary>Where each intermediate value lives in the workspace, in floats per input pixel.</summary>
internal sealed class BufferPlan
{
    public Dictionary<Value, int> Offsets { get; } = new();
    /// <summary>Floats of feature maps per input pixel.</summary>
    public int FloatsPerPixel { get; set; }
    /// <summary>64-bit words of packed activations per pixel, all packed buffers together.</summary>
    public int WordsPerPixel => PackedWordsPerPixel * PackedBuffers;
    /// <summary>Flag bytes per pixel, all packed buffers together.</summary>
    public int KindsPerPixel => PackedKindsPerPixel * PackedBuffers;
    /// <summary>Words per pixel of one packed buffer (the widest binary layer's input).</summary>
    public int PackedWordsPerPixel { get; set; }
    /// <summary>Flag bytes per pixel of one packed buffer.</summary>
    public int PackedKindsPerPixel { get; set; }
    /// <summary>Packed buffers: 2 when a layer packs the next one's input while reading its own, else 1 (0 without binary layers).</summary>
    public int PackedBuffers { get; set; }
    /// <summary>The widest value, in floats per input pixel (channels · scale²).</summary>
    public int MaxFloats { get; set; }
    /// <summary>Offset (floats per input pixel) of the tile input and output buffers, after the layers' slots.</summary>
    public int TileOffset { get; set; }
    /// <summary>
    /// Input pixels a tile needs on each side so that its core is computed exactly: the sum over layers
    /// of their reach (k/2 for a k×k convolution, 1 for bilinear upsampling) divided by their scale.
    /// </summary>
    public int Halo { get; set; }
}

/// <summary>
/// Stage 4d: assigns workspace slots from value lifetimes. A layer's output never shares memory with
/// its inputs, except a binary conv's output with its residual when that is the residual's last use
/// (computed in place); a slot is reused as soon as the last reader of its value has run. The model input
/// and output live in the caller's buffers.
/// </summary>
internal static class BufferPlanner
{
    public static BufferPlan Plan(LayerProgram program)
    {
        var plan = new BufferPlan { MaxFloats = program.Input.FloatsPerInputPixel };
        var lastUse = new Dictionary<Value, int>();
        for (int i = 0; i < program.Layers.Count; i++)
            foreach (Value v in program.Layers[i].Inputs) lastUse[v] = i;

        var slots = new List<(int Capacity, bool Free)>();
        var slotOf = new Dictionary<Value, int>();
        for (int i = 0; i < program.Layers.Count; i++)
        {
            Layer layer = program.Layers[i];
            Value output = layer.Output;
            int need = output.FloatsPerInputPixel;
            plan.MaxFloats = Math.Max(plan.MaxFloats, need);
            if (layer is BinaryConvLayer b)
            {
                int area = b.Inputs[0].Scale * b.Inputs[0].Scale;
                plan.PackedWordsPerPixel = Math.Max(plan.PackedWordsPerPixel, 2 * b.Words * area);
                plan.PackedKindsPerPixel = Math.Max(plan.PackedKindsPerPixel, area);
                plan.PackedBuffers = Math.Max(plan.PackedBuffers, b.PackedBuffer + 1);
            }
            if (output != program.Output && layer is BinaryConvLayer { Residual: { } residual } && lastUse[residual] == i
                && slotOf.TryGetValue(residual, out int own) && residual.FloatsPerInputPixel == need)
            {
                // In place: the binary conv reads its input as packed bits and each residual element just
                // before it writes the same element of its output, so the output can take the residual's
                // slot when nothing reads the residual later (the BBCU body: saves a map and the memory
                // traffic of writing a fresh one).
                slotOf[output] = own;
            }
            else if (output != program.Output)
            {
                // Best fit among free slots; else grow the largest free one; else a new slot.
                int best = -1;
                for (int s = 0; s < slots.Count; s++)
                    if (slots[s].Free && slots[s].Capacity >= need && (best < 0 || slots[s].Capacity < slots[best].Capacity))
                        best = s;
                if (best < 0)
                    for (int s = 0; s < slots.Count; s++)
                        if (slots[s].Free && (best < 0 || slots[s].Capacity > slots[best].Capacity))
                            best = s;
                if (best < 0) { slots.Add((need, false)); best = slots.Count - 1; }
                slots[best] = (Math.Max(slots[best].Capacity, need), false);
                slotOf[output] = best;
            }
            foreach (Value v in layer.Inputs)
                if (lastUse[v] == i && slotOf.TryGetValue(v, out int s) && !(slotOf.TryGetValue(output, out int o) && o == s))
                    slots[s] = (slots[s].Capacity, true);
        }

        var slotOffsets = new int[slots.Count];
        for (int s = 0; s < slots.Count; s++)
        {
            slotOffsets[s] = plan.FloatsPerPixel;
            plan.FloatsPerPixel += slots[s].Capacity;
        }
        foreach (var kv in slotOf) plan.Offsets[kv.Key] = slotOffsets[kv.Value];

        // Tiles: an input and an output buffer after the slots, and the halo.
        plan.TileOffset = plan.FloatsPerPixel;
        plan.FloatsPerPixel += program.Input.FloatsPerInputPixel + program.Output.FloatsPerInputPixel;
        double reach = 0;
        foreach (Layer layer in program.Layers)
        {
            double r = layer switch
            {
                ConvLayer c => c.K / 2,
                BinaryConvLayer => 1,
                ResampleLayer { Kind: ResampleKind.Bilinear } => 1,
                _ => 0,
            };
            reach += r / layer.Inputs[0].Scale;
        }
        plan.Halo = (int)Math.Ceiling(reach);
        return plan;
    }
}
