using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>add</c>: <c>y = a + b</c>, both of the same channels and size.</summary>
internal sealed class AddOp : OpDefinition
{
    public override string Name => "add";
    public override OpRole Role => OpRole.Elementwise;
    public override int Arity => 2;

    public override void Infer(NodeCheck node) => InferElementwise(node);

    /// <summary>Both inputs have the same channels and the same size.</summary>
    internal static void InferElementwise(NodeCheck node)
    {
        node.Channels(node.Cin, 1);
        if (node.Inputs[1].Scale != node.Inputs[0].Scale)
            node.Fail(BbcuDiagnostics.SizeMismatch, node.InputAt(1), node.File, node.Label, node.Inputs[0].Name, node.Inputs[0].Scale, node.Inputs[1].Name, node.Inputs[1].Scale);
    }

    public override Layer Lower(GraphNode n, LowerContext context) => new ElementwiseLayer(n.Label, ElementwiseOp.Add, n.Inputs[0], n.Inputs[1], n.Output);
}
