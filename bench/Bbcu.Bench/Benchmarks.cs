using System;
using BenchmarkDotNet.Attributes;

namespace Bbcu.Bench;

/// <summary>
/// One BBCU-B layer 64→64 at 320×180 (our generated code: sign-pack, XNOR/popcount conv, RPReLU,
/// residual) against ONNX Runtime's float Conv 64→64 3×3 of the same shape on one thread, and the
/// XOR+popcount roofline of the same bit-operation count.
/// </summary>
[MemoryDiagnoser]
public class LayerBench
{
    private const int W = Bench.Width, H = Bench.Height, C = 64;
    private float[] _input = Array.Empty<float>(), _output = Array.Empty<float>();
    private BbcuWorkspace? _ws;
    private OrtRunner? _ort;
    private Roofline? _roof;

    [GlobalSetup(Target = nameof(Ours))]
    public void SetupOurs()
    {
        _input = Bench.Random(C * W * H, 11, -1f, 1f);
        _output = new float[C * W * H];
        _ws = BbcuLayer.CreateWorkspace(W, H);
        _ws.DegreeOfParallelism = 1;
    }

    [GlobalSetup(Target = nameof(OrtFloatConv1T))]
    public void SetupOrt()
    {
        _input = Bench.Random(C * W * H, 11, -1f, 1f);
        _ort = new OrtRunner("layer_conv.onnx", 1, _input);
    }

    [GlobalSetup(Targets = new[] { nameof(RooflineScalar), nameof(RooflineAvx2), nameof(RooflineAvx512Lut), nameof(RooflineAvx512HarleySeal) })]
    public void SetupRoofline() => _roof = new Roofline(W, H);

    [GlobalSetup(Target = nameof(MemoryFloor))]
    public void SetupMemoryFloor()
    {
        _input = Bench.Random(C * W * H, 11, -1f, 1f);
        _output = new float[C * W * H];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ort?.Dispose(); _ort = null;
        _roof?.Dispose(); _roof = null;
        _ws = null;
    }

    [Benchmark(Baseline = true, Description = "Ours: BBCU-B layer (generated)")]
    public void Ours() => BbcuLayer.Run(_input, W, H, _output, _ws!);

    [Benchmark(Description = "ORT float Conv 64→64 3×3, 1 thread")]
    public void OrtFloatConv1T() => _ort!.Run();

    [Benchmark(Description = "Roofline XOR+popcount, scalar")]
    public ulong RooflineScalar() => _roof!.Scalar();

    [Benchmark(Description = "Roofline XOR+popcount, AVX2 nibble LUT")]
    public ulong RooflineAvx2() => _roof!.Avx2Lut();

    [Benchmark(Description = "Roofline XOR+popcount, AVX-512 nibble LUT, 8 pixels per vector")]
    public ulong RooflineAvx512Lut() => _roof!.Avx512(harleySeal: false);

    [Benchmark(Description = "Roofline XOR+popcount, AVX-512 Harley-Seal, 8 pixels per vector")]
    public ulong RooflineAvx512HarleySeal() => _roof!.Avx512(harleySeal: true);

    /// <summary>
    /// The float traffic a BBCU-B layer cannot avoid: read the 64-channel residual (the unit's input)
    /// and write the 64-channel output, 14.7 MB each at 320×180 (here <c>y = 2·x</c> with the runtime's vectorised kernel).
    /// </summary>
    [Benchmark(Description = "Memory floor: read residual + write output (64×320×180 floats)")]
    public void MemoryFloor() => Bbcu.FloatKernels.Multiply(_input, 2f, _output);
}

/// <summary>DnCNN-BBCU colour (nc 64, nb 20) at 320×180: ours vs ONNX Runtime, 1 and 2 threads each.</summary>
[MemoryDiagnoser]
public class DnCnnBench
{
    private const int W = Bench.Width, H = Bench.Height;
    private float[] _input = Array.Empty<float>(), _output = Array.Empty<float>();
    private BbcuWorkspace? _ws;
    private OrtRunner? _ort;

    private void Input() => _input = Bench.Random(3 * W * H, 5);
    private void Load(string file, int threads) { Input(); _ort = new OrtRunner(file, threads, _input); }

    [GlobalSetup(Target = nameof(Ours))]
    public void SetupOurs() => SetupOurs(1);

    [GlobalSetup(Target = nameof(Ours2T))]
    public void SetupOurs2T() => SetupOurs(2);

    private void SetupOurs(int threads)
    {
        Input();
        _output = new float[DnCnnBbcu.OutputChannels * W * H];
        _ws = DnCnnBbcu.CreateWorkspace(W, H);
        _ws.DegreeOfParallelism = threads;
    }

    [GlobalSetup(Target = nameof(OrtLean1T))] public void S1() { Load("dncnn_bbcu_lean.onnx", 1); Check.Compare("DnCNN-BBCU vs ORT lean", (i, o) => DnCnnBbcu.Run(i, W, H, o), _ort!, _input); }
    [GlobalSetup(Target = nameof(OrtLean2T))] public void S2() => Load("dncnn_bbcu_lean.onnx", 2);
    [GlobalSetup(Target = nameof(OrtTraining1T))] public void S3() => Load("dncnn_bbcu_training.onnx", 1);
    [GlobalSetup(Target = nameof(OrtTraining2T))] public void S4() => Load("dncnn_bbcu_training.onnx", 2);
    [GlobalSetup(Target = nameof(OrtFloatDnCnn1T))] public void S5() => Load("dncnn_float.onnx", 1);
    [GlobalSetup(Target = nameof(OrtFloatDnCnn2T))] public void S6() => Load("dncnn_float.onnx", 2);

    [GlobalCleanup]
    public void Cleanup() { _ort?.Dispose(); _ort = null; _ws = null; }

    [Benchmark(Baseline = true, Description = "Ours DnCNN-BBCU, 1 thread")] public void Ours() => DnCnnBbcu.Run(_input, W, H, _output, _ws!);
    [Benchmark(Description = "Ours DnCNN-BBCU, 2 threads")] public void Ours2T() => DnCnnBbcu.Run(_input, W, H, _output, _ws!);
    [Benchmark(Description = "ORT DnCNN-BBCU lean, 1 thread")] public void OrtLean1T() => _ort!.Run();
    [Benchmark(Description = "ORT DnCNN-BBCU lean, 2 threads")] public void OrtLean2T() => _ort!.Run();
    [Benchmark(Description = "ORT DnCNN-BBCU training form, 1 thread")] public void OrtTraining1T() => _ort!.Run();
    [Benchmark(Description = "ORT DnCNN-BBCU training form, 2 threads")] public void OrtTraining2T() => _ort!.Run();
    [Benchmark(Description = "ORT float DnCNN, 1 thread")] public void OrtFloatDnCnn1T() => _ort!.Run();
    [Benchmark(Description = "ORT float DnCNN, 2 threads")] public void OrtFloatDnCnn2T() => _ort!.Run();
}

/// <summary>BBCU-M ×4 (num_feat 64, num_block 16) on a 320×180 input (1280×720 output): ours vs ONNX Runtime.</summary>
[MemoryDiagnoser]
public class BbcuMBench
{
    private const int W = Bench.Width, H = Bench.Height;
    private float[] _input = Array.Empty<float>(), _output = Array.Empty<float>();
    private BbcuWorkspace? _ws;
    private OrtRunner? _ort;

    private void Input() => _input = Bench.Random(3 * W * H, 6);
    private void Load(string file, int threads) { Input(); _ort = new OrtRunner(file, threads, _input); }

    [GlobalSetup(Target = nameof(Ours))]
    public void SetupOurs() => SetupOurs(1);

    [GlobalSetup(Target = nameof(Ours2T))]
    public void SetupOurs2T() => SetupOurs(2);

    private void SetupOurs(int threads)
    {
        Input();
        _output = new float[BbcuM.OutputChannels * W * H * 16];
        _ws = BbcuM.CreateWorkspace(W, H);
        _ws.DegreeOfParallelism = threads;
    }

    [GlobalSetup(Target = nameof(OrtLean1T))] public void S1() { Load("bbcum_x4_lean.onnx", 1); Check.Compare("BBCU-M x4 vs ORT lean", (i, o) => BbcuM.Run(i, W, H, o), _ort!, _input); }
    [GlobalSetup(Target = nameof(OrtLean2T))] public void S2() => Load("bbcum_x4_lean.onnx", 2);
    [GlobalSetup(Target = nameof(OrtTraining1T))] public void S3() => Load("bbcum_x4_training.onnx", 1);
    [GlobalSetup(Target = nameof(OrtTraining2T))] public void S4() => Load("bbcum_x4_training.onnx", 2);

    [GlobalCleanup]
    public void Cleanup() { _ort?.Dispose(); _ort = null; _ws = null; }

    [Benchmark(Baseline = true, Description = "Ours BBCU-M x4, 1 thread")] public void Ours() => BbcuM.Run(_input, W, H, _output, _ws!);
    [Benchmark(Description = "Ours BBCU-M x4, 2 threads")] public void Ours2T() => BbcuM.Run(_input, W, H, _output, _ws!);
    [Benchmark(Description = "ORT BBCU-M x4 lean, 1 thread")] public void OrtLean1T() => _ort!.Run();
    [Benchmark(Description = "ORT BBCU-M x4 lean, 2 threads")] public void OrtLean2T() => _ort!.Run();
    [Benchmark(Description = "ORT BBCU-M x4 training form, 1 thread")] public void OrtTraining1T() => _ort!.Run();
    [Benchmark(Description = "ORT BBCU-M x4 training form, 2 threads")] public void OrtTraining2T() => _ort!.Run();
}
