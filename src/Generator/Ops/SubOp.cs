using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>sub</c>: <c>y = a − b</c>, both of the same channels and size.</summary>
internal sealed class SubOp : OpDefinition
{
    public override string Name => "sub";
    public override OpRole Role => OpRole.Elementwise;
    public override int Arity => 2;

    public override void Infer(NodeCheck node) => AddOp.InferElementwise(node);

    public override Layer Lower(GraphNode n, LowerContext context) => new ElementwiseLayer(n.Label, ElementwiseOp.Subtract, n.Inputs[0], n.Inputs[1], n.Output);
}
