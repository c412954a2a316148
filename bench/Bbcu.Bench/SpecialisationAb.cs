using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using Bbcu;

namespace Bbcu.Bench;

/// <summary>
/// <c>--spec-ab [calls]</c>: the binary 3×3 kernel specialised for one layer form (<c>Conv3x3&lt;TLayer&gt;</c>,
/// what the generated code calls) against the unspecialised <c>Conv3x3</c>, in one process, alternating calls:
/// a 64→64 BBCU-B layer at 320×180 with PReLU, bias1, residual and the fused pack of the next layer's input,
/// one thread. Prints each one's first-call JIT cost and min / p10 / median times; checks that both give the
/// same bits. Run with <c>DOTNET_EnableAVX512=0</c> for the AVX2 path.
/// </summary>
public static class SpecialisationAb
{
    private readonly struct BbcuB64 : IBinaryConvLayer
    {
        public static int Cin => 64;
        public static int Cout => 64;
        public static bool PRelu => true;
        public static bool Bias1 => true;
        public static bool Residual => true;
        public static bool PacksNext => true;
    }

    public static int Run(int calls)
    {
        const int W = Bench.Width, H = Bench.Height, C = 64, Plane = W * H;
        var rng = new Random(1);
        float[] x = Bench.Random(C * Plane, 3, -0.5f, 0.5f);
        ulong[] packed = new ulong[2 * Plane];
        byte[] kinds = new byte[Plane];
        BinaryKernels.SignPack(x, C, Plane, new float[C], packed, kinds);
        ulong[] weights = Enumerable.Range(0, 16 * 9 * 4).Select(_ => (ulong)rng.NextInt64()).ToArray();
        float[] alpha = Enumerable.Range(0, C).Select(_ => (float)rng.NextDouble()).ToArray();
        float[] shift = alpha.Select(v => v - 0.5f).ToArray(), slopes = alpha.Select(v => v * 0.25f).ToArray(), bias1 = alpha.Select(v => v * 0.1f).ToArray();
        float[] residual = Bench.Random(C * Plane, 4, -1f, 1f), next = new float[C];
        float[] y1 = new float[C * Plane], y2 = new float[C * Plane];
        ulong[] p1 = new ulong[2 * Plane], p2 = new ulong[2 * Plane];
        byte[] k1 = new byte[Plane], k2 = new byte[Plane];
        Action generic = () => BinaryKernels.Conv3x3(packed, kinds, W, H, C, C, weights, default, default, alpha, shift, slopes, bias1, residual, y1,
            nextThresholds: next, nextPacked: p1, nextKinds: k1);
        Action specialised = () => BinaryKernels.Conv3x3<BbcuB64>(packed, kinds, W, H, weights, default, default, alpha, shift, slopes, bias1, residual, y2,
            nextThresholds: next, nextPacked: p2, nextKinds: k2);

        string Jit(Action a)
        {
            TimeSpan t0 = System.Runtime.JitInfo.GetCompilationTime();
            long m0 = System.Runtime.JitInfo.GetCompiledMethodCount(), il0 = System.Runtime.JitInfo.GetCompiledILBytes();
            a();
            return string.Create(CultureInfo.InvariantCulture,
                $"JIT {(System.Runtime.JitInfo.GetCompilationTime() - t0).TotalMilliseconds:F1} ms, {System.Runtime.JitInfo.GetCompiledMethodCount() - m0} methods, {System.Runtime.JitInfo.GetCompiledILBytes() - il0} IL bytes");
        }
        Console.WriteLine($"// first call: unspecialised {Jit(generic)}; then specialised {Jit(specialised)}");
        for (int i = 0; i < 40; i++) { generic(); specialised(); } // past tier-up
        System.Threading.Thread.Sleep(300);
        if (!y1.AsSpan().SequenceEqual(y2) || !p1.AsSpan().SequenceEqual(p2) || !k1.AsSpan().SequenceEqual(k2))
        {
            Console.WriteLine("// FAILED: the specialised kernel's bits differ");
            return 1;
        }
        double[] tg = new double[calls], ts = new double[calls];
        for (int i = 0; i < calls; i++)
        {
            long t = Stopwatch.GetTimestamp();
            generic();
            tg[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            t = Stopwatch.GetTimestamp();
            specialised();
            ts[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }
        Array.Sort(tg);
        Array.Sort(ts);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"64->64 320x180, 1 thread, {calls} alternating calls (ms): unspecialised min {tg[0]:F3} p10 {tg[calls / 10]:F3} median {tg[calls / 2]:F3}; " +
            $"specialised min {ts[0]:F3} p10 {ts[calls / 10]:F3} median {ts[calls / 2]:F3}; p10 ratio {tg[calls / 10] / ts[calls / 10]:F3}"));
        return 0;
    }
}
