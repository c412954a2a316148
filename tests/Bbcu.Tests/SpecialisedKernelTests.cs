using System;
using System.Linq;
using Bbcu.Tests.Infrastructure;
using Xunit;

namespace Bbcu.Tests;

/// <summary>
/// <c>BinaryKernels.Conv3x3&lt;TLayer&gt;</c>, the form the generated code calls (the layer's shape and epilogue
/// as compile-time constants), gives the bits of the unspecialised <c>Conv3x3</c> for every combination of
/// epilogue steps, widths with edge blocks, a last group of fewer than four channels, more than 64 input
/// channels (the portable path), in place, on 1 and 2 threads; and refuses arguments that disagree with
/// the struct.
/// </summary>
public sealed class SpecialisedKernelTests
{
    private readonly struct L64To64All : IBinaryConvLayer
    {
        public static int Cin => 64; public static int Cout => 64;
        public static bool PRelu => true; public static bool Bias1 => true; public static bool Residual => true; public static bool PacksNext => true;
    }

    private readonly struct L64To64Plain : IBinaryConvLayer
    {
        public static int Cin => 64; public static int Cout => 64;
        public static bool PRelu => false; public static bool Bias1 => false; public static bool Residual => false; public static bool PacksNext => false;
    }

    private readonly struct L16To6PReluResidual : IBinaryConvLayer
    {
        public static int Cin => 16; public static int Cout => 6;
        public static bool PRelu => true; public static bool Bias1 => false; public static bool Residual => true; public static bool PacksNext => false;
    }

    private readonly struct L3To5Bias1Next : IBinaryConvLayer
    {
        public static int Cin => 3; public static int Cout => 5;
        public static bool PRelu => false; public static bool Bias1 => true; public static bool Residual => false; public static bool PacksNext => true;
    }

    private readonly struct L130To64All : IBinaryConvLayer
    {
        public static int Cin => 130; public static int Cout => 64;
        public static bool PRelu => true; public static bool Bias1 => true; public static bool Residual => true; public static bool PacksNext => true;
    }

    private sealed record Case(int Cin, int Cout, bool PRelu, bool Bias1, bool Residual, bool PacksNext, int Width, int Height)
    {
        public override string ToString() => $"{Cin}→{Cout} {Width}×{Height} prelu={PRelu} bias1={Bias1} residual={Residual} next={PacksNext}";
    }

    private delegate void Specialised(ReadOnlySpan<ulong> packed, ReadOnlySpan<byte> kinds, int width, int height, ReadOnlySpan<ulong> weights,
        ReadOnlySpan<float> alpha, ReadOnlySpan<float> shift, ReadOnlySpan<float> slopes, ReadOnlySpan<float> bias1, ReadOnlySpan<float> residual,
        Span<float> y, int degree, ReadOnlySpan<float> nextThresholds, Span<ulong> nextPacked, Span<byte> nextKinds);

    private static Specialised For<T>() where T : struct, IBinaryConvLayer =>
        (p, k, w, h, wt, a, s, sl, b1, res, y, degree, nt, np, nk) =>
            BinaryKernels.Conv3x3<T>(p, k, w, h, wt, default, default, a, s, sl, b1, res, y, degree: degree, nextThresholds: nt, nextPacked: np, nextKinds: nk);

    public static TheoryData<string> Layers() => new() { "64to64all", "64to64plain", "16to6", "3to5", "130to64" };

    private static (Case Case, Specialised Run) Pick(string name, int width, int height) => name switch
    {
        "64to64all" => (new Case(64, 64, true, true, true, true, width, height), For<L64To64All>()),
        "64to64plain" => (new Case(64, 64, false, false, false, false, width, height), For<L64To64Plain>()),
        "16to6" => (new Case(16, 6, true, false, true, false, width, height), For<L16To6PReluResidual>()),
        "3to5" => (new Case(3, 5, false, true, false, true, width, height), For<L3To5Bias1Next>()),
        _ => (new Case(130, 64, true, true, true, true, width, height), For<L130To64All>()),
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void SpecialisedGivesTheBitsOfTheGenericKernel(string layer)
    {
        foreach (var (width, height) in new[] { (37, 9), (8, 3), (1, 1), (50, 4) })
        {
            var (c, run) = Pick(layer, width, height);
            var rng = new Random(c.Cin * 31 + c.Cout + width);
            int plane = width * height;
            var x = Enumerable.Range(0, c.Cin * plane).Select(_ => (float)(rng.Next(-6, 7) * 0.25)).ToArray();
            var t = Enumerable.Range(0, c.Cin).Select(_ => (float)(rng.Next(-2, 3) * 0.25)).ToArray();
            var w = Enumerable.Range(0, c.Cout * c.Cin * 9).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            var (signs, _, _) = KernelTests.PackWeights(w, c.Cin, c.Cout);
            var (packed, kinds) = KernelTests.SignPacked(x, c.Cin, plane, t);
            float[] R(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * scale)).ToArray();
            float[] alpha = R(c.Cout, 1), shift = R(c.Cout, 4), slopes = c.PRelu ? R(c.Cout, 1) : Array.Empty<float>();
            float[] bias1 = c.Bias1 ? R(c.Cout, 2) : Array.Empty<float>(), residual = c.Residual ? R(c.Cout * plane, 4) : Array.Empty<float>();
            float[] next = c.PacksNext ? R(c.Cout, 1) : Array.Empty<float>();
            int nextWords = (c.Cout + 63) / 64;

            var expected = new float[c.Cout * plane];
            var expectedPacked = new ulong[c.PacksNext ? 2 * nextWords * plane : 0];
            var expectedKinds = new byte[c.PacksNext ? plane : 0];
            BinaryKernels.Conv3x3(packed, kinds, width, height, c.Cin, c.Cout, signs, default, default, alpha, shift, slopes, bias1, residual,
                expected, nextThresholds: next, nextPacked: expectedPacked, nextKinds: expectedKinds);
            foreach (int degree in new[] { 1, 2 })
            {
                var y = new float[expected.Length];
                var nextPacked = new ulong[expectedPacked.Length];
                var nextKinds = new byte[expectedKinds.Length];
                run(packed, kinds, width, height, signs, alpha, shift, slopes, bias1, residual, y, degree, next, nextPacked, nextKinds);
                FloatAssert.SameBits(expected, y, $"{c}, {degree} thread(s): specialised vs generic");
                Assert.Equal(expectedPacked, nextPacked);
                Assert.Equal(expectedKinds, nextKinds);
                if (c.Residual)
                {
                    var inPlace = (float[])residual.Clone();
                    run(packed, kinds, width, height, signs, alpha, shift, slopes, bias1, inPlace, inPlace, degree, next, new ulong[expectedPacked.Length], new byte[expectedKinds.Length]);
                    FloatAssert.SameBits(expected, inPlace, $"{c}, {degree} thread(s): specialised in place vs generic");
                }
            }
        }
    }

    [Fact]
    public void ArgumentsThatDisagreeWithTheLayerAreRefused()
    {
        var packed = new ulong[2 * 4];
        var kinds = new byte[4];
        var signs = new ulong[16 * 9 * 4];
        var f = new float[64 * 4];
        // L64To64All without slopes.
        var e = Assert.Throws<ArgumentException>(() => BinaryKernels.Conv3x3<L64To64All>(packed, kinds, 2, 2, signs, default, default, f, f,
            default, f, f, f, nextThresholds: f, nextPacked: new ulong[8], nextKinds: new byte[4]));
        Assert.Contains("L64To64All", e.Message);
        Assert.Contains("no slopes", e.Message);
        // L64To64Plain given a residual.
        e = Assert.Throws<ArgumentException>(() => BinaryKernels.Conv3x3<L64To64Plain>(packed, kinds, 2, 2, signs, default, default, f, f,
            default, default, f, f));
        Assert.Contains("a residual", e.Message);
        // The shape's own checks still apply: a short output.
        Assert.Throws<ArgumentException>(() => BinaryKernels.Conv3x3<L64To64Plain>(packed, kinds, 2, 2, signs, default, default, f, f,
            default, default, default, new float[3]));
    }
}
