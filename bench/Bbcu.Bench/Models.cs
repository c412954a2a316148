using System;
using System.IO;

namespace Bbcu.Bench;

/// <summary>One BBCU-B unit 64→64 (bench/models/layer.*, written by tools/export_onnx.py layer).</summary>
[BbcuModel("layer.json", "layer.safetensors")]
public static partial class BbcuLayer { }

/// <summary>DnCNN-BBCU colour, nc 64, nb 20, k 130, seeded random weights.</summary>
[BbcuModel("dncnn_bbcu.json", "dncnn_bbcu.safetensors")]
public static partial class DnCnnBbcu { }

/// <summary>BBCU-M ×4, num_feat 64, num_block 16, k 130, seeded random weights.</summary>
[BbcuModel("bbcum_x4.json", "bbcum_x4.safetensors")]
public static partial class BbcuM { }

/// <summary>Shared sizes, inputs and file locations.</summary>
public static class Bench
{
    /// <summary>Benchmark image width and height (320×180, the paper's benchmark size).</summary>
    public const int Width = 320, Height = 180;

    /// <summary>bench/models, found from the working directory or the executable upwards.</summary>
    public static string ModelDir { get; } = FindModels();

    /// <summary>Full path of a file in bench/models.</summary>
    public static string Model(string file)
    {
        string p = Path.Combine(ModelDir, file);
        if (!File.Exists(p)) throw new FileNotFoundException($"{p} is missing: run bash bench/run.sh (it generates the models).", p);
        return p;
    }

    /// <summary>Deterministic pseudo-random floats in [lo, hi).</summary>
    public static float[] Random(int n, int seed, float lo = 0f, float hi = 1f)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)r.NextDouble();
        return a;
    }

    private static string FindModels()
    {
        string? env = Environment.GetEnvironmentVariable("BBCU_BENCH_MODELS");
        if (!string.IsNullOrEmpty(env)) return env;
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? d = new DirectoryInfo(start); d != null; d = d.Parent)
            {
                string c = Path.Combine(d.FullName, "bench", "models");
                if (Directory.Exists(c)) return c;
                if (d.Name == "bench" && Directory.Exists(Path.Combine(d.FullName, "models"))) return Path.Combine(d.FullName, "models");
            }
        }
        return Path.Combine(Directory.GetCurrentDirectory(), "bench", "models");
    }
}
