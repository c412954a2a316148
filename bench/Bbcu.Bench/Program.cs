using System;
using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Bbcu.Bench;

/// <summary>Ours vs ONNX Runtime on the same input.</summary>
public static class Check
{
    /// <summary>Runs both once and prints max |diff|, mean |diff| and how many outputs differ by more than 1e-3.</summary>
    public static void Compare(string name, Action<float[], float[]> ours, OrtRunner ort, float[] input)
    {
        ort.Run();
        float[] mine = new float[ort.Output.Length];
        ours(input, mine);
        double max = 0, sum = 0, range = 0;
        int over = 0;
        for (int i = 0; i < mine.Length; i++)
        {
            double d = Math.Abs((double)mine[i] - ort.Output[i]);
            sum += d;
            if (d > max) max = d;
            if (d > 1e-3) over++;
            range = Math.Max(range, Math.Abs(ort.Output[i]));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"// check {name}: {mine.Length} outputs, max |diff| {max:G4}, mean |diff| {sum / mine.Length:G4}, " +
            $"{over} ({100.0 * over / mine.Length:F3} %) differ by > 1e-3, max |ORT output| {range:G4}"));
    }
}

/// <summary>Entry point: <c>--isa</c>, <c>--check</c>, <c>--peak ours|ort-lean</c>, <c>--layers dncnn|bbcum|layer [threads]</c>, <c>--spec-ab [calls]</c>, or BenchmarkDotNet arguments.</summary>
public static class Program
{
    /// <summary>Runs the selected mode.</summary>
    public static int Main(string[] args)
    {
        if (args.Length >= 1 && args[0] == "--isa") return Isa();
        if (args.Length >= 1 && args[0] == "--spec-ab") return SpecialisationAb.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 80);
        if (args.Length >= 1 && args[0] == "--check") return RunChecks();
        if (args.Length >= 2 && args[0] == "--peak") return Peak(args[1]);
        if (args.Length >= 1 && args[0] == "--layers") return Layers(args.Length > 1 ? args[1] : "dncnn", args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1);
        var job = Job.ShortRun
            .WithWarmupCount(2)
            .WithIterationCount(5)
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithId("Short-InProcess");
        var config = DefaultConfig.Instance
            .AddJob(job.AsDefault())
            .AddColumn(StatisticColumn.Median)
            .HideColumns(Column.Job, Column.Toolchain, Column.IterationCount, Column.WarmupCount, Column.LaunchCount);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return 0;
    }

    /// <summary>
    /// The host first (<c>--isa</c>): CPU model, the instruction sets .NET reports (what the kernels dispatch on;
    /// <c>DOTNET_EnableAVX512=0</c> and the like show here) and the binary-conv path that follows, so that every
    /// figure below it is read with its host.
    /// </summary>
    private static int Isa()
    {
        string model = "unknown CPU";
        try
        {
            foreach (string line in System.IO.File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal)) { model = line[(line.IndexOf(':') + 1)..].Trim(); break; }
        }
        catch (System.IO.IOException) { }
        catch (UnauthorizedAccessException) { }
        string path = System.Runtime.Intrinsics.X86.Avx512BW.IsSupported && System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported ? "AVX-512 (8 pixels per 512-bit vector, Harley-Seal)"
            : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "AVX2 (4 pixels, nibble LUT)"
            : System.Runtime.Intrinsics.Arm.AdvSimd.Arm64.IsSupported ? "AdvSimd (per-pixel, CNT)" : "portable (per-pixel, scalar popcount)";
        Console.WriteLine($"// host: {model}, {Environment.ProcessorCount} processors, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, {System.Runtime.InteropServices.RuntimeInformation.OSArchitecture}");
        Console.WriteLine($"// .NET sees: avx2={System.Runtime.Intrinsics.X86.Avx2.IsSupported} fma={System.Runtime.Intrinsics.X86.Fma.IsSupported} " +
            $"avx512f={System.Runtime.Intrinsics.X86.Avx512F.IsSupported} avx512bw={System.Runtime.Intrinsics.X86.Avx512BW.IsSupported} " +
            $"avx512vl={System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported} avx512vbmi={System.Runtime.Intrinsics.X86.Avx512Vbmi.IsSupported} " +
            $"gfni512={System.Runtime.Intrinsics.X86.Gfni.V512.IsSupported} advsimd={System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported}");
        Console.WriteLine($"// binary 3x3 conv path: {path}");
        return 0;
    }

    private static int RunChecks()
    {
        const int W = Bench.Width, H = Bench.Height;
        Console.WriteLine($"// models from {Bench.ModelDir}");
        float[] x = Bench.Random(3 * W * H, 5);
        foreach (string form in new[] { "lean", "training" })
        {
            using (var ort = new OrtRunner($"dncnn_bbcu_{form}.onnx", 2, x))
                Check.Compare($"DnCNN-BBCU 320x180 vs ORT {form}", (i, o) => DnCnnBbcu.Run(i, W, H, o), ort, x);
            using (var ort = new OrtRunner($"bbcum_x4_{form}.onnx", 2, x))
                Check.Compare($"BBCU-M x4 320x180 vs ORT {form}", (i, o) => BbcuM.Run(i, W, H, o), ort, x);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"// workspace bytes at 320x180: layer {BbcuLayer.WorkspaceBytes(W, H)}, DnCNN-BBCU {DnCnnBbcu.WorkspaceBytes(W, H)}, BBCU-M x4 {BbcuM.WorkspaceBytes(W, H)}"));
        return 0;
    }

    /// <summary>
    /// Time per layer (<c>--layers dncnn|bbcum|layer [threads]</c>): 40 runs at 320×180 after 5 warm-ups, the
    /// 10th-percentile time of each layer (from <c>workspace.LayerCompleted</c>) and of the whole run. The
    /// machines this project runs on share memory bandwidth with their neighbours, so medians of
    /// memory-bound layers wander; the 10th percentile shows what the code does when left alone.
    /// </summary>
    private static int Layers(string which, int threads)
    {
        const int W = Bench.Width, H = Bench.Height;
        (Func<int, int, BbcuWorkspace> create, Action<float[], float[], BbcuWorkspace> model, int cin, int outLength, int count) = which switch
        {
            "dncnn" => ((Func<int, int, BbcuWorkspace>)DnCnnBbcu.CreateWorkspace, (Action<float[], float[], BbcuWorkspace>)((i, o, w) => DnCnnBbcu.Run(i, W, H, o, w)), 3, 3 * W * H, DnCnnBbcu.LayerCount),
            "bbcum" => (BbcuM.CreateWorkspace, (i, o, w) => BbcuM.Run(i, W, H, o, w), 3, 3 * 16 * W * H, BbcuM.LayerCount),
            "layer" => (BbcuLayer.CreateWorkspace, (i, o, w) => BbcuLayer.Run(i, W, H, o, w), 64, 64 * W * H, BbcuLayer.LayerCount),
            _ => throw new ArgumentException("--layers dncnn|bbcum|layer [threads]"),
        };
        float[] x = Bench.Random(cin * W * H, 5), y = new float[outLength];
        BbcuWorkspace ws = create(W, H);
        ws.DegreeOfParallelism = threads;
        const int Runs = 40;
        var times = new double[count + 1][];
        for (int l = 0; l <= count; l++) times[l] = new double[Runs];
        long last = 0;
        int run = -1;
        ws.LayerCompleted = (done, _) =>
        {
            long now = Stopwatch.GetTimestamp();
            if (run >= 0) times[done - 1][run] = Stopwatch.GetElapsedTime(last, now).TotalMilliseconds;
            last = now;
        };
        // The first call compiles the model's code: what it cost the JIT (in this process; Native AOT pays at publish).
        TimeSpan jit0 = System.Runtime.JitInfo.GetCompilationTime();
        long methods0 = System.Runtime.JitInfo.GetCompiledMethodCount(), il0 = System.Runtime.JitInfo.GetCompiledILBytes();
        long first = Stopwatch.GetTimestamp();
        model(x, y, ws);
        double firstMs = Stopwatch.GetElapsedTime(first).TotalMilliseconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"// first call {firstMs:F1} ms, of which JIT {(System.Runtime.JitInfo.GetCompilationTime() - jit0).TotalMilliseconds:F1} ms: {System.Runtime.JitInfo.GetCompiledMethodCount() - methods0} methods, {System.Runtime.JitInfo.GetCompiledILBytes() - il0} IL bytes"));
        for (int i = 0; i < 4; i++) model(x, y, ws);
        for (run = 0; run < Runs; run++)
        {
            long start = Stopwatch.GetTimestamp();
            last = start;
            model(x, y, ws);
            times[count][run] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        static double P10(double[] a) { var c = (double[])a.Clone(); Array.Sort(c); return c[c.Length / 10]; }
        Console.WriteLine($"// {which} 320x180, {threads} thread(s): per-layer 10th-percentile times of {Runs} runs (ms)");
        double sum = 0;
        for (int l = 0; l < count; l++)
        {
            double t = P10(times[l]);
            sum += t;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"layer {l,2}: {t,8:F3}"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sum of layers {sum:F2} ms; whole run p10 {P10(times[count]):F2} ms"));
        return 0;
    }

    /// <summary>Peak working set of one 1920×1080 colour denoise in this fresh process.</summary>
    private static int Peak(string who)
    {
        const int W = 1920, H = 1080;
        float[] x = Bench.Random(3 * W * H, 9);
        GC.Collect();
        long before = Environment.WorkingSet;
        var sw = Stopwatch.StartNew();
        long workspace = 0;
        if (who == "ours")
        {
            float[] y = new float[3 * W * H];
            // A fixed tile-sized workspace: the image runs in tiles with the model's halo (bit-identical).
            var ws = DnCnnBbcu.CreateWorkspace(256, 256);
            workspace = ws.Bytes;
            DnCnnBbcu.Run(x, W, H, y, ws);
            GC.KeepAlive(ws);
        }
        else if (who == "ort-lean")
        {
            using var ort = new OrtRunner("dncnn_bbcu_lean_1080p.onnx", 2, x);
            ort.Run();
        }
        else { Console.Error.WriteLine("--peak ours|ort-lean"); return 2; }
        sw.Stop();
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        string wsText = who == "ours"
            ? FormattableString.Invariant($"workspace {workspace / 1048576.0:F1} MiB (WorkspaceBytes {DnCnnBbcu.WorkspaceBytes(W, H)}), ")
            : "";
        Console.WriteLine(FormattableString.Invariant(
            $"// peak {who} DnCNN-BBCU 1920x1080 colour: one run {sw.Elapsed.TotalSeconds:F2} s, {wsText}") +
            FormattableString.Invariant(
            $"working set before {before / 1048576.0:F0} MiB, peak working set {p.PeakWorkingSet64 / 1048576.0:F0} MiB, input+output arrays {2 * 3L * W * H * 4 / 1048576.0:F1} MiB"));
        return 0;
    }
}
