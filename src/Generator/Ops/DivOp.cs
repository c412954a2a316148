using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>div</c>: <c>y = x / scalar</c>, scalar non-zero in float32.</summary>
internal sealed class DivOp : OpDefinition
{
    public override string Name => "div";
    public override OpRole Role => OpRole.Scalar;
    public override string[] RequiredNumbers => new[] { "scalar" };

    public override void Infer(NodeCheck node)
    {
        if ((float)node.Numbers["scalar"] == 0f)
            node.Invalid(node.At("scalar"), "division by zero (the scalar is 0 in float32); use a non-zero \"scalar\"");
    }

    public override Layer Lower(GraphNode n, LowerContext context) => new ScalarLayer(n.Label, ScalarOp.Divide, (float)n.Scalars["scalar"], n.Inputs[0], n.Output);
}
