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

/// <summary>Entry point: <c>--check</c>, <c>--peak ours|ort-lean</c>, or BenchmarkDotNet arguments.</summary>
public static class Program
{
    /// <summary>Runs the selected mode.</summary>
    public static int Main(string[] args)
    {
        if (args.Length >= 1 && args[0] == "--check") return RunChecks();
        if (args.Length >= 2 && args[0] == "--peak") return Peak(args[1]);
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
