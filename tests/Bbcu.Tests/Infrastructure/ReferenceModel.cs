using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace Bbcu.Tests.Infrastructure;

/// <summary>
/// An independent, plain interpreter of the BBCU semantics (../shared/reference/bbcu-semantics.md)
/// in double precision, straight from the model JSON and the safetensors file. It shares no code
/// with the generator: it is what the generated code is checked against.
/// </summary>
public sealed class ReferenceModel
{
    private readonly JsonElement _root;
    private readonly Dictionary<string, SafetensorsIo.TensorData> _weights;

    public ReferenceModel(string json, Dictionary<string, SafetensorsIo.TensorData> weights)
    {
        _root = JsonDocument.Parse(json).RootElement.Clone();
        _weights = weights;
        InputName = _root.GetProperty("inputs")[0].GetProperty("name").GetString()!;
        InputChannels = _root.GetProperty("inputs")[0].GetProperty("channels").GetInt32();
        OutputName = _root.GetProperty("outputs")[0].GetString()!;
    }

    public static ReferenceModel FromFolder(string folder) =>
        new(File.ReadAllText(Path.Combine(folder, "model.json")), SafetensorsIo.Read(Path.Combine(folder, "model.safetensors")));

    public string InputName { get; }
    public int InputChannels { get; }
    public string OutputName { get; }

    /// <summary>Sign inputs seen in the last run: total, exact zeros, and the smallest |x + b| relative to the unit's input scale among the others.</summary>
    public long SignInputs { get; private set; }
    public long ExactZeroSignInputs { get; private set; }
    public double MinRelativeMargin { get; private set; }
    public int OutputWidth { get; private set; }
    public int OutputHeight { get; private set; }

    /// <summary>How many Sign inputs a run on a width × height image has.</summary>
    public long CountSignInputs(int width, int height) =>
        _root.GetProperty("nodes").EnumerateArray().Where(n => n.GetProperty("op").GetString() == "binary_conv2d")
            .Sum(n => (long)Shape(Str(n, "weight"))[1] * width * height);

    private double[] W(string key) => _weights[key].AsDoubles();
    private int[] Shape(string key) => _weights[key].Shape;

    public double[] Run(double[] input, int width, int height, out int outChannels)
    {
        SignInputs = 0; ExactZeroSignInputs = 0; MinRelativeMargin = double.PositiveInfinity;
        int plane = width * height;
        var values = new Dictionary<string, (double[] Data, int C, int W, int H)> { [InputName] = (input, InputChannels, width, height) };
        var pending = _root.GetProperty("nodes").EnumerateArray().ToList();
        while (pending.Count > 0)
        {
            int before = pending.Count;
            foreach (JsonElement node in pending.ToList())
            {
                var inputs = node.GetProperty("inputs").EnumerateArray().Select(e => e.GetString()!).ToList();
                if (!inputs.All(values.ContainsKey)) continue;
                pending.Remove(node);
                var xs = inputs.Select(i => values[i]).ToList();
                values[node.GetProperty("output").GetString()!] = Eval(node, xs);
            }
            if (pending.Count == before) throw new InvalidOperationException("graph has a cycle or an undefined value");
        }
        var result = values[OutputName];
        outChannels = result.C;
        OutputWidth = result.W;
        OutputHeight = result.H;
        return result.Data;
    }

    private string Str(JsonElement node, string key) => node.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    private (double[], int, int, int) Eval(JsonElement node, List<(double[] Data, int C, int W, int H)> xs)
    {
        var (y, c, w, h) = EvalSameSize(node, xs);
        return (y, c, w, h);
    }

    private (double[], int, int, int) EvalSameSize(JsonElement node, List<(double[] Data, int C, int W, int H)> xs)
    {
        var (x, c, width, height) = xs[0];
        int plane = width * height;
        string op0 = node.GetProperty("op").GetString()!;
        switch (op0)
        {
            case "pixel_shuffle":
            {
                int r = node.GetProperty("factor").GetInt32();
                int co = c / (r * r), ow = width * r, oh = height * r;
                var y = new double[x.Length];
                for (int ch = 0; ch < co; ch++)
                    for (int i = 0; i < oh; i++)
                        for (int j = 0; j < ow; j++)
                            y[ch * oh * ow + i * ow + j] = x[(ch * r * r + (i % r) * r + (j % r)) * plane + (i / r) * width + j / r];
                return (y, co, ow, oh);
            }
            case "upsample":
            {
                int r = node.GetProperty("factor").GetInt32();
                bool nearest = node.GetProperty("mode").GetString() == "nearest";
                int ow = width * r, oh = height * r;
                var y = new double[c * ow * oh];
                (int, int, double) Src(int d, int n)
                {
                    double s = Math.Max(0, (d + 0.5) / r - 0.5);
                    int i0 = (int)Math.Floor(s);
                    return (i0, Math.Min(i0 + 1, n - 1), s - i0);
                }
                for (int ch = 0; ch < c; ch++)
                    for (int i = 0; i < oh; i++)
                        for (int j = 0; j < ow; j++)
                        {
                            double v;
                            if (nearest) v = x[ch * plane + (i / r) * width + j / r];
                            else
                            {
                                var (y0, y1, ly) = Src(i, height);
                                var (x0, x1, lx) = Src(j, width);
                                double At(int yy, int xx) => x[ch * plane + yy * width + xx];
                                v = (1 - ly) * ((1 - lx) * At(y0, x0) + lx * At(y0, x1)) + ly * ((1 - lx) * At(y1, x0) + lx * At(y1, x1));
                            }
                            y[ch * oh * ow + i * ow + j] = v;
                        }
                return (y, c, ow, oh);
            }
            case "channel_expand":
            {
                int s = node.GetProperty("repeats").GetInt32();
                int co = s * c + 1;
                var y = new double[co * plane];
                for (int ch = 0; ch < co; ch++)
                    Array.Copy(x, (ch < s * c ? ch / s : 0) * plane, y, ch * plane, plane);
                return (y, co, width, height);
            }
            case "batch_norm":
            {
                double[] g = W(Str(node, "weight")), b = W(Str(node, "bias")), m = W(Str(node, "running_mean")), v = W(Str(node, "running_var"));
                double eps = node.TryGetProperty("eps", out var e) ? e.GetDouble() : 1e-5;
                var y = new double[x.Length];
                for (int ch = 0; ch < c; ch++)
                    for (int p = 0; p < plane; p++)
                        y[ch * plane + p] = (x[ch * plane + p] - m[ch]) / Math.Sqrt(v[ch] + eps) * g[ch] + b[ch];
                return (y, c, width, height);
            }
            default:
            {
                var (y, co) = EvalPointwise(node, xs.Select(t => (t.Data, t.C)).ToList(), width, height);
                return (y, co, width, height);
            }
        }
    }

    private (double[], int) EvalPointwise(JsonElement node, List<(double[] Data, int C)> xs, int width, int height)
    {
        int plane = width * height;
        var (x, c) = xs[0];
        string op = node.GetProperty("op").GetString()!;
        switch (op)
        {
            case "conv2d":
            {
                string wk = Str(node, "weight");
                int[] s = Shape(wk);
                double[] w = W(wk);
                double[]? b = Str(node, "bias") is { Length: > 0 } bk ? W(bk) : null;
                return (Conv(x, c, s[0], s[2], w, b, width, height), s[0]);
            }
            case "binary_conv2d":
            {
                string wk = Str(node, "weight");
                int[] s = Shape(wk);
                double[] w = W(wk);
                int cout = s[0], per = c * 9;
                double[]? move = Str(node, "input_bias") is { Length: > 0 } mk ? W(mk) : null;
                double scale = x.Max(Math.Abs);
                var xb = new double[x.Length];
                for (int ch = 0; ch < c; ch++)
                    for (int p = 0; p < plane; p++)
                    {
                        double v = x[ch * plane + p] + (move?[ch] ?? 0);
                        SignInputs++;
                        if (v == 0) ExactZeroSignInputs++;
                        else MinRelativeMargin = Math.Min(MinRelativeMargin, Math.Abs(v) / (1 + scale));
                        xb[ch * plane + p] = Math.Sign(v);
                    }
                var wb = new double[w.Length];
                for (int o = 0; o < cout; o++)
                {
                    double alpha = 0;
                    for (int i = 0; i < per; i++) alpha += Math.Abs(w[o * per + i]);
                    alpha /= per;
                    for (int i = 0; i < per; i++) wb[o * per + i] = alpha * Math.Sign(w[o * per + i]);
                }
                double[]? b = Str(node, "bias") is { Length: > 0 } bk ? W(bk) : null;
                return (Conv(xb, c, cout, 3, wb, b, width, height), cout);
            }
            case "rprelu":
            {
                double[] b0 = W(Str(node, "bias0")), a = W(Str(node, "slope")), b1 = W(Str(node, "bias1"));
                var y = new double[x.Length];
                for (int ch = 0; ch < c; ch++)
                    for (int p = 0; p < plane; p++)
                    {
                        double z = x[ch * plane + p] + b0[ch];
                        double slope = a.Length == 1 ? a[0] : a[ch];
                        y[ch * plane + p] = Math.Max(0, z) + slope * Math.Min(0, z) + b1[ch];
                    }
                return (y, c);
            }
            case "prelu":
            {
                double[] a = W(Str(node, "slope"));
                var y = new double[x.Length];
                for (int ch = 0; ch < c; ch++)
                    for (int p = 0; p < plane; p++)
                    {
                        double z = x[ch * plane + p];
                        y[ch * plane + p] = Math.Max(0, z) + (a.Length == 1 ? a[0] : a[ch]) * Math.Min(0, z);
                    }
                return (y, c);
            }
            case "relu": return (x.Select(v => Math.Max(0, v)).ToArray(), c);
            case "leaky_relu":
            {
                double s = node.GetProperty("negative_slope").GetDouble();
                return (x.Select(v => v > 0 ? v : s * v).ToArray(), c);
            }
            case "add": return (x.Zip(xs[1].Data, (a, b) => a + b).ToArray(), c);
            case "sub": return (x.Zip(xs[1].Data, (a, b) => a - b).ToArray(), c);
            case "mul": { double s = node.GetProperty("scalar").GetDouble(); return (x.Select(v => v * s).ToArray(), c); }
            case "div": { double s = node.GetProperty("scalar").GetDouble(); return (x.Select(v => v / s).ToArray(), c); }
            default: throw new NotSupportedException(op);
        }
    }

    /// <summary>Plain zero-padded stride-1 convolution.</summary>
    public static double[] Conv(double[] x, int cin, int cout, int k, double[] w, double[]? bias, int width, int height)
    {
        int plane = width * height, pad = k / 2;
        var y = new double[cout * plane];
        for (int o = 0; o < cout; o++)
            for (int r = 0; r < height; r++)
                for (int col = 0; col < width; col++)
                {
                    double sum = bias?[o] ?? 0;
                    for (int ci = 0; ci < cin; ci++)
                        for (int ky = 0; ky < k; ky++)
                        {
                            int rr = r + ky - pad;
                            if (rr < 0 || rr >= height) continue;
                            for (int kx = 0; kx < k; kx++)
                            {
                                int cc = col + kx - pad;
                                if (cc < 0 || cc >= width) continue;
                                sum += w[((o * cin + ci) * k + ky) * k + kx] * x[ci * plane + rr * width + cc];
                            }
                        }
                    y[o * plane + r * width + col] = sum;
                }
        return y;
    }
}
