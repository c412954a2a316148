using System;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Parsing;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>channel_expand</c>: <c>y = concat(repeat_interleave(x, repeats), x[0])</c> (BBCU-H's residual).</summary>
internal sealed class ChannelExpandOp : OpDefinition
{
    public override string Name => "channel_expand";
    public override OpRole Role => OpRole.ChannelExpand;
    public override string[] RequiredNumbers => new[] { "repeats" };

    public override void Infer(NodeCheck node)
    {
        double s = node.Numbers["repeats"];
        if (s != Math.Floor(s) || s < 1 || s * node.Cin + 1 > ModelParser.MaxChannels)
        {
            node.Unsupported(node.At("repeats"), $"\"repeats\" is {s}; an integer ≥ 1 with repeats·channels + 1 ≤ {ModelParser.MaxChannels} is supported");
            return;
        }
        node.OutChannels = (int)s * node.Cin + 1;
    }

    public override Layer Lower(GraphNode n, LowerContext context) => new ChannelExpandLayer(n.Label, (int)n.Scalars["repeats"], n.Inputs[0], n.Output);
}
