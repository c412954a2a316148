using System.Linq;
using Bbcu.Generator.Lowering;

namespace Bbcu.Generator.Optimization;

/// <summary>
/// Stage 4b: fuses each layer's output transform into the layer that produces it, so that a BBCU
/// unit (binary conv → RPReLU → residual add) is one pass over the image:
/// binary conv + RPReLU (its first bias folds into the conv's shift), binary conv + add (residual),
/// convolution + activation.
/// </summary>
internal static class EpilogueFuser
{
    public static void Run(LayerProgram p)
    {
        bool changed = true;
        while (changed)
        {
            changed = FuseAffine(p) || FuseRPRelu(p) || FuseResidual(p) || FuseActivation(p);
            if (changed) p.Changed();
        }
    }

    /// <summary>conv → per-channel affine (BatchNorm): folded into α and the shift (binary) or the weights and bias.</summary>
    private static bool FuseAffine(LayerProgram p)
    {
        foreach (AffineLayer a in p.Layers.OfType<AffineLayer>())
        {
            Layer? producer = p.Producer(a.Inputs[0]);
            if (producer is null || p.Uses(producer.Output) != 1) continue;
            if (producer is BinaryConvLayer b && b.Slopes is null && b.Bias1 is null && b.Residual is null)
            {
                var alpha = new float[b.Cout];
                var shift = new float[b.Cout];
                for (int o = 0; o < alpha.Length; o++)
                {
                    alpha[o] = b.Alpha[o] * a.Scale[o];
                    shift[o] = b.Shift[o] * a.Scale[o] + a.Shift[o];
                }
                b.Alpha = alpha;
                b.Shift = shift;
            }
            else if (producer is ConvLayer c && c.Activation == Activation.None)
            {
                int per = c.Weights.Length / c.Cout;
                var w = new float[c.Weights.Length];
                var bias = new float[c.Cout];
                for (int o = 0; o < c.Cout; o++)
                {
                    for (int i = 0; i < per; i++) w[o * per + i] = c.Weights[o * per + i] * a.Scale[o];
                    bias[o] = (c.Bias?[o] ?? 0f) * a.Scale[o] + a.Shift[o];
                }
                c.Weights = w;
                c.Bias = bias;
            }
            else continue;
            producer.Notes.AddRange(a.Notes);
            producer.Notes.Add($"'{a.Label}' folded into the scale and shift");
            producer.Output = a.Output;
            p.Layers.Remove(a);
            return true;
        }
        return false;
    }

    private static bool FuseRPRelu(LayerProgram p)
    {
        foreach (RPReluLayer r in p.Layers.OfType<RPReluLayer>())
        {
            if (p.Producer(r.Inputs[0]) is not BinaryConvLayer b || b.Slopes is not null || b.Bias1 is not null
                || b.Residual is not null || p.Uses(b.Output) != 1)
                continue;
            var shift = new float[b.Cout];
            for (int o = 0; o < shift.Length; o++) shift[o] = b.Shift[o] + r.Shift[o];
            b.Shift = shift;
            b.Slopes = r.Slopes;
            b.Bias1 = r.Bias1;
            b.Notes.Add($"RPReLU '{r.Label}' fused (its first bias folded into the shift)");
            b.Output = r.Output;
            p.Layers.Remove(r);
            return true;
        }
        return false;
    }

    private static bool FuseResidual(LayerProgram p)
    {
        foreach (ElementwiseLayer e in p.Layers.OfType<ElementwiseLayer>())
        {
            if (e.Op != ElementwiseOp.Add || e.Inputs[0] == e.Inputs[1]) continue;
            for (int side = 0; side < 2; side++)
            {
                if (p.Producer(e.Inputs[side]) is not BinaryConvLayer b || b.Residual is not null
                    || p.Uses(b.Output) != 1)
                    continue;
                var residual = e.Inputs[1 - side];
                // The residual must be computed before the conv runs.
                if (p.Producer(residual) is { } rp && p.Layers.IndexOf(rp) > p.Layers.IndexOf(b)) continue;
                b.Inputs.Add(residual);
                b.Notes.Add($"residual add '{e.Label}' (+ '{residual.Name}') fused");
                b.Output = e.Output;
                p.Layers.Remove(e);
                return true;
            }
        }
        return false;
    }

    private static bool FuseActivation(LayerProgram p)
    {
        foreach (ActivationLayer a in p.Layers.OfType<ActivationLayer>())
        {
            if (p.Producer(a.Inputs[0]) is not ConvLayer c || c.Activation != Activation.None || p.Uses(c.Output) != 1)
                continue;
            c.Activation = a.Activation;
            c.Slope = a.Slope;
            c.Slopes = a.Slopes;
            c.Notes.Add($"{a.Activation} '{a.Label}' fused");
            c.Output = a.Output;
            p.Layers.Remove(a);
            return true;
        }
        return false;
    }
}
