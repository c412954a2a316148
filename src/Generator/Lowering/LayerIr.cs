using System.Collections.Generic;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Lowering;

/// <summary>Activation fused into a layer's epilogue (mirrors the runtime's <c>BbcuActivation</c>).</summary>
internal enum Activation { None, Relu, LeakyRelu, PRelu }

/// <summary>
/// One layer of the layer IR: what becomes one generated method. Layers read <see cref="Inputs"/>
/// and write <see cref="Output"/>; every constant is already in the form the runtime kernel uses.
/// </summary>
internal abstract class Layer
{
    protected Layer(string label, List<Value> inputs, Value output)
    {
        Label = label; Inputs = inputs; Output = output;
    }

    /// <summary>Model-file name of the node this layer came from.</summary>
    public string Label { get; }
    public List<Value> Inputs { get; }
    public Value Output { get; set; }
    /// <summary>What the optimiser folded or fused into this layer, for the generated comment.</summary>
    public List<string> Notes { get; } = new();
    /// <summary>The op of the node this layer came from (null for a layer the optimiser made).</summary>
    public Ops.OpDefinition? Source { get; set; }
}

/// <summary>Full-precision k×k convolution with an optional fused activation.</summary>
internal sealed class ConvLayer : Layer
{
    public ConvLayer(string label, Value input, Value output, int k, float[] weights, float[]? bias)
        : base(label, new List<Value> { input }, output)
    {
        K = k; Weights = weights; Bias = bias;
    }

    public int Cin => Inputs[0].Channels;
    public int Cout => Output.Channels;
    public int K { get; }
    public float[] Weights { get; set; }
    public float[]? Bias { get; set; }
    public Activation Activation { get; set; }
    public float Slope { get; set; }
    public float[]? Slopes { get; set; }
}

/// <summary>
/// 3×3 binary convolution of <c>sign(x − Thresholds)</c> with <c>sign(W)</c> followed by the folded
/// epilogue <c>z = Alpha·s + Shift</c>, optional PReLU slopes, <c>+ Bias1</c>, <c>+ residual</c>.
/// </summary>
internal sealed class BinaryConvLayer : Layer
{
    public BinaryConvLayer(string label, Value input, Value output) : base(label, new List<Value> { input }, output) { }

    public int Cin => Inputs[0].Channels;
    public int Cout => Output.Channels;
    public int Words => (Cin + 63) / 64;
    public float[] Thresholds { get; set; } = System.Array.Empty<float>();
    /// <summary>Sign bits, [Cout][9][Words], bit set for a negative weight.</summary>
    public ulong[] Signs { get; set; } = System.Array.Empty<ulong>();
    /// <summary>Non-zero bits (null when no weight is exactly 0).</summary>
    public ulong[]? Mask { get; set; }
    /// <summary>Non-zero weights per [Cout][tap] (null when no weight is exactly 0).</summary>
    public int[]? Counts { get; set; }
    public float[] Alpha { get; set; } = System.Array.Empty<float>();
    public float[] Shift { get; set; } = System.Array.Empty<float>();
    public float[]? Slopes { get; set; }
    public float[]? Bias1 { get; set; }
    public Value? Residual => Inputs.Count > 1 ? Inputs[1] : null;
    /// <summary>The layer whose input this one signs and packs as it writes each row (see <c>SignPackFuser</c>), or null.</summary>
    public BinaryConvLayer? PacksFor { get; set; }
    /// <summary>Whether the previous layer already packed this layer's input (no SignPack of its own).</summary>
    public bool InputPrepacked { get; set; }
    /// <summary>Which of the workspace's packed buffers (0 or 1) holds this layer's packed input.</summary>
    public int PackedBuffer { get; set; }
}

internal enum ElementwiseOp { Add, Subtract }

/// <summary><c>y = a ± b</c>.</summary>
internal sealed class ElementwiseLayer : Layer
{
    public ElementwiseLayer(string label, ElementwiseOp op, Value a, Value b, Value output)
        : base(label, new List<Value> { a, b }, output) => Op = op;

    public ElementwiseOp Op { get; }
}

internal enum ScalarOp { Multiply, Divide }

/// <summary><c>y = x·s</c> or <c>y = x / s</c>.</summary>
internal sealed class ScalarLayer : Layer
{
    public ScalarLayer(string label, ScalarOp op, float scalar, Value input, Value output)
        : base(label, new List<Value> { input }, output)
    {
        Op = op; Scalar = scalar;
    }

    public ScalarOp Op { get; }
    public float Scalar { get; }
}

/// <summary>A standalone activation (when it could not be fused into a convolution).</summary>
internal sealed class ActivationLayer : Layer
{
    public ActivationLayer(string label, Activation activation, Value input, Value output)
        : base(label, new List<Value> { input }, output) => Activation = activation;

    public Activation Activation { get; }
    public float Slope { get; set; }
    public float[]? Slopes { get; set; }
}

/// <summary>A standalone RPReLU: <c>y = PReLU(x + Shift) + Bias1</c>.</summary>
internal sealed class RPReluLayer : Layer
{
    public RPReluLayer(string label, Value input, Value output, float[] shift, float[] slopes, float[] bias1)
        : base(label, new List<Value> { input }, output)
    {
        Shift = shift; Slopes = slopes; Bias1 = bias1;
    }

    public float[] Shift { get; }
    public float[] Slopes { get; }
    public float[] Bias1 { get; }
}

/// <summary>Per-channel affine map <c>y = x·Scale[c] + Shift[c]</c> (an inference-mode BatchNorm).</summary>
internal sealed class AffineLayer : Layer
{
    public AffineLayer(string label, Value input, Value output, float[] scale, float[] shift)
        : base(label, new List<Value> { input }, output)
    {
        Scale = scale; Shift = shift;
    }

    public float[] Scale { get; }
    public float[] Shift { get; }
}

internal enum ResampleKind { PixelShuffle, Nearest, Bilinear }

/// <summary>Changes the spatial size by <see cref="Factor"/>: pixel shuffle, or nearest / bilinear upsampling.</summary>
internal sealed class ResampleLayer : Layer
{
    public ResampleLayer(string label, ResampleKind kind, int factor, Value input, Value output)
        : base(label, new List<Value> { input }, output)
    {
        Kind = kind; Factor = factor;
    }

    public ResampleKind Kind { get; }
    public int Factor { get; }
}

/// <summary>BBCU-H's residual: <c>concat(repeat_interleave(x, Repeats), x[0])</c>.</summary>
internal sealed class ChannelExpandLayer : Layer
{
    public ChannelExpandLayer(string label, int repeats, Value input, Value output)
        : base(label, new List<Value> { input }, output) => Repeats = repeats;

    public int Repeats { get; }
}

/// <summary>The whole program: layers in execution order, the input and output values.</summary>
internal sealed class LayerProgram
{
    public LayerProgram(string name, Value input, Value output, List<Layer> layers)
    {
        Name = name; Input = input; Output = output; Layers = layers;
    }

    public string Name { get; }
    public Value Input { get; }
    public Value Output { get; set; }
    public List<Layer> Layers { get; }

    // Def-use index: which layer writes each value, and how many reads each value has (a read as the
    // model output counts). Built on the first query after a change; a pass that rewrites layers calls
    // Changed() (the passes' drivers do, after every rule that fired).
    private Dictionary<Value, Layer>? _producers;
    private Dictionary<Value, int>? _uses;

    /// <summary>The layer that writes <paramref name="v"/>, or null (the model input).</summary>
    public Layer? Producer(Value v)
    {
        Index();
        return _producers!.TryGetValue(v, out Layer? l) ? l : null;
    }

    /// <summary>How many times <paramref name="v"/> is read (by layers, and once more if it is the model output).</summary>
    public int Uses(Value v)
    {
        Index();
        return _uses!.TryGetValue(v, out int n) ? n : 0;
    }

    /// <summary>Makes every reader of <paramref name="old"/> read <paramref name="replacement"/>.</summary>
    public void Replace(Value old, Value replacement)
    {
        foreach (Layer l in Layers)
            for (int i = 0; i < l.Inputs.Count; i++)
                if (l.Inputs[i] == old) l.Inputs[i] = replacement;
        if (Output == old) Output = replacement;
        Changed();
    }

    /// <summary>Drops the def-use index after a rewrite of the layers, their inputs or outputs.</summary>
    public void Changed()
    {
        _producers = null;
        _uses = null;
    }

    private void Index()
    {
        if (_producers is not null) return;
        var producers = new Dictionary<Value, Layer>();
        var uses = new Dictionary<Value, int>();
        foreach (Layer l in Layers)
        {
            if (!producers.ContainsKey(l.Output)) producers.Add(l.Output, l);
            foreach (Value v in l.Inputs) uses[v] = (uses.TryGetValue(v, out int n) ? n : 0) + 1;
        }
        uses[Output] = (uses.TryGetValue(Output, out int o) ? o : 0) + 1;
        _producers = producers;
        _uses = uses;
    }
}
