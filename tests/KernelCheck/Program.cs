using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Bbcu;

namespace KernelCheck;

/// <summary>
/// Cross-ISA determinism check of the runtime kernels and of whole compiled models (<see cref="ModelChecks"/>). Deterministic inputs (xorshift64, exact float
/// conversions), one output line per check: <c>name sha256(output bytes)</c>, floats hashed by their
/// exact bits. The same binary run on x64 (AVX2 / SSE only / no HW intrinsics) and on Arm64 must print
/// identical lines. Independently of that, every binary-conv, SignPack, Conv2d and popcount result is
/// compared in-process with a plain scalar reference; a mismatch is reported on stderr and makes the
/// exit code 1.
/// </summary>
/// <remarks>
/// Usage: <c>KernelCheck [out.txt] [--dump DIR]</c> (with --dump every output is also written raw:
/// <c>DIR/name.f32</c> for float arrays, <c>DIR/name.bin</c> otherwise), or
/// <c>KernelCheck --ulp DIR_A DIR_B</c>: per differing dump, the number of differing elements and the
/// largest distance in units in the last place.
/// </remarks>
internal static unsafe class Program
{
    private static TextWriter s_out = Console.Out;
    private static string? s_dump;
    private static int s_checks, s_failures;

    private static readonly int[] Channels = [1, 3, 63, 64, 65, 130];
    private static readonly (int W, int H)[] Sizes = [(1, 1), (5, 3), (17, 9)];

    private static int Main(string[] args)
    {
        if (args.Length == 3 && args[0] == "--ulp")
            return CompareDumps(args[1], args[2]);
        string? outPath = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--dump" && i + 1 < args.Length) s_dump = args[++i];
            else outPath = args[i];
        }
        if (s_dump != null) Directory.CreateDirectory(s_dump);
        // Known answers (FIPS 180-4 examples: 3 and 56 bytes, the latter needing a second padding block; and 0 bytes).
        if (Sha256.HexDigest("abc"u8) != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            || Sha256.HexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"u8) != "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            || Sha256.HexDigest(default) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        {
            Console.Error.WriteLine("Sha256 self-test failed");
            return 3;
        }
        Console.Error.WriteLine(
            $"isa: arch={RuntimeInformation.ProcessArchitecture} avx512f={Avx512F.IsSupported} avx512bw={Avx512BW.IsSupported} avx2={Avx2.IsSupported} fma={Fma.IsSupported} " +
            $"avx512vbmi={Avx512Vbmi.IsSupported} gfni512={Gfni.V512.IsSupported} " +
            $"sse41={Sse41.IsSupported} advsimd={AdvSimd.IsSupported} advsimd.arm64={AdvSimd.Arm64.IsSupported} " +
            $"vector.accelerated={Vector.IsHardwareAccelerated} vector<float>.count={Vector<float>.Count} " +
            $"popcountAdvSimd={PopcountAdvSimd.IsSupported} framework={RuntimeInformation.FrameworkDescription}");
        StreamWriter? file = null;
        if (outPath != null) s_out = file = new StreamWriter(outPath, false, new UTF8Encoding(false)) { NewLine = "\n" };
        try
        {
            CheckSignPack();
            CheckConv3x3();
            CheckPopcount();
            CheckConv2d();
            CheckElementwise();
            CheckResample();
            ModelChecks.CheckAll();
        }
        finally
        {
            s_out.Flush();
            file?.Dispose();
        }
        Console.Error.WriteLine($"checks: {s_checks} lines, {s_failures} reference mismatches");
        return s_failures == 0 ? 0 : 1;
    }

    // ---------------------------------------------------------------- output

    internal static void Emit<T>(string name, ReadOnlySpan<T> data) where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(data);
        s_out.WriteLine($"{name} {Sha256.HexDigest(bytes)}");
        s_checks++;
        if (s_dump != null)
            File.WriteAllBytes(Path.Combine(s_dump, name + (typeof(T) == typeof(float) ? ".f32" : ".bin")), bytes.ToArray());
    }

    internal static void Fail(string message)
    {
        if (s_failures < 50) Console.Error.WriteLine("MISMATCH " + message);
        s_failures++;
    }

    internal static void ExpectSameBits(string name, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Fail($"{name}: element {i}: expected {expected[i].ToString("R", CultureInfo.InvariantCulture)}, got {actual[i].ToString("R", CultureInfo.InvariantCulture)} ({Ulps(expected[i], actual[i])} ulp)");
                return;
            }
    }

    // ---------------------------------------------------------------- inputs

    /// <summary>xorshift64 with a per-check seed from the check's name (FNV-1a): order-independent.</summary>
    internal sealed class Rng
    {
        private ulong _s;

        public Rng(string name)
        {
            ulong h = 14695981039346656037UL;
            foreach (char ch in name) { h ^= ch; h *= 1099511628211UL; }
            _s = h | 1;
            for (int i = 0; i < 4; i++) Next();
        }

        public ulong Next()
        {
            _s ^= _s << 13;
            _s ^= _s >> 7;
            _s ^= _s << 17;
            return _s;
        }

        public int Int(int n) => (int)(Next() % (ulong)n);

        /// <summary>A float in [−2, 2) with 24 random bits: the conversion is exact on every platform.</summary>
        public float Float() => ((long)(Next() >> 40) - (1L << 23)) * (1f / (1 << 22));

        /// <summary>A float in [−2, 2) that differs from <paramref name="t"/> (so its sign is ±1).</summary>
        public float FloatNot(float t)
        {
            float v;
            do v = Float(); while (v == t);
            return v;
        }

        public float[] Floats(int n)
        {
            var a = new float[n];
            for (int i = 0; i < n; i++) a[i] = Float();
            return a;
        }
    }

    /// <summary>Thresholds with exact zeros (both signs) as the generator produces for bias-free Sign layers.</summary>
    private static float[] Thresholds(Rng rng, int channels)
    {
        var t = new float[channels];
        for (int c = 0; c < channels; c++)
            t[c] = (c % 3) switch { 0 => 0f, 1 => rng.Float(), _ => c % 2 == 0 ? -0f : rng.Float() };
        return t;
    }

    // ---------------------------------------------------------------- SignPack

    private static void CheckSignPack()
    {
        foreach (int c in Channels)
            foreach (var (w, h) in Sizes)
            {
                string name = $"signpack.c{c}.{w}x{h}";
                var rng = new Rng(name);
                int plane = w * h;
                float[] t = Thresholds(rng, c);
                var x = new float[c * plane];
                for (int ch = 0; ch < c; ch++)
                    for (int p = 0; p < plane; p++)
                        x[ch * plane + p] = rng.Int(8) switch
                        {
                            0 => t[ch],                            // exactly at the threshold: sign 0
                            1 => t[ch] == 0f ? -t[ch] : rng.Float(), // ±0 against a ±0 threshold
                            _ => rng.Float(),
                        };
                var (packed, kinds) = Pack(x, c, plane, t);
                Emit(name + ".packed", (ReadOnlySpan<ulong>)packed);
                Emit(name + ".kinds", (ReadOnlySpan<byte>)kinds);

                // The packed word layout is internal (and may change): only the per-pixel flags are checked
                // here; the sign and non-zero bits are checked through Conv3x3 against a scalar reference.
                for (int p = 0; p < plane; p++)
                {
                    bool dense = true;
                    for (int ch = 0; ch < c; ch++) dense &= x[ch * plane + p] != t[ch];
                    if (kinds[p] != (dense ? BinaryKernels.Dense : BinaryKernels.HasZeros)) Fail($"{name}: kind of pixel {p}");
                }
            }
    }

    private static (ulong[] Packed, byte[] Kinds) Pack(float[] x, int channels, int plane, float[] t)
    {
        int words = (channels + 63) >> 6;
        var packed = new ulong[plane * 2 * words];
        var kinds = new byte[plane];
        // Non-zero garbage first: SignPack must clear what it does not set.
        Array.Fill(packed, 0xA5A5A5A5A5A5A5A5UL);
        BinaryKernels.SignPack(x, channels, plane, t, packed, kinds);
        return (packed, kinds);
    }

    // ---------------------------------------------------------------- Conv3x3

    private enum Acts { Dense, Mixed, Masked }

    private static void CheckConv3x3()
    {
        foreach (int cin in Channels)
            foreach (int cout in Channels)
                foreach (var (w, h) in Sizes)
                    foreach (Acts kind in new[] { Acts.Dense, Acts.Mixed, Acts.Masked })
                        Conv3x3Case(cin, cout, w, h, kind);
        // The one-word vector paths (AVX2, AVX-512, AdvSimd) on shapes the grid above misses: exactly one
        // quad (6×4), only a top and a bottom row (10×2), a single row (9×1), runs with overlapping tails (23×7),
        // rows of whole quads, the last one at the right edge (12×5: AdvSimd's edge quads without overlap).
        foreach (int cin in new[] { 3, 64 })
            foreach (int cout in new[] { 4, 63, 64 })
                foreach (var (w, h) in new[] { (6, 4), (10, 2), (9, 1), (23, 7), (12, 5) })
                    foreach (Acts kind in new[] { Acts.Dense, Acts.Mixed })
                        Conv3x3Case(cin, cout, w, h, kind);
    }

    private static void Conv3x3Case(int cin, int cout, int width, int height, Acts kind)
    {
        string name = $"conv3x3.ci{cin}.co{cout}.{width}x{height}.{kind.ToString().ToLowerInvariant()}";
        var rng = new Rng(name);
        int plane = width * height, words = (cin + 63) >> 6, groups = (cout + 3) / 4;

        // Activations: dense = every channel ±1; mixed/masked = about a quarter of the pixels have some exact zeros.
        float[] t = Thresholds(rng, cin);
        var x = new float[cin * plane];
        for (int p = 0; p < plane; p++)
        {
            bool zeros = kind != Acts.Dense && rng.Int(4) == 0;
            int forced = zeros ? rng.Int(cin) : -1;
            for (int c = 0; c < cin; c++)
                x[c * plane + p] = c == forced || (zeros && rng.Int(5) == 0) ? t[c] : rng.FloatNot(t[c]);
        }
        var (packed, kinds) = Pack(x, cin, plane, t);

        // Weights [Cout, Cin, 3, 3] as floats, then the generator's layout (Lowerer.LowerBinaryConv).
        var wf = new float[cout * cin * 9];
        for (int i = 0; i < wf.Length; i++)
        {
            float v = rng.FloatNot(0f);
            if (kind == Acts.Masked && rng.Int(6) == 0) v = rng.Int(2) == 0 ? 0f : -0f;
            wf[i] = v;
        }
        if (kind == Acts.Masked)
        {
            // One whole output channel of zeros and one whole input channel of zeros.
            for (int c = 0; c < cin; c++) for (int tap = 0; tap < 9; tap++) wf[((cout - 1) * cin + c) * 9 + tap] = 0f;
            for (int o = 0; o < cout; o++) for (int tap = 0; tap < 9; tap++) wf[(o * cin + cin / 2) * 9 + tap] = -0f;
        }
        var signs = new ulong[groups * 9 * words * 4];
        var mask = new ulong[signs.Length];
        var counts = new int[cout * 9];
        int zeroWeights = 0;
        for (int o = 0; o < cout; o++)
            for (int c = 0; c < cin; c++)
                for (int tap = 0; tap < 9; tap++)
                {
                    float v = wf[(o * cin + c) * 9 + tap];
                    int at = ((o / 4 * 9 + tap) * words + (c >> 6)) * 4 + o % 4;
                    ulong bit = 1UL << (c & 63);
                    if (v < 0) signs[at] |= bit;
                    if (v != 0) { mask[at] |= bit; counts[o * 9 + tap]++; }
                    else zeroWeights++;
                }
        bool masked = zeroWeights > 0;

        float[] alpha = new float[cout];
        for (int o = 0; o < cout; o++) alpha[o] = MathF.Abs(rng.Float()) + 0.25f;
        float[] shift = rng.Floats(cout), slopes = rng.Floats(cout), bias1 = rng.Floats(cout), residual = rng.Floats(cout * plane);

        // Reference sums s[o, p] = Σ over in-image taps of sign(x − t)·sign(w).
        var s = new int[cout * plane];
        var sx = new sbyte[cin * plane];
        for (int i = 0; i < sx.Length; i++)
        {
            float tc = t[i / plane];
            sx[i] = (sbyte)(x[i] < tc ? -1 : x[i] != tc ? 1 : 0);
        }
        for (int o = 0; o < cout; o++)
            for (int r = 0; r < height; r++)
                for (int col = 0; col < width; col++)
                {
                    int sum = 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++)
                        {
                            int rr = r + ky - 1, cc = col + kx - 1;
                            if (rr < 0 || rr >= height || cc < 0 || cc >= width) continue;
                            for (int c = 0; c < cin; c++)
                            {
                                float v = wf[(o * cin + c) * 9 + ky * 3 + kx];
                                sum += sx[c * plane + rr * width + cc] * (v < 0 ? -1 : v != 0 ? 1 : 0);
                            }
                        }
                    s[o * plane + r * width + col] = sum;
                }

        // Epilogue variants: plain (α·s + shift), slopes only, full (slopes + bias1 + residual).
        var variants = kind switch
        {
            Acts.Dense => new[] { "plain", "full" },
            Acts.Mixed => new[] { "slopes", "full" },
            _ => new[] { "full" },
        };
        foreach (string v in variants)
        {
            bool useSlopes = v != "plain", useRest = v == "full";
            ReadOnlySpan<float> sl = useSlopes ? slopes : default, b1 = useRest ? bias1 : default, res = useRest ? residual : default;
            var y = new float[cout * plane];
            Array.Fill(y, float.NaN);
            BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, masked ? mask : default, masked ? counts : default,
                alpha, shift, sl, b1, res, y);
            Emit($"{name}.{v}", (ReadOnlySpan<float>)y);

            var expected = new float[cout * plane];
            for (int o = 0; o < cout; o++)
                for (int p = 0; p < plane; p++)
                {
                    float z = alpha[o] * s[o * plane + p] + shift[o];
                    if (useSlopes) z = z > 0f ? z : slopes[o] * z;
                    if (useRest) z += bias1[o];
                    if (useRest) z += residual[o * plane + p];
                    expected[o * plane + p] = z;
                }
            ExpectSameBits($"{name}.{v}", expected, y);

            if (v == "full")
            {
                // The same call split into row bands [0,1), [1,h/2), [h/2,h): must give identical bits.
                var yb = new float[cout * plane];
                Array.Fill(yb, float.NaN);
                int[] cuts = [0, Math.Min(1, height), Math.Max(Math.Min(1, height), height / 2), height];
                for (int b = 0; b + 1 < cuts.Length; b++)
                    if (cuts[b + 1] > cuts[b])
                        BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, masked ? mask : default, masked ? counts : default,
                            alpha, shift, sl, b1, res, yb, cuts[b], cuts[b + 1]);
                Emit($"{name}.{v}.bands", (ReadOnlySpan<float>)yb);
                ExpectSameBits($"{name}.{v}.bands", y, yb);

                // Two threads (rows split over the worker pool): the same bits.
                var yt = new float[cout * plane];
                BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, masked ? mask : default, masked ? counts : default,
                    alpha, shift, sl, b1, res, yt, degree: 2);
                ExpectSameBits($"{name}.{v}.threads2", y, yt);

                // In place over the residual (the generated code does this when nothing reads the residual later).
                var yi = (float[])residual.Clone();
                BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, masked ? mask : default, masked ? counts : default,
                    alpha, shift, sl, b1, yi, yi);
                Emit($"{name}.{v}.inplace", (ReadOnlySpan<float>)yi);
                ExpectSameBits($"{name}.{v}.inplace", y, yi);

                // Fused with the next binary layer's sign-and-pack (row by row, in bands): the output is
                // unchanged and the packed words and flags equal a separate SignPack of the output.
                // Half the channels' thresholds are one of their own outputs, so some outputs sit exactly on them (sign 0).
                float[] nextT = Thresholds(rng, cout);
                for (int o = 0; o < cout; o += 2) nextT[o] = y[o * plane + (o * 7) % plane];
                var yf = (float[])residual.Clone();
                var fusedPacked = new ulong[plane * 2 * ((cout + 63) >> 6)];
                var fusedKinds = new byte[plane];
                Array.Fill(fusedPacked, 0x5A5A5A5A5A5A5A5AUL);
                Array.Fill(fusedKinds, (byte)0xEE);
                for (int b = 0; b + 1 < cuts.Length; b++)
                    if (cuts[b + 1] > cuts[b])
                        BinaryKernels.Conv3x3(packed, kinds, width, height, cin, cout, signs, masked ? mask : default, masked ? counts : default,
                            alpha, shift, sl, b1, yf, yf, cuts[b], cuts[b + 1], nextThresholds: nextT, nextPacked: fusedPacked, nextKinds: fusedKinds);
                Emit($"{name}.{v}.fusedpack.y", (ReadOnlySpan<float>)yf);
                Emit($"{name}.{v}.fusedpack.packed", (ReadOnlySpan<ulong>)fusedPacked);
                Emit($"{name}.{v}.fusedpack.kinds", (ReadOnlySpan<byte>)fusedKinds);
                ExpectSameBits($"{name}.{v}.fusedpack.y", yi, yf);
                var (wantPacked, wantKinds) = Pack(yf, cout, plane, nextT);
                if (!wantPacked.AsSpan().SequenceEqual(fusedPacked)) Fail($"{name}.{v}.fusedpack: packed words differ from SignPack of the output");
                if (!wantKinds.AsSpan().SequenceEqual(fusedKinds)) Fail($"{name}.{v}.fusedpack: flags differ from SignPack of the output");
            }
        }
    }

    // ---------------------------------------------------------------- XorPopcount

    private static void CheckPopcount()
    {
        int[] ns = [0, 1, 2, 9, 18, 27, 30, 31, 32, 61, 62, 63, 64, 93, 100, 279, 300];
        int[] gs = [1, 2, 3, 16];
        foreach (int n in ns)
            foreach (int groups in gs)
                foreach (string pattern in new[] { "random", "extreme" })
                {
                    string name = $"popcount.n{n}.g{groups}.{pattern}";
                    var rng = new Rng(name);
                    var x = new ulong[Math.Max(1, n)];
                    var wts = new ulong[Math.Max(1, groups * n * 4)];
                    for (int i = 0; i < x.Length; i++) x[i] = pattern == "random" ? rng.Next() : ulong.MaxValue;
                    for (int i = 0; i < wts.Length; i++)
                        // extreme: mostly all-mismatch words (64 per word, so byte counters reach 8·31 = 248), some all-match.
                        wts[i] = pattern == "random" ? rng.Next() : rng.Int(7) == 0 ? ulong.MaxValue : 0UL;

                    var expected = new int[groups * 4];
                    for (int g = 0; g < groups; g++)
                        for (int j = 0; j < 4; j++)
                        {
                            int sum = 0;
                            for (int i = 0; i < n; i++) sum += BitOperations.PopCount(x[i] ^ wts[(g * n + i) * 4 + j]);
                            expected[g * 4 + j] = sum;
                        }

                    int[] result = expected;
                    if (PopcountAdvSimd.IsSupported)
                    {
                        result = new int[groups * 4];
                        Array.Fill(result, -1);
                        fixed (ulong* px = x, pw = wts)
                        fixed (int* pa = result)
                            PopcountAdvSimd.XorPopcount(px, n, pw, groups, pa);
                        for (int i = 0; i < expected.Length; i++)
                            if (expected[i] != result[i]) { Fail($"{name}: acc[{i}] expected {expected[i]}, got {result[i]}"); break; }
                    }
                    // On x64 this is the scalar reference, on Arm64 the AdvSimd result: the lines must agree.
                    Emit(name, (ReadOnlySpan<int>)result);
                }
    }

    // ---------------------------------------------------------------- float kernels

    private static void CheckConv2d()
    {
        (int Cin, int Cout)[] shapes = [(1, 1), (3, 8), (8, 3), (13, 5)];
        (int W, int H)[] sizes = [(1, 1), (5, 3), (17, 9), (37, 6), (52, 4)];
        int index = 0;
        foreach (var (cin, cout) in shapes)
            foreach (int k in new[] { 1, 3, 5, 7, 11 })
                foreach (var (w, h) in sizes)
                {
                    var act = (BbcuActivation)(index++ % 4);
                    string name = $"conv2d.ci{cin}.co{cout}.k{k}.{w}x{h}.{act.ToString().ToLowerInvariant()}";
                    var rng = new Rng(name);
                    int plane = w * h;
                    float[] x = rng.Floats(cin * plane), wts = rng.Floats(cout * cin * k * k);
                    float[] bias = index % 5 == 0 ? [] : rng.Floats(cout);
                    float slope = rng.Float();
                    float[] slopes = rng.Floats(cout);
                    var y = new float[cout * plane];
                    Array.Fill(y, float.NaN);
                    FloatKernels.Conv2d(x, y, w, h, cin, cout, k, wts, bias, act, slope, slopes);
                    Emit(name, (ReadOnlySpan<float>)y);

                    // Reference: the kernel's own summation order per output element (bias, then c, ky, kx;
                    // for k ≥ 5 each channel's taps into a partial sum from 0 first), no FMA.
                    var expected = new float[cout * plane];
                    int pad = k / 2;
                    for (int o = 0; o < cout; o++)
                        for (int r = 0; r < h; r++)
                            for (int col = 0; col < w; col++)
                            {
                                float acc = bias.Length == 0 ? 0f : bias[o];
                                for (int c = 0; c < cin; c++)
                                {
                                    float part = k >= 5 ? 0f : acc;
                                    for (int ky = 0; ky < k; ky++)
                                        for (int kx = 0; kx < k; kx++)
                                        {
                                            int rr = r + ky - pad, cc = col + kx - pad;
                                            if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue;
                                            float prod = x[c * plane + rr * w + cc] * wts[((o * cin + c) * k + ky) * k + kx];
                                            part = part + prod;
                                        }
                                    acc = k >= 5 ? acc + part : part;
                                }
                                float a = act == BbcuActivation.PRelu ? slopes[o] : slope;
                                acc = act switch
                                {
                                    BbcuActivation.None => acc,
                                    BbcuActivation.Relu => acc > 0f ? acc : float.IsNaN(acc) ? acc : 0f,
                                    _ => acc > 0f ? acc : a * acc,
                                };
                                expected[o * plane + r * w + col] = acc;
                            }
                    ExpectSameBits(name, expected, y);
                }
    }

    private static void CheckElementwise()
    {
        foreach (int n in new[] { 1, 3, 4, 7, 8, 9, 16, 33, 459 })
        {
            var rng = new Rng($"elementwise.n{n}");
            float[] a = rng.Floats(n), b = rng.Floats(n);
            float s = rng.Float();
            var y = new float[n];
            FloatKernels.Add(a, b, y); Emit($"add.n{n}", (ReadOnlySpan<float>)y);
            FloatKernels.Subtract(a, b, y); Emit($"subtract.n{n}", (ReadOnlySpan<float>)y);
            FloatKernels.Multiply(a, s, y); Emit($"multiply.n{n}", (ReadOnlySpan<float>)y);
            FloatKernels.Divide(a, s, y); Emit($"divide.n{n}", (ReadOnlySpan<float>)y);
            FloatKernels.Divide(a, 3f, y); Emit($"divide3.n{n}", (ReadOnlySpan<float>)y);
        }
        foreach (int c in new[] { 1, 3, 8 })
            foreach (var (w, h) in Sizes)
            {
                string name = $"channelwise.c{c}.{w}x{h}";
                var rng = new Rng(name);
                int plane = w * h;
                float[] x = rng.Floats(c * plane), p1 = rng.Floats(c), p2 = rng.Floats(c), p3 = rng.Floats(c);
                var y = new float[c * plane];
                FloatKernels.Affine(x, y, c, plane, p1, p2); Emit(name + ".affine", (ReadOnlySpan<float>)y);
                FloatKernels.RPRelu(x, y, c, plane, p1, p2, p3); Emit(name + ".rprelu", (ReadOnlySpan<float>)y);
                FloatKernels.Activate(x, y, c, plane, BbcuActivation.Relu, 0f, default); Emit(name + ".relu", (ReadOnlySpan<float>)y);
                FloatKernels.Activate(x, y, c, plane, BbcuActivation.LeakyRelu, 0.1f, default); Emit(name + ".leakyrelu", (ReadOnlySpan<float>)y);
                FloatKernels.Activate(x, y, c, plane, BbcuActivation.PRelu, 0f, p1); Emit(name + ".prelu", (ReadOnlySpan<float>)y);
            }
    }

    private static void CheckResample()
    {
        foreach (int c in new[] { 1, 3, 8 })
            foreach (var (w, h) in new (int, int)[] { (1, 1), (5, 3), (17, 9), (3, 11) })
            {
                int plane = w * h;
                foreach (int r in new[] { 2, 3 })
                {
                    string name = $"pixelshuffle.c{c}.r{r}.{w}x{h}";
                    var rng = new Rng(name);
                    float[] x = rng.Floats(c * r * r * plane);
                    var y = new float[c * r * r * plane];
                    ResampleKernels.PixelShuffle(x, y, c, r, w, h);
                    Emit(name, (ReadOnlySpan<float>)y);

                    name = $"nearest.c{c}.r{r}.{w}x{h}";
                    rng = new Rng(name);
                    x = rng.Floats(c * plane);
                    y = new float[c * r * r * plane];
                    ResampleKernels.UpsampleNearest(x, y, c, r, w, h);
                    Emit(name, (ReadOnlySpan<float>)y);

                    name = $"channelexpand.c{c}.s{r}.{w}x{h}";
                    y = new float[(c * r + 1) * plane];
                    ResampleKernels.ChannelExpand(x, y, c, r, plane);
                    Emit(name, (ReadOnlySpan<float>)y);
                }
                foreach (int r in new[] { 2, 3, 4 })
                {
                    string name = $"bilinear.c{c}.r{r}.{w}x{h}";
                    var rng = new Rng(name);
                    float[] x = rng.Floats(c * plane);
                    var y = new float[c * r * r * plane];
                    ResampleKernels.UpsampleBilinear(x, y, c, r, w, h);
                    Emit(name, (ReadOnlySpan<float>)y);
                }
            }
    }

    // ---------------------------------------------------------------- dump comparison

    private static long Ordered(float f)
    {
        int b = BitConverter.SingleToInt32Bits(f);
        return b >= 0 ? b : (long)int.MinValue - b;
    }

    private static long Ulps(float a, float b) => Math.Abs(Ordered(a) - Ordered(b));

    private static int CompareDumps(string dirA, string dirB)
    {
        int differing = 0;
        var files = new List<string>(Directory.GetFiles(dirA));
        files.Sort(StringComparer.Ordinal);
        foreach (string pathA in files)
        {
            string file = Path.GetFileName(pathA), pathB = Path.Combine(dirB, file);
            if (!File.Exists(pathB)) { Console.WriteLine($"{file}: missing in {dirB}"); differing++; continue; }
            byte[] a = File.ReadAllBytes(pathA), b = File.ReadAllBytes(pathB);
            if (a.AsSpan().SequenceEqual(b)) continue;
            differing++;
            if (!file.EndsWith(".f32", StringComparison.Ordinal) || a.Length != b.Length)
            {
                Console.WriteLine($"{file}: bytes differ ({a.Length} vs {b.Length} bytes)");
                continue;
            }
            ReadOnlySpan<float> fa = MemoryMarshal.Cast<byte, float>(a), fb = MemoryMarshal.Cast<byte, float>(b);
            int count = 0, worstAt = 0;
            long worst = 0;
            for (int i = 0; i < fa.Length; i++)
            {
                long u = Ulps(fa[i], fb[i]);
                if (u == 0) continue;
                count++;
                if (u > worst) { worst = u; worstAt = i; }
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{file}: {count} of {fa.Length} floats differ, max {worst} ulp (element {worstAt}: {fa[worstAt]:R} vs {fb[worstAt]:R})"));
        }
        return differing == 0 ? 0 : 1;
    }
}
