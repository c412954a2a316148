using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Parsing;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>upsample</c>: nearest or bilinear (align_corners = false) upsampling by an integer factor.</summary>
internal sealed class UpsampleOp : OpDefinition
{
    public override string Name => "upsample";
    public override OpRole Role => OpRole.Upsample;
    public override string[] RequiredNumbers => new[] { "factor" };
    public override string[] RequiredOther => new[] { "mode" };
    public override string[] OptionalOther => new[] { "align_corners" };

    public override void Infer(NodeCheck node)
    {
        int r = node.Factor("factor", 1);
        node.OutScale *= r;
        JsonNode? mode = node.Property("mode");
        JsonNode? corners = node.Property("align_corners");
        if (mode is null || mode.Kind != JsonKind.String || (mode.String != "nearest" && mode.String != "bilinear"))
        {
            node.Invalid(node.At("mode"), "upsample needs \"mode\": \"nearest\" or \"bilinear\"");
            return;
        }
        node.Strings["mode"] = mode.String;
        if (corners is not null && corners.Kind != JsonKind.False)
        {
            string why = corners.Kind == JsonKind.True
                ? "align_corners = true is not supported (BBCU networks use false); export with align_corners=False"
                : "\"align_corners\" must be false";
            if (mode.String == "nearest")
                node.Fail(BbcuDiagnostics.InvalidModel, node.Map.At(corners), node.File, $"node '{node.Label}': nearest upsampling takes no \"align_corners\"", why);
            else
                node.Fail(BbcuDiagnostics.Unsupported, node.Map.At(corners), node.File, node.Label, why);
        }
    }

    public override Layer Lower(GraphNode n, LowerContext context) =>
        new ResampleLayer(n.Label, n.Strings["mode"] == "nearest" ? ResampleKind.Nearest : ResampleKind.Bilinear, (int)n.Scalars["factor"], n.Inputs[0], n.Output);
}
