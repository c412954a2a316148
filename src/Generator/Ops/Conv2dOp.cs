using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Parsing;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>conv2d</c>: full-precision k×k convolution (k odd, up to 11), stride 1, zero padding k/2.</summary>
internal sealed class Conv2dOp : OpDefinition
{
    public override string Name => "conv2d";
    public override OpRole Role => OpRole.Convolution;
    public override string[] RequiredTensors => new[] { "weight" };
    public override string[] OptionalTensors => new[] { "bias" };
    public override string[] OptionalNumbers => new[] { "padding" };

    public override void Infer(NodeCheck node) => InferConv(node, binary: false);

    /// <summary>The checks both convolutions share: a [Cout, Cin, k, k] weight, a supported kernel, 'same' padding.</summary>
    internal static void InferConv(NodeCheck node, bool binary)
    {
        Tensor w = node.Tensor("weight");
        LocationInfo wAt = node.TensorAt("weight");
        if (w.Shape.Length != 4)
        {
            node.Fail(BbcuDiagnostics.TensorShape, wAt, node.File, node.Label, w.Name, "Cout, Cin, k, k", w.ShapeText());
            return;
        }
        int k = w.Shape[2];
        if (w.Shape[2] != w.Shape[3] || k % 2 == 0 || k > 11 || (binary && k != 3))
        {
            node.Unsupported(wAt, $"kernel {w.Shape[2]}×{w.Shape[3]} of '{w.Name}' is not supported; " + (binary ? "binary convolutions must be 3×3" : "full-precision convolutions need a square odd kernel up to 11×11"));
            return;
        }
        int cout = w.Shape[0];
        if (cout < 1 || cout > ModelParser.MaxChannels || w.Shape[1] < 1)
        {
            node.Unsupported(wAt, $"'{w.Name}' has {cout} output channels; 1 to {ModelParser.MaxChannels} are supported");
            return;
        }
        // The weight's Cin against the input's channels. A binary conv's input_bias decides which side is
        // wrong: agreeing with the weight, the input is wired to the wrong value (BBCU017 where the node reads
        // it, and input_bias is checked against the weight, so no BBCU015 blames a correct tensor); agreeing
        // with the input, the weight is the one that does not fit (BBCU015 on the weight alone).
        int cin = w.Shape[1];
        if (binary && cin != node.Cin && node.Has("input_bias") && NodeCheck.ChannelsOf(node.Tensor("input_bias"), nchw: true) == node.Cin)
            node.Fail(BbcuDiagnostics.TensorShape, wAt, node.File, node.Label, w.Name, $"{cout}, {node.Cin}, {k}, {k}", w.ShapeText());
        else
        {
            node.Channels(cin, 0);
            if (binary) node.PerChannel("input_bias", cin, nchw: true);
        }
        node.PerChannel("bias", cout, nchw: false);
        if (node.Numbers.TryGetValue("padding", out double pad) && pad != k / 2)
            node.Unsupported(node.At("padding"), $"padding {pad} is not supported; a {k}×{k} convolution uses 'same' zero padding {k / 2}");
        node.OutChannels = cout;
    }

    public override Layer Lower(GraphNode n, LowerContext context)
    {
        Tensor w = n.Tensor("weight")!;
        return new ConvLayer(n.Label, n.Inputs[0], n.Output, w.Shape[2], (float[])w.Data.Clone(), (float[]?)n.Tensor("bias")?.Data.Clone());
    }
}
