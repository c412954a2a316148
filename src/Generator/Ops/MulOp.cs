using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>mul</c>: <c>y = x · scalar</c> (DnCNN-BBCU's amplification factor k; folded away where possible).</summary>
internal sealed class MulOp : OpDefinition
{
    public override string Name => "mul";
    public override OpRole Role => OpRole.Scalar;
    public override string[] RequiredNumbers => new[] { "scalar" };

    public override void Infer(NodeCheck node) { }

    public override Layer Lower(GraphNode n, LowerContext context) => new ScalarLayer(n.Label, ScalarOp.Multiply, (float)n.Scalars["scalar"], n.Inputs[0], n.Output);
}
