using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using Bbcu.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

public delegate void RunCancellableDelegate(ReadOnlySpan<float> input, int width, int height, Span<float> output, BbcuWorkspace workspace, CancellationToken cancellationToken);

/// <summary>
/// Many callers at once, and cancellation: concurrent calls with different images, thread counts and
/// tile sizes all give the single-threaded bits; a cancelled run stops at the next layer or tile, throws
/// <see cref="OperationCanceledException"/> and leaves its workspace usable (the next call is bit-identical
/// to a fresh workspace's).
/// </summary>
public sealed class ConcurrencyTests : IClassFixture<ConcurrencyTests.Compiled>
{
    public sealed class Compiled
    {
        public Compiled()
        {
            // BBCU-M ×3: binary body, binary upsampling, bilinear skip — every kind of layer and a halo.
            Type = GeneratorHarness.RunFolder(Repo.Path("tests", "fixtures", "bbcum_x3")).LoadModel();
            Run = GeneratorHarness.GetRunWorkspace(Type);
            MethodInfo m = Type.GetMethod("Run", new[] { typeof(ReadOnlySpan<float>), typeof(int), typeof(int), typeof(Span<float>), typeof(BbcuWorkspace), typeof(CancellationToken) })!;
            RunCancellable = m.CreateDelegate<RunCancellableDelegate>();
            Halo = GeneratorHarness.Constant<int>(Type, "Halo");
            LayerCount = GeneratorHarness.Constant<int>(Type, "LayerCount");
        }

        public Type Type { get; }
        public RunWorkspaceDelegate Run { get; }
        public RunCancellableDelegate RunCancellable { get; }
        public int Halo { get; }
        public int LayerCount { get; }

        public BbcuWorkspace CreateWorkspace(int w, int h) => (BbcuWorkspace)Type.GetMethod("CreateWorkspace")!.Invoke(null, new object[] { w, h })!;
    }

    private const int Channels = 3, Scale = 3;
    private readonly Compiled _m;
    private int LayerCount => _m.LayerCount;
    private readonly ITestOutputHelper _out;

    public ConcurrencyTests(Compiled compiled, ITestOutputHelper output)
    {
        _m = compiled;
        _out = output;
    }

    private static float[] Image(int w, int h, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, Channels * w * h).Select(_ => (float)(rng.NextDouble() * 1.2 - 0.1)).ToArray();
    }

    private float[] Reference(float[] input, int w, int h)
    {
        var ws = _m.CreateWorkspace(w, h);
        ws.DegreeOfParallelism = 1;
        var o = new float[input.Length * Scale * Scale];
        _m.Run(input, w, h, o, ws);
        return o;
    }

    [Fact]
    public void ConcurrentCallsWithDifferentImagesDegreesAndTilesGiveTheSingleThreadedBits()
    {
        var jobs = Enumerable.Range(0, 12).Select(i => (W: 20 + 3 * i, H: 14 + i, Seed: 100 + i, Degree: 1 + i % 4, Tiled: i % 3 == 0)).ToArray();
        var inputs = jobs.Select(j => Image(j.W, j.H, j.Seed)).ToArray();
        var expected = jobs.Select((j, i) => Reference(inputs[i], j.W, j.H)).ToArray();
        var results = new float[jobs.Length][];
        using var start = new Barrier(jobs.Length);
        Parallel.For(0, jobs.Length, new ParallelOptions { MaxDegreeOfParallelism = jobs.Length }, i =>
        {
            var j = jobs[i];
            var ws = j.Tiled ? _m.CreateWorkspace(2 * _m.Halo + 5, 2 * _m.Halo + 4) : _m.CreateWorkspace(j.W, j.H);
            ws.DegreeOfParallelism = j.Degree;
            var o = new float[expected[i].Length];
            start.SignalAndWait();
            for (int rep = 0; rep < 3; rep++) _m.Run(inputs[i], j.W, j.H, o, ws);
            results[i] = o;
        });
        for (int i = 0; i < jobs.Length; i++) FloatAssert.SameBits(expected[i], results[i], $"job {i} {jobs[i]} vs one thread");
    }

    [Fact]
    public void CancellingATiledRunStopsAtTheNextTileAndTheWorkspaceStaysUsable()
    {
        int w = 40, h = 31;
        var input = Image(w, h, 7);
        float[] expected = Reference(input, w, h);
        var ws = _m.CreateWorkspace(2 * _m.Halo + 6, 2 * _m.Halo + 6);
        ws.DegreeOfParallelism = 2;
        using var cts = new CancellationTokenSource();
        var reports = new List<(int Done, int Total)>();
        ws.TileCompleted = (done, total) =>
        {
            reports.Add((done, total));
            if (done == 3) cts.Cancel();
        };
        var output = new float[expected.Length];
        Assert.ThrowsAny<OperationCanceledException>(() => _m.RunCancellable(input, w, h, output, ws, cts.Token));
        _out.WriteLine($"cancelled after {reports.Count} of {reports[0].Total} tiles");
        Assert.Equal(3, reports.Count); // no tile started after the cancellation
        Assert.True(reports[0].Total > 3);

        // The same workspace, reused: exactly the reference (stale buffers never leak into a result).
        ws.TileCompleted = null;
        var again = new float[expected.Length];
        _m.Run(input, w, h, again, ws);
        FloatAssert.SameBits(expected, again, "the reused workspace after a cancelled run");
    }

    [Fact]
    public void AnAlreadyCancelledTokenRunsNoLayerAndReleasesTheWorkspace()
    {
        int w = 12, h = 9;
        var input = Image(w, h, 8);
        var ws = _m.CreateWorkspace(w, h);
        var output = new float[input.Length * Scale * Scale];
        Array.Fill(output, 42f);
        int layers = 0;
        ws.LayerCompleted = (_, _) => layers++;
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => _m.RunCancellable(input, w, h, output, ws, cts.Token));
        Assert.Equal(0, layers); // not one layer ran
        Assert.All(output, v => Assert.Equal(42f, v)); // nothing was written
        _m.Run(input, w, h, output, ws); // not left "in use"
        Assert.Equal(LayerCount, layers);
        FloatAssert.SameBits(Reference(input, w, h), output, "the workspace after a pre-cancelled call");
    }

    /// <summary>
    /// A cancel that arrives while layer i runs (here: at its end, from the per-layer hook) stops the run
    /// before layer i + 1: the token is checked before every layer, not only at the end. Tried for every i.
    /// </summary>
    [Fact]
    public void CancellingDuringALayerStopsBeforeTheNextOne()
    {
        int w = 15, h = 11;
        var input = Image(w, h, 11);
        float[] expected = Reference(input, w, h);
        var ws = _m.CreateWorkspace(w, h);
        Assert.True(LayerCount >= 3, "the model needs a few layers for this test");
        for (int stopAfter = 1; stopAfter < LayerCount; stopAfter++)
        {
            using var cts = new CancellationTokenSource();
            var seen = new List<(int Done, int Total)>();
            ws.LayerCompleted = (done, total) =>
            {
                seen.Add((done, total));
                if (done == stopAfter) cts.Cancel();
            };
            var output = new float[expected.Length];
            Assert.ThrowsAny<OperationCanceledException>(() => _m.RunCancellable(input, w, h, output, ws, cts.Token));
            Assert.Equal(Enumerable.Range(1, stopAfter).Select(i => (i, LayerCount)), seen);
        }
        ws.LayerCompleted = null;
        var again = new float[expected.Length];
        _m.Run(input, w, h, again, ws);
        FloatAssert.SameBits(expected, again, "the workspace after cancelled runs");
    }

    [Fact]
    public void CancellingFromAnotherThreadStopsALongRun()
    {
        // A large untiled image: the run checks the token before each of its layers.
        int w = 800, h = 600;
        var input = Image(w, h, 9);
        var ws = _m.CreateWorkspace(w, h);
        ws.DegreeOfParallelism = 1;
        var output = new float[input.Length * Scale * Scale];
        using var cts = new CancellationTokenSource();
        using var firstLayer = new ManualResetEventSlim();
        int layersDone = 0;
        ws.LayerCompleted = (done, _) =>
        {
            Volatile.Write(ref layersDone, done);
            if (done == 1) firstLayer.Set();
        };
        var task = Task.Run(() => _m.RunCancellable(input, w, h, output, ws, cts.Token));
        firstLayer.Wait();
        cts.Cancel(); // while the second layer runs
        var e = Assert.ThrowsAny<OperationCanceledException>(() => task.GetAwaiter().GetResult());
        Assert.Equal(cts.Token, e.CancellationToken);
        _out.WriteLine($"cancelled after layer 1; {layersDone} of {LayerCount} layers ran");
        Assert.InRange(Volatile.Read(ref layersDone), 1, LayerCount - 1);
        ws.LayerCompleted = null;
        var small = Image(10, 8, 10);
        var o = new float[small.Length * Scale * Scale];
        _m.Run(small, 10, 8, o, ws);
        FloatAssert.SameBits(Reference(small, 10, 8), o, "the workspace after a cancelled run");
    }
}
