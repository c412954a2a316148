using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>rprelu</c>: <c>y = PReLU(x + bias0) + bias1</c> per channel (the BBCU unit's activation).</summary>
internal sealed class RPReluOp : OpDefinition
{
    public override string Name => "rprelu";
    public override OpRole Role => OpRole.Pointwise;
    public override string[] RequiredTensors => new[] { "bias0", "slope", "bias1" };

    public override void Infer(NodeCheck node)
    {
        node.PerChannelInput(("bias0", true, false), ("bias1", true, false), ("slope", false, true));
    }

    public override Layer Lower(GraphNode n, LowerContext context) =>
        new RPReluLayer(n.Label, n.Inputs[0], n.Output, n.Tensor("bias0")!.Data, PReluOp.Broadcast(n.Tensor("slope")!.Data, n.Inputs[0].Channels), n.Tensor("bias1")!.Data);
}
