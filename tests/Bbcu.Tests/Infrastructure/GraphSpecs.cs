using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using CsCheck;

namespace Bbcu.Tests.Infrastructure;

/// <summary>What one binary unit of a random graph looks like.</summary>
public enum UnitKind
{
    /// <summary>BBCU-B: conv → RPReLU → add(act, x), the fully fused form.</summary>
    B,
    /// <summary>BBCU-B with the residual add's inputs swapped.</summary>
    BSwapped,
    /// <summary>The conv output read twice (RPReLU not fusable): add(act, x) − conv.</summary>
    Unfused,
    /// <summary>No residual, a PReLU after the RPReLU.</summary>
    PRelu,
    /// <summary>V1: conv → BatchNorm → add(bn, x) → RPReLU.</summary>
    V1,
    /// <summary>V2: conv → add(conv, x) → RPReLU.</summary>
    V2,
    /// <summary>BBCU-U ×2: conv (C → 4C) → RPReLU → pixel shuffle 2 + nearest ×2 of x (doubles the scale).</summary>
    Up2,
}

/// <summary>One binary unit: its kind, the fraction (0–3 of 4) of exactly-zero thresholds, and whether some weights are exactly 0.</summary>
public sealed record UnitSpec(UnitKind Kind, int ZeroThresholdQuarters, bool ZeroWeights, bool Bias);

/// <summary>
/// A random valid graph, as data CsCheck can generate and shrink: input channels, feature channels (1–130),
/// the amplification k, head/tail kernel sizes, the units, an optional float upsampling stage
/// (conv C → C·r² + pixel shuffle r), the global skip's upsampling mode, the image size and the seeds
/// of the weights and the input.
/// </summary>
public sealed record GraphSpec(int Cin, int Nc, int KIndex, int HeadKernel, int TailKernel, UnitSpec[] Units, int FloatUpsample,
    bool BilinearSkip, int Width, int Height, int WeightSeed, int InputSeed)
{
    public static readonly float[] Ks = { 1f, 20f, 130f };

    public float K => Ks[KIndex];

    public int Scale => (FloatUpsample > 1 ? FloatUpsample : 1) * (1 << Units.Count(u => u.Kind == UnitKind.Up2));

    public override string ToString() =>
        $"cin {Cin}, nc {Nc}, k {K}, head {HeadKernel}×{HeadKernel}, tail {TailKernel}×{TailKernel}, units [{string.Join(", ", Units.Select(u => $"{u.Kind}{(u.Bias ? "+b" : "")} z{u.ZeroThresholdQuarters}{(u.ZeroWeights ? " w0" : "")}"))}], " +
        $"float up {FloatUpsample}, skip {(BilinearSkip ? "bilinear" : "nearest")}, image {Width}×{Height}, seeds {WeightSeed}/{InputSeed}";

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });

    public static GraphSpec FromJson(string json) => JsonSerializer.Deserialize<GraphSpec>(json)!;

    /// <summary>The generator: small values first, so that CsCheck shrinks towards small graphs and images.</summary>
    public static readonly Gen<GraphSpec> Gen =
        CsCheck.Gen.Select(
            CsCheck.Gen.Int[1, 4],
            CsCheck.Gen.OneOf(1, 2, 3, 5, 16, 63, 64, 65, 100, 130).SelectMany(big => CsCheck.Gen.Int[1, 130].Select(any => any % 2 == 0 ? big : any)),
            CsCheck.Gen.Int[0, 2],
            CsCheck.Gen.OneOf(1, 3, 5),
            CsCheck.Gen.OneOf(1, 3),
            CsCheck.Gen.Select(CsCheck.Gen.Enum<UnitKind>(), CsCheck.Gen.Int[0, 3], CsCheck.Gen.Bool, CsCheck.Gen.Bool, (k, z, w, b) => new UnitSpec(k, z, w, b)).Array[1, 3],
            CsCheck.Gen.OneOf(0, 2, 3),
            CsCheck.Gen.Bool)
        .SelectMany(t => CsCheck.Gen.Select(CsCheck.Gen.Int[1, 9], CsCheck.Gen.Int[1, 9], CsCheck.Gen.Int[0, 1_000_000], CsCheck.Gen.Int[0, 1_000_000],
            (w, h, ws, xs) => new GraphSpec(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, LimitUps(t.Item6), t.Item7, t.Item8, w, h, ws, xs)));

    /// <summary>At most one ×2 unit (the output stays small enough for the reference interpreter).</summary>
    private static UnitSpec[] LimitUps(UnitSpec[] units)
    {
        bool seen = false;
        return units.Select(u =>
        {
            if (u.Kind != UnitKind.Up2) return u;
            if (seen) return u with { Kind = UnitKind.B };
            seen = true;
            return u;
        }).ToArray();
    }

    /// <summary>The model files (JSON + safetensors) this spec describes; weights drawn from <see cref="WeightSeed"/>.</summary>
    public ModelFiles Build() => new SpecBuilder(this).Build();

    private sealed class SpecBuilder
    {
        private readonly GraphSpec _s;
        private readonly Random _rng;
        private readonly List<Dictionary<string, object>> _nodes = new();
        private readonly List<(string Name, int[] Shape, float[] Data)> _tensors = new();
        private int _n;

        public SpecBuilder(GraphSpec spec)
        {
            _s = spec;
            _rng = new Random(spec.WeightSeed);
        }

        private float Normal(double sigma) => (float)(sigma * Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble()));

        private float[] Normals(int n, double sigma) => Enumerable.Range(0, n).Select(_ => Normal(sigma)).ToArray();

        private float[] Positive(int n, double lo, double hi) => Enumerable.Range(0, n).Select(_ => (float)(lo + (hi - lo) * _rng.NextDouble())).ToArray();

        private string T(string name, int[] shape, float[] data)
        {
            _tensors.Add((name, shape, data));
            return name;
        }

        private string Fresh(string p) => $"{p}{_n++}";

        private void Node(string op, string[] inputs, string output, params (string Key, object Value)[] props)
        {
            var d = new Dictionary<string, object> { ["op"] = op, ["inputs"] = inputs, ["output"] = output };
            foreach (var (k, v) in props) d[k] = v;
            _nodes.Add(d);
        }

        private string Conv(string x, int cin, int cout, int k, double sigma, bool bias)
        {
            string p = Fresh("conv");
            string y = Fresh("c");
            var props = new List<(string, object)> { ("weight", T($"{p}.weight", new[] { cout, cin, k, k }, Normals(cout * cin * k * k, sigma))) };
            if (bias) props.Add(("bias", T($"{p}.bias", new[] { cout }, Normals(cout, 0.1))));
            Node("conv2d", new[] { x }, y, props.ToArray());
            return y;
        }

        private string RPRelu(string x, int c, double scale)
        {
            string p = Fresh("act");
            string y = Fresh("a");
            Node("rprelu", new[] { x }, y,
                ("bias0", T($"{p}.b0", new[] { 1, c, 1, 1 }, Normals(c, 0.2 * scale))),
                ("slope", T($"{p}.slope", new[] { c }, Positive(c, 0.05, 0.5))),
                ("bias1", T($"{p}.b1", new[] { 1, c, 1, 1 }, Normals(c, 0.2 * scale))));
            return y;
        }

        private string BinaryConv(string x, int cin, int cout, UnitSpec u, double scale)
        {
            string p = Fresh("bin");
            float[] move = Normals(cin, 0.3 * scale);
            for (int c = 0; c < cin; c++) if (_rng.Next(4) < u.ZeroThresholdQuarters) move[c] = 0;
            float[] w = Normals(cout * cin * 9, 1);
            if (u.ZeroWeights) for (int i = 0; i < w.Length; i++) if (_rng.Next(10) == 0) w[i] = 0;
            var props = new List<(string, object)>
            {
                ("input_bias", T($"{p}.move0", new[] { 1, cin, 1, 1 }, move)),
                ("weight", T($"{p}.weight", new[] { cout, cin, 3, 3 }, w)),
            };
            if (u.Bias) props.Add(("bias", T($"{p}.bias", new[] { cout }, Normals(cout, 0.1 * scale))));
            string y = Fresh("b");
            Node("binary_conv2d", new[] { x }, y, props.ToArray());
            return y;
        }

        public ModelFiles Build()
        {
            int nc = _s.Nc;
            Node("mul", new[] { "x" }, "x_amp", ("scalar", _s.K));
            string h = Conv("x_amp", _s.Cin, nc, _s.HeadKernel, 0.3, bias: true);
            string r0 = Fresh("r");
            Node("relu", new[] { h }, r0);
            h = r0;
            double scale = _s.K * 0.3;
            foreach (UnitSpec u in _s.Units)
            {
                string y;
                switch (u.Kind)
                {
                    case UnitKind.B:
                    case UnitKind.BSwapped:
                    {
                        string a = RPRelu(BinaryConv(h, nc, nc, u, scale), nc, scale);
                        y = Fresh("h");
                        Node("add", u.Kind == UnitKind.B ? new[] { a, h } : new[] { h, a }, y);
                        break;
                    }
                    case UnitKind.Unfused:
                    {
                        string conv = BinaryConv(h, nc, nc, u, scale);
                        string a = RPRelu(conv, nc, scale);
                        string t = Fresh("t");
                        Node("add", new[] { a, h }, t);
                        y = Fresh("h");
                        Node("sub", new[] { t, conv }, y);
                        break;
                    }
                    case UnitKind.PRelu:
                    {
                        string a = RPRelu(BinaryConv(h, nc, nc, u, scale), nc, scale);
                        y = Fresh("h");
                        Node("prelu", new[] { a }, y, ("slope", T(Fresh("prelu") + ".w", new[] { nc }, Normals(nc, 0.3))));
                        break;
                    }
                    case UnitKind.V1:
                    {
                        string conv = BinaryConv(h, nc, nc, u, scale);
                        string p = Fresh("bn");
                        string bn = Fresh("n");
                        Node("batch_norm", new[] { conv }, bn,
                            ("weight", T($"{p}.weight", new[] { nc }, Positive(nc, 0.5, 1.5))),
                            ("bias", T($"{p}.bias", new[] { nc }, Normals(nc, 0.1 * scale))),
                            ("running_mean", T($"{p}.running_mean", new[] { nc }, Normals(nc, 0.1 * scale))),
                            ("running_var", T($"{p}.running_var", new[] { nc }, Positive(nc, 0.5, 2.0))),
                            ("eps", 1e-5));
                        string sum = Fresh("s");
                        Node("add", new[] { bn, h }, sum);
                        y = RPRelu(sum, nc, scale);
                        break;
                    }
                    case UnitKind.V2:
                    {
                        string sum = Fresh("s");
                        Node("add", new[] { BinaryConv(h, nc, nc, u, scale), h }, sum);
                        y = RPRelu(sum, nc, scale);
                        break;
                    }
                    default: // Up2
                    {
                        string a = RPRelu(BinaryConv(h, nc, 4 * nc, u, scale), 4 * nc, scale);
                        string shuffled = Fresh("ps");
                        Node("pixel_shuffle", new[] { a }, shuffled, ("factor", 2));
                        string up = Fresh("up");
                        Node("upsample", new[] { h }, up, ("mode", "nearest"), ("factor", 2));
                        y = Fresh("h");
                        Node("add", new[] { shuffled, up }, y);
                        break;
                    }
                }
                h = y;
            }
            if (_s.FloatUpsample > 1)
            {
                int r = _s.FloatUpsample;
                string c = Conv(h, nc, nc * r * r, 3, 0.3 / Math.Sqrt(nc * 9), bias: true);
                string ps = Fresh("ps");
                Node("pixel_shuffle", new[] { c }, ps, ("factor", r));
                string lr = Fresh("l");
                Node("leaky_relu", new[] { ps }, lr, ("negative_slope", 0.1));
                h = lr;
            }
            string tail = Conv(h, nc, _s.Cin, _s.TailKernel, 0.3 / Math.Sqrt(nc * _s.TailKernel * _s.TailKernel), bias: true);
            int scaleOut = _s.Scale;
            if (scaleOut == 1)
            {
                Node("sub", new[] { "x_amp", tail }, "diff");
            }
            else
            {
                string skip = Fresh("skip");
                if (_s.BilinearSkip) Node("upsample", new[] { "x_amp" }, skip, ("mode", "bilinear"), ("factor", scaleOut), ("align_corners", false));
                else Node("upsample", new[] { "x_amp" }, skip, ("mode", "nearest"), ("factor", scaleOut));
                Node("add", new[] { tail, skip }, "diff");
            }
            Node("div", new[] { "diff" }, "out", ("scalar", _s.K));
            var model = new Dictionary<string, object>
            {
                ["format"] = "bbcu-model", ["version"] = 1, ["name"] = "spec",
                ["inputs"] = new[] { new Dictionary<string, object> { ["name"] = "x", ["channels"] = _s.Cin } },
                ["outputs"] = new[] { "out" },
                ["nodes"] = _nodes,
            };
            string json = JsonSerializer.Serialize(model, new JsonSerializerOptions { WriteIndented = true });
            return new ModelFiles(_s.ToString(), json, SafetensorsIo.Write(_tensors), _s.Cin);
        }
    }
}
