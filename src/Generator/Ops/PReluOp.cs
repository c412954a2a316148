using System.Linq;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>prelu</c>: <c>y = x ≥ 0 ? x : slope[c]·x</c>, one slope or one per channel.</summary>
internal sealed class PReluOp : OpDefinition
{
    public override string Name => "prelu";
    public override OpRole Role => OpRole.Pointwise;
    public override string[] RequiredTensors => new[] { "slope" };

    public override void Infer(NodeCheck node) => node.PerChannelInput(("slope", false, true));

    public override Layer Lower(GraphNode n, LowerContext context) =>
        new ActivationLayer(n.Label, Activation.PRelu, n.Inputs[0], n.Output) { Slopes = Broadcast(n.Tensor("slope")!.Data, n.Inputs[0].Channels) };

    /// <summary>One slope for every channel, or the per-channel slopes as given.</summary>
    internal static float[] Broadcast(float[] values, int channels) =>
        values.Length == channels ? values : Enumerable.Repeat(values[0], channels).ToArray();
}
