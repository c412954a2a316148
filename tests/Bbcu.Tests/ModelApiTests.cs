using System;
using System.Linq;
using System.Threading.Tasks;
using Bbcu.Tests.Infrastructure;
using Xunit;

namespace Bbcu.Tests;

/// <summary>The generated public API: argument checks, allocations, workspaces and threads.</summary>
public sealed class ModelApiTests : IClassFixture<ModelApiTests.Compiled>
{
    public sealed class Compiled
    {
        public Compiled()
        {
            Type = GeneratorHarness.RunFolder(Repo.Path("tests", "fixtures", "dncnn_c3_nc16_nb6")).LoadModel();
            Run = GeneratorHarness.GetRun(Type);
            RunWorkspace = GeneratorHarness.GetRunWorkspace(Type);
        }

        public Type Type { get; }
        public RunDelegate Run { get; }
        public RunWorkspaceDelegate RunWorkspace { get; }

        public BbcuWorkspace CreateWorkspace(int w, int h) => (BbcuWorkspace)Type.GetMethod("CreateWorkspace")!.Invoke(null, new object[] { w, h })!;

        public long WorkspaceBytes(int w, int h) => (long)Type.GetMethod("WorkspaceBytes")!.Invoke(null, new object[] { w, h })!;
    }

    private readonly Compiled _m;

    public ModelApiTests(Compiled compiled) => _m = compiled;

    private static float[] Image(int c, int w, int h, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, c * w * h).Select(_ => (float)rng.NextDouble()).ToArray();
    }

    [Fact]
    public void ConstantsDescribeTheModel()
    {
        Assert.Equal(3, GeneratorHarness.Constant<int>(_m.Type, "InputChannels"));
        Assert.Equal(3, GeneratorHarness.Constant<int>(_m.Type, "OutputChannels"));
        Assert.Equal(1, GeneratorHarness.Constant<int>(_m.Type, "Scale"));
    }

    [Fact]
    public void WrongInputLengthThrowsNamingTheExpectedSize()
    {
        var e = Assert.Throws<ArgumentException>(() => _m.Run(new float[3 * 5 * 4 - 1], 5, 4, new float[3 * 5 * 4]));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("3 × 4 × 5 = 60", e.Message);
        Assert.Contains("holds 59", e.Message);
    }

    [Fact]
    public void WrongOutputLengthThrowsNamingTheExpectedSize()
    {
        var e = Assert.Throws<ArgumentException>(() => _m.Run(new float[60], 5, 4, new float[61]));
        Assert.Equal("output", e.ParamName);
        Assert.Contains("= 60 floats", e.Message);
    }

    [Theory]
    [InlineData(0, 4)]
    [InlineData(5, 0)]
    [InlineData(-1, 4)]
    [InlineData(5, int.MinValue)]
    public void NonPositiveDimensionsThrow(int w, int h)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => _m.Run(new float[60], w, h, new float[60]));
        Assert.Contains("must be positive", e.Message);
    }

    [Fact]
    public void OverflowingDimensionsThrowInsteadOfWrapping()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => _m.Run(new float[60], 1 << 20, 1 << 20, new float[60]));
        Assert.Contains("too large", e.Message);
    }

    [Fact]
    public void TooSmallWorkspaceThrows()
    {
        var ws = _m.CreateWorkspace(4, 4);
        // Too small to hold the image and too small to tile it with the model's halo.
        var e = Assert.Throws<ArgumentException>(() => _m.RunWorkspace(new float[3 * 5 * 5], 5, 5, new float[3 * 5 * 5], ws));
        Assert.Contains("halo of 6 pixels", e.Message);
        Assert.Contains("or for 5×5", e.Message);
        // A workspace serves any image with no more pixels than it was made for.
        _m.RunWorkspace(new float[3 * 8 * 2], 8, 2, new float[3 * 8 * 2], ws);
    }

    [Fact]
    public void ManyThreadsGiveTheSameResultAsOne()
    {
        int w = 13, h = 9;
        var input = Image(3, w, h, 3);
        var expected = new float[input.Length];
        _m.Run(input, w, h, expected);
        var results = new float[8][];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var ws = _m.CreateWorkspace(w, h);
            var o = new float[input.Length];
            for (int rep = 0; rep < 10; rep++) _m.RunWorkspace(input, w, h, o, ws);
            results[i] = o;
        });
        Assert.Equal(8, results.Length);
        for (int i = 0; i < results.Length; i++) FloatAssert.SameBits(expected, results[i], $"thread {i}");
    }

    [Fact]
    public void DegreeOfParallelismBelowOneThrows()
    {
        var ws = _m.CreateWorkspace(5, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => ws.DegreeOfParallelism = 0);
    }

    [Fact]
    public void WorkspaceIsReleasedAfterAFailedCall()
    {
        var ws = _m.CreateWorkspace(5, 4);
        Assert.Throws<ArgumentException>(() => _m.RunWorkspace(new float[1], 5, 4, new float[60], ws));
        _m.RunWorkspace(new float[60], 5, 4, new float[60], ws);
    }
}
