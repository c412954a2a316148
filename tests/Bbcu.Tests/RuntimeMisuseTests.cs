using System;
using System.Linq;
using Bbcu.Tests.Infrastructure;
using Xunit;

namespace Bbcu.Tests;

/// <summary>
/// Every public entry point of the runtime checks its arguments: the kernels are public only for the
/// generated code, but they use pointers, so sizes that are zero, negative or whose products overflow,
/// and buffers that are too short, must throw <see cref="ArgumentException"/> instead of touching memory
/// out of bounds. Plus the documented NaN/Inf input policy.
/// </summary>
public sealed class RuntimeMisuseTests
{
    private static readonly float[] F = new float[64];
    private static readonly ulong[] U = new ulong[64];
    private static readonly byte[] B = new byte[64];

    public static TheoryData<string, Action> KernelCalls() => new()
    {
        { "SignPack channels 0", () => BinaryKernels.SignPack(F, 0, 4, F, U, B) },
        { "SignPack negative plane", () => BinaryKernels.SignPack(F, 1, -4, F, U, B) },
        { "SignPack overflowing channels·plane", () => BinaryKernels.SignPack(F, 65536, 65536, F, U, B) },
        { "SignPack short x", () => BinaryKernels.SignPack(F, 2, 64, F, U, B) },
        { "Conv3x3 width 0", () => BinaryKernels.Conv3x3(U, B, 0, 4, 1, 1, U, default, default, F, F, default, default, default, F) },
        { "Conv3x3 negative height", () => BinaryKernels.Conv3x3(U, B, 4, -4, 1, 1, U, default, default, F, F, default, default, default, F) },
        { "Conv3x3 65536×65536", () => BinaryKernels.Conv3x3(U, B, 65536, 65536, 1, 1, U, default, default, F, F, default, default, default, F) },
        { "Conv3x3 cout 0", () => BinaryKernels.Conv3x3(U, B, 2, 2, 1, 0, U, default, default, F, F, default, default, default, F) },
        { "Conv3x3 short output", () => BinaryKernels.Conv3x3(U, B, 8, 8, 1, 4, new ulong[64 * 9], default, default, F, F, default, default, default, F) },
        { "Conv2d even kernel", () => FloatKernels.Conv2d(F, F, 2, 2, 1, 1, 2, F, default) },
        { "Conv2d k 0", () => FloatKernels.Conv2d(F, F, 2, 2, 1, 1, 0, F, default) },
        { "Conv2d 46341×46341", () => FloatKernels.Conv2d(F, F, 46341, 46341, 1, 1, 3, F, default) },
        { "Conv2d cin·plane overflow", () => FloatKernels.Conv2d(F, F, 40000, 40000, 2, 1, 3, F, default) },
        { "Activate negative channels", () => FloatKernels.Activate(F, F, -1, 4, BbcuActivation.Relu, 0, default) },
        { "Activate channels·plane overflow", () => FloatKernels.Activate(F, F, 65536, 65536, BbcuActivation.Relu, 0, default) },
        { "RPRelu short slopes", () => FloatKernels.RPRelu(F, F, 8, 8, F, new float[2], F) },
        { "Affine overflow", () => FloatKernels.Affine(F, F, 65536, 65536, F, F) },
        { "Add short input", () => FloatKernels.Add(new float[3], F, F) },
        { "PixelShuffle r 0", () => ResampleKernels.PixelShuffle(F, F, 1, 0, 2, 2) },
        { "PixelShuffle channels·r² overflow", () => ResampleKernels.PixelShuffle(F, F, int.MaxValue, 2, 1, 1) },
        { "UpsampleNearest negative width", () => ResampleKernels.UpsampleNearest(F, F, 1, 2, -2, 2) },
        { "UpsampleBilinear short output", () => ResampleKernels.UpsampleBilinear(F, F, 1, 4, 4, 4) },
        { "ChannelExpand repeats 0", () => ResampleKernels.ChannelExpand(F, F, 1, 0, 4) },
        { "ChannelExpand overflow", () => ResampleKernels.ChannelExpand(F, F, 65536, 65536, 2) },
        { "CopyIn region outside", () => BbcuTiling.CopyIn(F, 4, 4, 1, 2, 2, 4, 4, F) },
        { "CopyIn negative origin", () => BbcuTiling.CopyIn(F, 4, 4, 1, -1, 0, 2, 2, F) },
        { "CopyOut short output", () => BbcuTiling.CopyOut(F, 4, 4, 1, 0, 0, 4, 4, new float[3], 4, 4, 0, 0) },
        { "Workspace negative size", () => _ = new BbcuWorkspace(-1, 4, 0, 0, 0) },
        { "Workspace oversized buffers", () => _ = new BbcuWorkspace(4, 4, long.MaxValue, 0, 0) },
        { "Workspace degree 0", () => new BbcuWorkspace(4, 4, 0, 0, 0).DegreeOfParallelism = 0 },
    };

    [Theory]
    [MemberData(nameof(KernelCalls))]
    public void BadKernelArgumentsThrowArgumentException(string name, Action call)
    {
        var e = Assert.ThrowsAny<ArgumentException>(call);
        Assert.False(string.IsNullOrWhiteSpace(e.Message), name);
    }

    /// <summary>
    /// Policy (docs/security.md): inputs are not scanned for NaN or ±Inf. They flow through the float
    /// layers as IEEE arithmetic does; a NaN reaching a Sign counts as +1. So a non-finite value only
    /// affects the output pixels whose receptive field contains it: every other output value is
    /// bit-identical to the run without it, and nothing throws.
    /// </summary>
    [Fact]
    public void NonFiniteInputsStayInsideTheirReceptiveField()
    {
        Type model = GeneratorHarness.RunFolder(Repo.Path("tests", "fixtures", "dncnn_c3_nc16_nb6")).LoadModel();
        var run = GeneratorHarness.GetRun(model);
        int halo = GeneratorHarness.Constant<int>(model, "Halo");
        int w = 40, h = 30, plane = w * h;
        var rng = new Random(5);
        float[] input = Enumerable.Range(0, 3 * plane).Select(_ => (float)rng.NextDouble()).ToArray();
        var clean = new float[input.Length];
        run(input, w, h, clean);
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            float[] dirty = (float[])input.Clone();
            dirty[1 * plane + 2 * w + 3] = bad; // channel 1, row 2, column 3
            var o = new float[input.Length];
            run(dirty, w, h, o);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        if (Math.Abs(y - 2) <= halo && Math.Abs(x - 3) <= halo) continue;
                        int i = c * plane + y * w + x;
                        Assert.True(BitConverter.SingleToInt32Bits(clean[i]) == BitConverter.SingleToInt32Bits(o[i]),
                            $"{bad} at (3, 2) changed the output at ({x}, {y}), outside the halo of {halo}");
                    }
        }
    }
}
