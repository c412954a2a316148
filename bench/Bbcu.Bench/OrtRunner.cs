using System;
using System.Linq;
using Microsoft.ML.OnnxRuntime;

namespace Bbcu.Bench;

/// <summary>
/// One ONNX Runtime session with pre-allocated input and output tensors over managed arrays,
/// run through the OrtValue overload (no per-call output allocation).
/// </summary>
public sealed class OrtRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new RunOptions();
    private readonly OrtValue _in, _out;
    private readonly string[] _inNames = { "x" }, _outNames = { "y" };
    private readonly OrtValue[] _inValues, _outValues;

    /// <summary>The output buffer (NCHW, batch 1).</summary>
    public float[] Output { get; }

    /// <summary>Loads <paramref name="file"/> from bench/models with the benchmark's session options.</summary>
    public OrtRunner(string file, int threads, float[] input)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(Bench.Model(file), options);
        long[] inShape = _session.InputMetadata["x"].Dimensions.Select(d => (long)d).ToArray();
        long[] outShape = _session.OutputMetadata["y"].Dimensions.Select(d => (long)d).ToArray();
        if (inShape.Aggregate(1L, (a, b) => a * b) != input.Length)
            throw new ArgumentException($"{file}: input shape [{string.Join(",", inShape)}] does not hold {input.Length} floats");
        Output = new float[outShape.Aggregate(1L, (a, b) => a * b)];
        _in = OrtValue.CreateTensorValueFromMemory(input, inShape);
        _out = OrtValue.CreateTensorValueFromMemory(Output, outShape);
        _inValues = new[] { _in };
        _outValues = new[] { _out };
    }

    /// <summary>One inference into <see cref="Output"/>.</summary>
    public void Run() => _session.Run(_runOptions, _inNames, _inValues, _outNames, _outValues);

    /// <inheritdoc/>
    public void Dispose()
    {
        _in.Dispose();
        _out.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}
