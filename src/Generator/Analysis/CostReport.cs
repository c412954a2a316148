using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Ops;
using Bbcu.Generator.Optimization;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Analysis;

/// <summary>
/// The model's cost in the paper's accounting (Sec. 4.1): convolution multiply-accumulates for a
/// 320×180 input at each layer's own resolution, with <c>OPs_b = OPs_f / 64</c> for binary layers, and
/// parameters with <c>Params_b = Params_f / 32</c> for binary weights. As in the paper's tables, only
/// convolution weights and biases count: the per-channel floats of the binary units (move0, RPReLU,
/// BatchNorm) and elementwise ops are listed separately.
/// </summary>
internal sealed class CostReport
{
    public const int ReferenceWidth = 320, ReferenceHeight = 180;
    public static readonly string[] Parts = { "head", "body", "upsampling", "tail" };

    public Dictionary<string, double> Ops { get; } = Parts.ToDictionary(p => p, _ => 0.0);
    public Dictionary<string, double> Params { get; } = Parts.ToDictionary(p => p, _ => 0.0);
    public long BinaryMacs { get; private set; }
    public long FloatMacs { get; private set; }
    public long UnitFloats { get; private set; }
    public long PackedWeightBytes { get; private set; }
    public long WorkspaceBytes { get; private set; }
    public double TotalOps => Ops.Values.Sum();
    public double TotalParams => Params.Values.Sum();

    /// <summary>Which part each node belongs to, inferred from the graph's structure.</summary>
    public static Dictionary<GraphNode, string> Classify(ValidatedModel model)
    {
        var nodes = model.Nodes;
        var consumers = new Dictionary<Value, List<GraphNode>>();
        foreach (GraphNode n in nodes)
            foreach (Value v in n.Inputs)
            {
                if (!consumers.TryGetValue(v, out var list)) consumers[v] = list = new List<GraphNode>();
                list.Add(n);
            }
        int firstBinary = nodes.FindIndex(n => n.Op.Role == OpRole.BinaryConvolution);
        int lastBinary = nodes.FindLastIndex(n => n.Op.Role == OpRole.BinaryConvolution);
        // A convolution belongs to the upsampling part when its output (through pointwise ops) is pixel-shuffled.
        bool FeedsShuffle(Value v, int depth)
        {
            if (depth > 8 || !consumers.TryGetValue(v, out var list)) return false;
            return list.Any(c => c.Op.Role == OpRole.PixelShuffle || (c.Op.Role == OpRole.Pointwise && FeedsShuffle(c.Output, depth + 1)));
        }
        var parts = new Dictionary<GraphNode, string>();
        for (int i = 0; i < nodes.Count; i++)
        {
            GraphNode n = nodes[i];
            string part;
            if (n.Op.Role is OpRole.PixelShuffle or OpRole.Upsample || FeedsShuffle(n.Output, 0)) part = "upsampling";
            else if (firstBinary < 0 ? i == 0 : i < firstBinary) part = "head";
            else if (n.Inputs[0].Scale > 1 || (lastBinary >= 0 && i > lastBinary) || (firstBinary < 0 && i == nodes.Count - 1)) part = "tail";
            else part = "body";
            parts[n] = part;
        }
        return parts;
    }

    public static CostReport Compute(ValidatedModel model, LayerProgram program, BufferPlan plan)
    {
        var report = new CostReport();
        var parts = Classify(model);
        foreach (GraphNode n in model.Nodes)
        {
            string part = parts[n];
            long pixels = (long)ReferenceWidth * ReferenceHeight * n.Inputs[0].Scale * n.Inputs[0].Scale;
            if (n.Op.Role is OpRole.Convolution or OpRole.BinaryConvolution)
            {
                int[] w = n.Tensor("weight")!.Shape;
                long weights = (long)w[0] * w[1] * w[2] * w[3];
                long macs = weights * pixels;
                long bias = n.Tensor("bias")?.Data.Length ?? 0;
                if (n.Op.Role == OpRole.Convolution)
                {
                    report.FloatMacs += macs;
                    report.Ops[part] += macs;
                    report.Params[part] += weights + bias;
                }
                else
                {
                    report.BinaryMacs += macs;
                    report.Ops[part] += macs / 64.0;
                    report.Params[part] += weights / 32.0 + bias;
                    report.UnitFloats += n.Tensor("input_bias")?.Data.Length ?? 0;
                }
            }
            else
            {
                foreach (Tensor t in n.Tensors.Values) report.UnitFloats += t.Data.Length;
            }
        }
        foreach (BinaryConvLayer b in program.Layers.OfType<BinaryConvLayer>())
            report.PackedWeightBytes += 8L * (b.Signs.Length + (b.Mask?.Length ?? 0));
        report.WorkspaceBytes = (long)ReferenceWidth * ReferenceHeight * (plan.FloatsPerPixel * 4L + plan.WordsPerPixel * 8L + plan.KindsPerPixel);
        return report;
    }

    private static string G(double ops) => (ops / 1e9).ToString("0.00", CultureInfo.InvariantCulture);

    private static string K(double p) => (p / 1e3).ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>One line, as the info diagnostic and the generated <c>Cost.Summary</c> show it.</summary>
    public string Summary =>
        $"at {ReferenceWidth}×{ReferenceHeight}: OPs {G(TotalOps)} G (" + string.Join(", ", Parts.Select(p => $"{p} {G(Ops[p])}")) + "), " +
        $"Params {K(TotalParams)} K (" + string.Join(", ", Parts.Select(p => $"{p} {K(Params[p])}")) + "), " +
        $"packed binary weights {PackedWeightBytes} B, workspace {WorkspaceBytes} B";
}
