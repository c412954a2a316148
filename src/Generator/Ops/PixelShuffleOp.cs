using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>pixel_shuffle</c>: <c>y[c, h·r+i, w·r+j] = x[c·r² + i·r + j, h, w]</c>.</summary>
internal sealed class PixelShuffleOp : OpDefinition
{
    public override string Name => "pixel_shuffle";
    public override OpRole Role => OpRole.PixelShuffle;
    public override string[] RequiredNumbers => new[] { "factor" };

    public override void Infer(NodeCheck node)
    {
        int r = node.Factor("factor", 1);
        if (node.Ok && node.Cin % (r * r) != 0)
            node.Fail(BbcuDiagnostics.ChannelMismatch, node.InputAt(0), node.File, node.Label, $"a multiple of {r * r} (factor²)", node.Inputs[0].Name, node.Cin);
        node.OutChannels = node.Cin / (r * r);
        node.OutScale *= r;
    }

    public override Layer Lower(GraphNode n, LowerContext context) =>
        new ResampleLayer(n.Label, ResampleKind.PixelShuffle, (int)n.Scalars["factor"], n.Inputs[0], n.Output);
}
