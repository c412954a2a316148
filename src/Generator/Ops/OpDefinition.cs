using System;
using System.Collections.Generic;
using System.Linq;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Parsing;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary>What kind of computation an op is: the cost report and the optimiser classify by this, never by name.</summary>
internal enum OpRole
{
    /// <summary>A full-precision k×k convolution.</summary>
    Convolution,
    /// <summary>A 3×3 binary convolution (XNOR + popcount).</summary>
    BinaryConvolution,
    /// <summary>A per-element or per-channel transform of one input: activations, RPReLU, BatchNorm.</summary>
    Pointwise,
    /// <summary>Two inputs of the same shape combined element by element.</summary>
    Elementwise,
    /// <summary>One input times or divided by a constant.</summary>
    Scalar,
    /// <summary>Channels rearranged into space (PixelShuffle).</summary>
    PixelShuffle,
    /// <summary>Spatial upsampling.</summary>
    Upsample,
    /// <summary>Channels repeated (BBCU-H's residual).</summary>
    ChannelExpand,
}

/// <summary>
/// One op of the model format, in one place: its properties, its checks and shape inference, and its
/// lowering to the layer IR. <see cref="OpRegistry"/> lists them; docs/adding-an-op.md says how to add one.
/// </summary>
internal abstract class OpDefinition
{
    /// <summary>The op's name in the model file (<c>"op": "…"</c>).</summary>
    public abstract string Name { get; }

    public abstract OpRole Role { get; }

    /// <summary>Number of input values.</summary>
    public virtual int Arity => 1;

    /// <summary>Properties naming a tensor (a state_dict key) that must be present.</summary>
    public virtual string[] RequiredTensors => Array.Empty<string>();

    /// <summary>Properties naming a tensor that may be absent or null.</summary>
    public virtual string[] OptionalTensors => Array.Empty<string>();

    /// <summary>Number properties that must be present (finite, in float32 range).</summary>
    public virtual string[] RequiredNumbers => Array.Empty<string>();

    public virtual string[] OptionalNumbers => Array.Empty<string>();

    /// <summary>Other properties (strings, booleans) that <see cref="Infer"/> reads itself; required first.</summary>
    public virtual string[] RequiredOther => Array.Empty<string>();

    public virtual string[] OptionalOther => Array.Empty<string>();

    /// <summary>Whether the output is exactly 0 wherever the input is ≤ 0 (so a Sign after it can see exact zeros).</summary>
    public virtual bool ClampsAtZero => false;

    /// <summary>Every property the op takes, besides the common ones (op, name, inputs, output, comment).</summary>
    public IReadOnlyList<string> Properties => _properties ??= RequiredTensors.Concat(OptionalTensors).Concat(RequiredNumbers).Concat(OptionalNumbers).Concat(RequiredOther).Concat(OptionalOther).ToArray();

    /// <summary>Every property naming a tensor, required ones first.</summary>
    public IReadOnlyList<string> Tensors => _tensors ??= RequiredTensors.Concat(OptionalTensors).ToArray();

    // Built once per op (the registry holds one instance of each), not on every node and property checked.
    private string[]? _properties, _tensors;

    /// <summary>
    /// Checks what only this op knows (tensor shapes, attribute ranges) and sets the output's channels and
    /// scale on <paramref name="node"/>; reports each problem through it. The tensors and numbers are
    /// already resolved and type-checked.
    /// </summary>
    public abstract void Infer(NodeCheck node);

    /// <summary>The node as a layer of the IR, constants in the form the runtime kernel takes.</summary>
    public abstract Layer Lower(GraphNode node, LowerContext context);
}

/// <summary>An op's view of one node during validation: its resolved inputs, tensors and numbers, and where to report.</summary>
internal sealed class NodeCheck
{
    public NodeCheck(NodeDecl decl, Value[] inputs, Dictionary<string, (Tensor Tensor, LocationInfo Location)> tensors,
        Dictionary<string, double> numbers, SourceMap map, DiagnosticBag diagnostics)
    {
        Decl = decl; Inputs = inputs; TensorsAt = tensors; Numbers = numbers; Map = map; Diagnostics = diagnostics;
        OutChannels = inputs[0].Channels;
        OutScale = inputs[0].Scale;
    }

    public NodeDecl Decl { get; }
    public Value[] Inputs { get; }
    public Dictionary<string, (Tensor Tensor, LocationInfo Location)> TensorsAt { get; }
    public Dictionary<string, double> Numbers { get; }
    /// <summary>String-valued properties the op keeps for its lowering (e.g. upsample's mode).</summary>
    public Dictionary<string, string> Strings { get; } = new();
    public SourceMap Map { get; }
    public DiagnosticBag Diagnostics { get; }
    public bool Ok { get; private set; } = true;
    public int OutChannels { get; set; }
    public int OutScale { get; set; }

    public string File => Map.FileName;
    public string Label => Decl.Label;
    public int Cin => Inputs[0].Channels;

    public bool Has(string tensor) => TensorsAt.ContainsKey(tensor);

    public Tensor Tensor(string attr) => TensorsAt[attr].Tensor;

    public LocationInfo TensorAt(string attr) => TensorsAt[attr].Location;

    /// <summary>Where a property's value is in the model file (or the node's start when it is absent).</summary>
    public LocationInfo At(string property) => Decl.Object.Property(property)?.Value is { } v ? Map.At(v) : Map.At(Decl.Object.Start, 1);

    public JsonNode? Property(string property) => Decl.Object.Property(property)?.Value;

    /// <summary>Reports a problem; the node then fails.</summary>
    public void Fail(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, LocationInfo at, params object[] args)
    {
        Diagnostics.Add(descriptor, at, args);
        Ok = false;
    }

    /// <summary>BBCU022 for this node.</summary>
    public void Unsupported(LocationInfo at, string why) => Fail(BbcuDiagnostics.Unsupported, at, File, Label, why);

    /// <summary>BBCU011 for this node.</summary>
    public void Invalid(LocationInfo at, string what) => Fail(BbcuDiagnostics.InvalidModel, at, File, $"node '{Label}': {what}");

    /// <summary>An integer factor from <paramref name="min"/> to <see cref="ModelValidator.MaxFactor"/>.</summary>
    public int Factor(string attr, int min)
    {
        double f = Numbers[attr];
        if (f == Math.Floor(f) && f >= min && f <= ModelValidator.MaxFactor) return (int)f;
        Unsupported(At(attr), $"\"{attr}\" is {f}; an integer from {min} to {ModelValidator.MaxFactor} is supported");
        return 1;
    }

    /// <summary>The tensor must have one of these shapes.</summary>
    public void Shape(string attr, int[] expected, params int[][] alternatives)
    {
        var (t, at) = TensorsAt[attr];
        if (Same(t.Shape, expected) || alternatives.Any(a => Same(t.Shape, a))) return;
        Fail(BbcuDiagnostics.TensorShape, at, File, Label, t.Name, string.Join(", ", expected), string.Join(", ", t.Shape));
    }

    /// <summary>A per-channel tensor, if present: [C], or [1, C, 1, 1] as well when <paramref name="nchw"/>.</summary>
    public void PerChannel(string attr, int channels, bool nchw)
    {
        if (!Has(attr)) return;
        if (nchw) Shape(attr, new[] { 1, channels, 1, 1 }, new[] { channels });
        else Shape(attr, new[] { channels });
    }

    /// <summary>Where the node reads its input <paramref name="index"/> (the value's name in its "inputs").</summary>
    public LocationInfo InputAt(int index) => Map.At(Decl.Inputs[index].Node);

    /// <summary>
    /// Input <paramref name="index"/> must have <paramref name="expected"/> channels: else one BBCU017 where the
    /// node reads it (the wiring), and the node fails, so no node downstream reports it again.
    /// </summary>
    public void Channels(int expected, int index)
    {
        Value value = Inputs[index];
        if (expected != value.Channels) Fail(BbcuDiagnostics.ChannelMismatch, InputAt(index), File, Label, expected, value.Name, value.Channels);
    }

    /// <summary>
    /// The per-channel tensors of a one-input op (<paramref name="tensors"/>: the property, whether [1, C, 1, 1]
    /// is accepted besides [C], whether one value [1] may stand for every channel). When the present ones
    /// agree on a channel count other than the input's, the node reads the wrong value: one BBCU017 that
    /// names the wiring, not a BBCU015 blaming each correct tensor. Otherwise each tensor that does not
    /// fit the input's channels is a BBCU015.
    /// </summary>
    public void PerChannelInput(params (string Attr, bool Nchw, bool Shared)[] tensors)
    {
        int agreed = 0;
        foreach (var (attr, nchw, shared) in tensors)
        {
            if (!Has(attr)) continue;
            int c = ChannelsOf(Tensor(attr), nchw);
            if (shared && c == 1) continue; // one value for every channel fits any count
            if (c < 1 || (agreed != 0 && c != agreed)) { agreed = 0; break; } // the tensors disagree: report each below
            agreed = c;
        }
        if (agreed != 0 && agreed != Cin)
        {
            Channels(agreed, 0);
            return;
        }
        foreach (var (attr, nchw, shared) in tensors)
        {
            if (!Has(attr)) continue;
            if (shared) Shape(attr, new[] { Cin }, nchw ? new[] { new[] { 1, Cin, 1, 1 }, new[] { 1 } } : new[] { new[] { 1 } });
            else PerChannel(attr, Cin, nchw);
        }
    }

    /// <summary>The channel count a per-channel tensor stands for: C for [C] (or [1, C, 1, 1] when <paramref name="nchw"/>), else 0.</summary>
    public static int ChannelsOf(Tensor t, bool nchw) =>
        t.Shape.Length == 1 ? t.Shape[0]
        : nchw && t.Shape.Length == 4 && t.Shape[0] == 1 && t.Shape[2] == 1 && t.Shape[3] == 1 ? t.Shape[1]
        : 0;

    private static bool Same(int[] a, int[] b) => a.Length == b.Length && a.SequenceEqual(b);
}

/// <summary>What a lowering may need besides its node: the model, the node that produced each value, diagnostics.</summary>
internal sealed class LowerContext
{
    public LowerContext(ValidatedModel model, Dictionary<Value, GraphNode> producers, DiagnosticBag diagnostics)
    {
        Model = model; Producers = producers; Diagnostics = diagnostics;
    }

    public ValidatedModel Model { get; }
    public Dictionary<Value, GraphNode> Producers { get; }
    public DiagnosticBag Diagnostics { get; }
}
