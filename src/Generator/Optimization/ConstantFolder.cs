using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Optimization;

/// <summary>
/// Stage 4a: algebraic folding of scalar multiplies and divides into convolutions, then dead-layer
/// removal. Each rule is a general identity (exact in real arithmetic, within float rounding in
/// float32); none knows about any named network. For DnCNN-BBCU the amplification factor k
/// disappears: <c>(k·x − conv(h))/k</c> becomes <c>x − conv(h; W/k)</c> and the head's
/// <c>conv(k·x; W)</c> becomes <c>conv(x; k·W)</c>.
/// </summary>
internal static class ConstantFolder
{
    public static void Run(LayerProgram program)
    {
        bool changed = true;
        while (changed)
        {
            changed = DistributeOverElementwise(program) || CancelInverse(program) || IntoProducerConv(program) || IntoConsumerConv(program) || RemoveDead(program);
            if (changed) program.Changed();
        }
    }

    /// <summary>(a ± b) ∘ s → (a ∘ s) ± (b ∘ s) when the sum is used only there, so each side can fold further.</summary>
    private static bool DistributeOverElementwise(LayerProgram p)
    {
        foreach (ScalarLayer s in p.Layers.OfType<ScalarLayer>())
        {
            if (p.Producer(s.Inputs[0]) is not ElementwiseLayer e || p.Uses(e.Output) != 1) continue;
            if (!CanAbsorb(p, e.Inputs[0], s) || !CanAbsorb(p, e.Inputs[1], s)) continue;
            int at = p.Layers.IndexOf(e);
            var a = new Value(e.Inputs[0].Name + Suffix(s), e.Inputs[0].Channels, e.Inputs[0].Scale);
            var b = new Value(e.Inputs[1].Name + Suffix(s), e.Inputs[1].Channels, e.Inputs[1].Scale);
            p.Layers.Insert(at, new ScalarLayer(s.Label, s.Op, s.Scalar, e.Inputs[1], b) { Source = s.Source });
            p.Layers.Insert(at, new ScalarLayer(s.Label, s.Op, s.Scalar, e.Inputs[0], a) { Source = s.Source });
            e.Inputs[0] = a;
            e.Inputs[1] = b;
            e.Notes.Add($"{Describe(s)} distributed over both operands");
            e.Output = s.Output;
            p.Layers.Remove(s);
            return true;
        }
        return false;
    }

    /// <summary>(x·s)/s → x and (x/s)·s → x.</summary>
    private static bool CancelInverse(LayerProgram p)
    {
        foreach (ScalarLayer s in p.Layers.OfType<ScalarLayer>())
        {
            if (p.Producer(s.Inputs[0]) is not ScalarLayer inner || inner.Op == s.Op || inner.Scalar != s.Scalar) continue;
            p.Replace(s.Output, inner.Inputs[0]);
            p.Layers.Remove(s);
            return true;
        }
        return false;
    }

    /// <summary>conv(h; W, b) ∘ s → conv(h; W∘s, b∘s) when the conv's output is used only there and has no activation.</summary>
    private static bool IntoProducerConv(LayerProgram p)
    {
        foreach (ScalarLayer s in p.Layers.OfType<ScalarLayer>())
        {
            if (p.Producer(s.Inputs[0]) is not ConvLayer c || c.Activation != Activation.None || p.Uses(c.Output) != 1) continue;
            float[]? w = Apply(c.Weights, s), b = c.Bias is null ? null : Apply(c.Bias, s);
            if (w is null || (c.Bias is not null && b is null)) continue;
            c.Weights = w;
            c.Bias = b;
            c.Notes.Add($"{Describe(s)} folded into the weights and bias");
            c.Output = s.Output;
            p.Layers.Remove(s);
            return true;
        }
        return false;
    }

    /// <summary>conv(x∘s; W, b) → conv(x; W∘s, b) (the convolution is linear in its input).</summary>
    private static bool IntoConsumerConv(LayerProgram p)
    {
        foreach (ConvLayer c in p.Layers.OfType<ConvLayer>())
        {
            if (p.Producer(c.Inputs[0]) is not ScalarLayer s || Apply(c.Weights, s) is not { } w) continue;
            c.Weights = w;
            c.Inputs[0] = s.Inputs[0];
            c.Notes.Add($"input {Describe(s)} folded into the weights");
            return true;
        }
        return false;
    }

    private static bool RemoveDead(LayerProgram p)
    {
        int removed = p.Layers.RemoveAll(l => l.Output != p.Output && p.Uses(l.Output) == 0);
        return removed > 0;
    }

    /// <summary>Whether <c>v ∘ s</c> would fold away: v is <c>x ∘⁻¹ s</c>, or a single-use convolution without activation.</summary>
    private static bool CanAbsorb(LayerProgram p, Value v, ScalarLayer s) => p.Producer(v) switch
    {
        ScalarLayer inner => inner.Op != s.Op && inner.Scalar == s.Scalar,
        ConvLayer c => c.Activation == Activation.None && p.Uses(v) == 1,
        _ => false,
    };

    /// <summary>The values scaled, or null when a result would not be finite (then the rule does not fire).</summary>
    private static float[]? Apply(float[] values, ScalarLayer s)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = s.Op == ScalarOp.Multiply ? values[i] * s.Scalar : values[i] / s.Scalar;
            if (float.IsInfinity(result[i]) || float.IsNaN(result[i])) return null;
        }
        return result;
    }

    private static string Suffix(ScalarLayer s) => s.Op == ScalarOp.Multiply ? "·s" : "/s";

    public static string Describe(ScalarLayer s) =>
        (s.Op == ScalarOp.Multiply ? "×" : "÷") + s.Scalar.ToString("R", CultureInfo.InvariantCulture) + $" ('{s.Label}')";
}
