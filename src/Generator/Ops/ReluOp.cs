using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>relu</c>: <c>y = max(x, 0)</c>.</summary>
internal sealed class ReluOp : OpDefinition
{
    public override string Name => "relu";
    public override OpRole Role => OpRole.Pointwise;
    public override bool ClampsAtZero => true;

    public override void Infer(NodeCheck node) { }

    public override Layer Lower(GraphNode n, LowerContext context) => new ActivationLayer(n.Label, Activation.Relu, n.Inputs[0], n.Output);
}
