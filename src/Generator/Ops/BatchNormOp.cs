using System;
using System.Globalization;
using System.Linq;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Ops;

/// <summary><c>batch_norm</c> (inference): <c>y = (x − running_mean)/sqrt(running_var + eps)·weight + bias</c> per channel.</summary>
internal sealed class BatchNormOp : OpDefinition
{
    public override string Name => "batch_norm";
    public override OpRole Role => OpRole.Pointwise;
    public override string[] RequiredTensors => new[] { "weight", "bias", "running_mean", "running_var" };
    public override string[] OptionalNumbers => new[] { "eps" };

    public override void Infer(NodeCheck node)
    {
        node.PerChannelInput(("weight", false, false), ("bias", false, false), ("running_mean", false, false), ("running_var", false, false));
        if (node.Numbers.TryGetValue("eps", out double eps) && !(eps > 0))
            node.Invalid(node.At("eps"), "\"eps\" must be positive");
        if (node.Ok && node.Tensor("running_var").Data.Any(v => v < 0))
            node.Invalid(node.TensorAt("running_var"), $"running_var '{node.Tensor("running_var").Name}' has negative entries; a variance is ≥ 0");
    }

    public override Layer Lower(GraphNode n, LowerContext context)
    {
        // As PyTorch's CPU inference does: w = weight / sqrt(var + eps), b = bias − mean·w, y = x·w + b.
        Value x = n.Inputs[0];
        float eps = n.Scalars.TryGetValue("eps", out double e) ? (float)e : 1e-5f;
        float[] weight = n.Tensor("weight")!.Data, bias = n.Tensor("bias")!.Data, mean = n.Tensor("running_mean")!.Data, variance = n.Tensor("running_var")!.Data;
        var scale = new float[x.Channels];
        var shift = new float[x.Channels];
        for (int c = 0; c < scale.Length; c++)
        {
            float invstd = (float)(1.0 / Math.Sqrt(variance[c] + eps));
            scale[c] = weight[c] * invstd;
            shift[c] = bias[c] - mean[c] * scale[c];
        }
        var layer = new AffineLayer(n.Label, x, n.Output, scale, shift);
        layer.Notes.Add($"batch_norm '{n.Label}' as y = x·w + b with w = weight/sqrt(running_var + {eps.ToString("R", CultureInfo.InvariantCulture)})");
        return layer;
    }
}
