using System;
using Bbcu;

namespace KernelCheck;

// Fixture models (tests/fixtures), compiled into this program by the generator.
[BbcuModel("dncnn_c3_nc64_nb20/model.json", "dncnn_c3_nc64_nb20/model.safetensors")]
internal static partial class PaperDnCnn { }

[BbcuModel("dncnn_c3_nc70_nb4/model.json", "dncnn_c3_nc70_nb4/model.safetensors")]
internal static partial class DnCnn70 { }

[BbcuModel("dncnn_zero_weights/model.json", "dncnn_zero_weights/model.safetensors")]
internal static partial class ZeroWeights { }

[BbcuModel("dncnn3_g1_nc16_nb4/model.json", "dncnn3_g1_nc16_nb4/model.safetensors")]
internal static partial class DnCnn3Grey { }

[BbcuModel("bbcum_x3/model.json", "bbcum_x3/model.safetensors")]
internal static partial class BbcuMx3 { }

[BbcuModel("bbcul_x4/model.json", "bbcul_x4/model.safetensors")]
internal static partial class BbcuLx4 { }

[BbcuModel("unit_h/model.json", "unit_h/model.safetensors")]
internal static partial class UnitH { }

[BbcuModel("unit_v1/model.json", "unit_v1/model.safetensors")]
internal static partial class UnitV1 { }

[BbcuModel("unit_u2/model.json", "unit_u2/model.safetensors")]
internal static partial class UnitU2 { }

[BbcuModel("unit_k1_k5/model.json", "unit_k1_k5/model.safetensors")]
internal static partial class UnitK1K5 { }

[BbcuModel("unit_k11/model.json", "unit_k11/model.safetensors")]
internal static partial class UnitK11 { }

[BbcuModel("unit_prelu/model.json", "unit_prelu/model.safetensors")]
internal static partial class UnitPRelu { }

[BbcuModel("unit_bf16/model.json", "unit_bf16/model.safetensors")]
internal static partial class UnitBf16 { }

/// <summary>
/// Whole compiled models on deterministic inputs: the output of a one-thread, one-pass run is hashed (so
/// the cross-ISA comparison covers every kernel as the generated code calls it, fused next-layer packs
/// and in-place residuals included), and 2 threads and (where the halo allows) a tiled run must give the
/// same bits in-process.
/// </summary>
internal static class ModelChecks
{
    public delegate void RunFn(ReadOnlySpan<float> input, int width, int height, Span<float> output, BbcuWorkspace workspace);

    public static void CheckAll()
    {
        Check("dncnn_c3_nc64_nb20", PaperDnCnn.InputChannels, PaperDnCnn.OutputChannels, PaperDnCnn.Scale, PaperDnCnn.Halo, PaperDnCnn.LayerCount, PaperDnCnn.CreateWorkspace, PaperDnCnn.Run);
        Check("dncnn_c3_nc70_nb4", DnCnn70.InputChannels, DnCnn70.OutputChannels, DnCnn70.Scale, DnCnn70.Halo, DnCnn70.LayerCount, DnCnn70.CreateWorkspace, DnCnn70.Run);
        Check("dncnn_zero_weights", ZeroWeights.InputChannels, ZeroWeights.OutputChannels, ZeroWeights.Scale, ZeroWeights.Halo, ZeroWeights.LayerCount, ZeroWeights.CreateWorkspace, ZeroWeights.Run);
        Check("dncnn3_g1_nc16_nb4", DnCnn3Grey.InputChannels, DnCnn3Grey.OutputChannels, DnCnn3Grey.Scale, DnCnn3Grey.Halo, DnCnn3Grey.LayerCount, DnCnn3Grey.CreateWorkspace, DnCnn3Grey.Run);
        Check("bbcum_x3", BbcuMx3.InputChannels, BbcuMx3.OutputChannels, BbcuMx3.Scale, BbcuMx3.Halo, BbcuMx3.LayerCount, BbcuMx3.CreateWorkspace, BbcuMx3.Run);
        Check("bbcul_x4", BbcuLx4.InputChannels, BbcuLx4.OutputChannels, BbcuLx4.Scale, BbcuLx4.Halo, BbcuLx4.LayerCount, BbcuLx4.CreateWorkspace, BbcuLx4.Run);
        Check("unit_h", UnitH.InputChannels, UnitH.OutputChannels, UnitH.Scale, UnitH.Halo, UnitH.LayerCount, UnitH.CreateWorkspace, UnitH.Run);
        Check("unit_v1", UnitV1.InputChannels, UnitV1.OutputChannels, UnitV1.Scale, UnitV1.Halo, UnitV1.LayerCount, UnitV1.CreateWorkspace, UnitV1.Run);
        Check("unit_u2", UnitU2.InputChannels, UnitU2.OutputChannels, UnitU2.Scale, UnitU2.Halo, UnitU2.LayerCount, UnitU2.CreateWorkspace, UnitU2.Run);
        Check("unit_k1_k5", UnitK1K5.InputChannels, UnitK1K5.OutputChannels, UnitK1K5.Scale, UnitK1K5.Halo, UnitK1K5.LayerCount, UnitK1K5.CreateWorkspace, UnitK1K5.Run);
        Check("unit_k11", UnitK11.InputChannels, UnitK11.OutputChannels, UnitK11.Scale, UnitK11.Halo, UnitK11.LayerCount, UnitK11.CreateWorkspace, UnitK11.Run);
        Check("unit_prelu", UnitPRelu.InputChannels, UnitPRelu.OutputChannels, UnitPRelu.Scale, UnitPRelu.Halo, UnitPRelu.LayerCount, UnitPRelu.CreateWorkspace, UnitPRelu.Run);
        Check("unit_bf16", UnitBf16.InputChannels, UnitBf16.OutputChannels, UnitBf16.Scale, UnitBf16.Halo, UnitBf16.LayerCount, UnitBf16.CreateWorkspace, UnitBf16.Run);
    }

    private static void Check(string name, int cin, int cout, int scale, int halo, int layerCount, Func<int, int, BbcuWorkspace> create, RunFn run)
    {
        // Wide enough for the vectorised interior paths, with borders and a last partial quad.
        const int w = 37, h = 21;
        string id = $"model.{name}.{w}x{h}";
        var rng = new Program.Rng(id);
        var input = new float[cin * w * h];
        for (int i = 0; i < input.Length; i++) input[i] = (rng.Float() + 2f) * 0.25f; // [0, 1), exact
        var output = new float[cout * w * h * scale * scale];
        Array.Fill(output, float.NaN);
        BbcuWorkspace ws = create(w, h);
        ws.DegreeOfParallelism = 1;
        int layers = 0;
        ws.LayerCompleted = (_, _) => layers++;
        run(input, w, h, output, ws);
        if (layers != layerCount) Program.Fail($"{id}: {layers} layers reported, the model has {layerCount}");
        for (int i = 0; i < output.Length; i++)
            if (!float.IsFinite(output[i])) { Program.Fail($"{id}: output {i} is {output[i]}"); break; }
        Program.Emit(id, (ReadOnlySpan<float>)output);

        ws.DegreeOfParallelism = 2;
        var two = new float[output.Length];
        run(input, w, h, two, ws);
        Program.ExpectSameBits(id + ".threads2", output, two);

        // Tiled, where a workspace just larger than the halo holds fewer pixels than the image (the
        // paper DnCNN's halo of 21 does not fit; tests/Bbcu.Tests/TilingTests tiles larger images).
        int tw = 2 * halo + 5, th = 2 * halo + 4;
        if (tw * th < w * h)
        {
            BbcuWorkspace small = create(tw, th);
            small.DegreeOfParallelism = 1;
            int tiles = 0;
            small.TileCompleted = (done, _) => tiles = done;
            var tiled = new float[output.Length];
            run(input, w, h, tiled, small);
            if (tiles < 2) Program.Fail($"{id}: the tiled run ran {tiles} tile(s)");
            Program.ExpectSameBits($"{id}.tiled", output, tiled);
        }
    }
}
