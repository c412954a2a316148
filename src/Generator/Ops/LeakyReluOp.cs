using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>leaky_relu</c>: <c>y = x ≥ 0 ? x : negative_slope·x</c>.</summary>
internal sealed class LeakyReluOp : OpDefinition
{
    public override string Name => "leaky_relu";
    public override OpRole Role => OpRole.Pointwise;
    public override string[] RequiredNumbers => new[] { "negative_slope" };

    public override void Infer(NodeCheck node) { }

    public override Layer Lower(GraphNode n, LowerContext context) =>
        new ActivationLayer(n.Label, Activation.LeakyRelu, n.Inputs[0], n.Output) { Slope = (float)n.Scalars["negative_slope"] };
}
