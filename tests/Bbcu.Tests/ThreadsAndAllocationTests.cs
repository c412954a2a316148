using System;
using System.Linq;
using Bbcu.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// Thread counts and allocations, measured so that they can see what they claim: every run that is
/// meant to be parallel must have run chunks on the worker pool (<c>BbcuParallel.WorkerChunks</c>), and
/// "allocates nothing" counts every byte allocated on the calling thread and on the pool's worker threads
/// (<see cref="Allocated"/>), exactly, whatever the test runner's own threads allocate meanwhile.
/// Runs alone (<see cref="Serial"/>) so that no other test holds the pool.
/// On a one-processor machine the pool has no workers: set <c>DOTNET_PROCESSOR_COUNT=2</c> (.ci/run does).
/// </summary>
[Collection(Serial.Name)]
public sealed class ThreadsAndAllocationTests
{
    private readonly ITestOutputHelper _out;

    public ThreadsAndAllocationTests(ITestOutputHelper output) => _out = output;

    private sealed record Compiled(Type Type, RunWorkspaceDelegate Run, int Cin, int Cout, int Scale)
    {
        public static Compiled Load(string fixture, bool debug = false)
        {
            string folder = Repo.Path("tests", "fixtures", fixture);
            Type t = (debug ? GeneratorHarness.RunFolderDebug(folder) : GeneratorHarness.RunFolder(folder)).LoadModel();
            return new Compiled(t, GeneratorHarness.GetRunWorkspace(t), GeneratorHarness.Constant<int>(t, "InputChannels"),
                GeneratorHarness.Constant<int>(t, "OutputChannels"), GeneratorHarness.Constant<int>(t, "Scale"));
        }

        public BbcuWorkspace Workspace(int w, int h) => (BbcuWorkspace)Type.GetMethod("CreateWorkspace")!.Invoke(null, new object[] { w, h })!;

        public float[] Input(int w, int h, int seed)
        {
            var rng = new Random(seed);
            return Enumerable.Range(0, Cin * w * h).Select(_ => (float)(rng.NextDouble() * 1.5 - 0.25)).ToArray();
        }

        public float[] Output(int w, int h) => new float[Cout * w * h * Scale * Scale];
    }

    /// <summary>
    /// Runs <paramref name="run"/> until some of its work ran on a worker thread, and fails if that never
    /// happens in ten runs. One run can miss: on a busy machine the caller may finish every chunk before a
    /// worker wakes. Every run's result is checked by the caller's <paramref name="run"/> itself.
    /// </summary>
    public static long AssertWorkersRan(Action run, string what)
    {
        for (int attempt = 0; attempt < 10; attempt++)
        {
            long before = BbcuParallel.WorkerChunks;
            run();
            long chunks = BbcuParallel.WorkerChunks - before;
            if (chunks > 0) return chunks;
        }
        Assert.Fail($"{what}: in ten runs no chunk ran on a worker thread (ProcessorCount = {Environment.ProcessorCount}; " +
                    "on one processor set DOTNET_PROCESSOR_COUNT=2), so this compared one thread with one thread");
        return 0;
    }

    /// <summary>
    /// Every layer kind splits its work over threads (rows, channels or element chunks); the bits must
    /// not depend on the thread count. Sizes are large enough that every kernel really splits (the
    /// element-wise ops hand out chunks of 16 384 values).
    /// </summary>
    [Theory]
    [InlineData("dncnn_c3_nc16_nb6", 64, 48)]
    [InlineData("bbcum_x3", 61, 47)]
    [InlineData("bbcul_x2", 70, 40)]
    [InlineData("unit_h", 90, 64)]
    [InlineData("unit_v1", 90, 64)]
    [InlineData("unit_u2", 90, 64)]
    public void EveryThreadCountGivesTheSameBits(string fixture, int width, int height)
    {
        var m = Compiled.Load(fixture);
        BbcuWorkspace ws = m.Workspace(width, height);
        float[] input = m.Input(width, height, width + height);
        ws.DegreeOfParallelism = 1;
        float[] expected = m.Output(width, height);
        long before = BbcuParallel.WorkerChunks;
        m.Run(input, width, height, expected, ws);
        Assert.Equal(before, BbcuParallel.WorkerChunks); // one thread means the caller's thread alone
        foreach (int degree in new[] { 2, 3, 7 })
        {
            ws.DegreeOfParallelism = degree;
            long chunks = AssertWorkersRan(() =>
            {
                float[] o = m.Output(width, height);
                m.Run(input, width, height, o, ws);
                FloatAssert.SameBits(expected, o, $"{fixture} {width}×{height} on {degree} threads vs 1");
            }, $"{fixture} on {degree} threads");
            _out.WriteLine($"{fixture} {width}×{height}, {degree} threads: {chunks} chunks on workers");
        }
    }

    /// <summary>
    /// After warm-up, a call with a workspace allocates 0 bytes in the whole process, on 1 and 2 threads,
    /// with the user's project built in Release or in Debug (where the compiler does not turn
    /// <c>new T[] { … }</c> spans into static data, so every constant must come from static storage).
    /// </summary>
    [Theory]
    [InlineData("dncnn_c3_nc16_nb6", 1, false)]
    [InlineData("dncnn_c3_nc16_nb6", 2, false)]
    [InlineData("bbcum_x3", 2, false)]
    [InlineData("dncnn_c3_nc16_nb6", 1, true)]
    [InlineData("bbcum_x3", 2, true)]
    [InlineData("unit_h", 1, true)]
    public void WorkspaceRunsAllocateNothingOnAnyThread(string fixture, int degree, bool debugBuild)
    {
        var m = Compiled.Load(fixture, debugBuild);
        int w = 48, h = 40;
        BbcuWorkspace ws = m.Workspace(w, h);
        ws.DegreeOfParallelism = degree;
        float[] input = m.Input(w, h, 5), output = m.Output(w, h);
        // Warm up past tiered compilation's call-count threshold (30) and give its background
        // recompilation time to finish, so that the runtime's own tier-up work is not in a window.
        for (int i = 0; i < 40; i++) m.Run(input, w, h, output, ws);
        System.Threading.Thread.Sleep(300);
        // Three windows of five calls, each counted exactly on the caller's and the workers' threads: every
        // one must be 0 (an allocation now and then, say in a blocking wait, is an allocation per call).
        long[] windows = new long[3];
        long chunks = 0;
        for (int attempt = 0; attempt < windows.Length; attempt++)
        {
            long chunksBefore = BbcuParallel.WorkerChunks;
            long before = Allocated();
            for (int i = 0; i < 5; i++) m.Run(input, w, h, output, ws);
            windows[attempt] = Allocated() - before;
            chunks += BbcuParallel.WorkerChunks - chunksBefore;
        }
        _out.WriteLine($"{fixture} ({(debugBuild ? "Debug" : "Release")}) {w}×{h}, {degree} thread(s): allocated per 5 calls {string.Join(", ", windows)} B; {chunks} chunks on workers");
        Assert.All(windows, a => Assert.Equal(0L, a));
        if (degree > 1) Assert.True(chunks > 0, $"{fixture}: the {degree}-thread runs never used a worker (ProcessorCount = {Environment.ProcessorCount})");
        else Assert.Equal(0, chunks);
    }

    /// <summary>Bytes allocated so far on this thread and on the pool's worker threads (exact, thread-local counters).</summary>
    private static long Allocated() => GC.GetAllocatedBytesForCurrentThread() + BbcuParallel.WorkerAllocatedBytes;

    /// <summary>The plain <c>Run</c> allocates its workspace (the buffers plus object and array headers) and nothing else.</summary>
    [Fact]
    public void RunAllocatesOneWorkspaceAndNothingElse()
    {
        var m = Compiled.Load("dncnn_c3_nc16_nb6");
        RunDelegate run = GeneratorHarness.GetRun(m.Type);
        int w = 17, h = 11;
        float[] input = m.Input(w, h, 2), output = m.Output(w, h);
        for (int i = 0; i < 40; i++) run(input, w, h, output);
        System.Threading.Thread.Sleep(300);
        long workspace = (long)m.Type.GetMethod("WorkspaceBytes")!.Invoke(null, new object[] { w, h })!;
        long[] windows = new long[3];
        for (int attempt = 0; attempt < windows.Length; attempt++)
        {
            long before = Allocated();
            run(input, w, h, output);
            windows[attempt] = Allocated() - before;
        }
        _out.WriteLine($"workspace {workspace} B; allocated per call {string.Join(", ", windows)} B");
        Assert.All(windows, a => Assert.True(a >= workspace && a <= workspace + 256, $"allocated {a} B for a {workspace}-byte workspace"));
    }

    /// <summary>
    /// The plain <c>Run</c> on an image whose workspace would exceed <see cref="BbcuWorkspace.DefaultMaxBytes"/>
    /// allocates at most that (plus headers) and runs in tiles, bit-identical to one pass with a whole-image workspace.
    /// </summary>
    [Fact]
    public void RunWithoutAWorkspaceStaysWithinTheDefaultLimit()
    {
        var m = Compiled.Load("dncnn_c3_nc64_nb20");
        RunDelegate run = GeneratorHarness.GetRun(m.Type);
        long Bytes(int w, int h) => (long)m.Type.GetMethod("WorkspaceBytes")!.Invoke(null, new object[] { w, h })!;
        int w = 160, h = 120;
        while (Bytes(w, h) <= BbcuWorkspace.DefaultMaxBytes * 13 / 10) { w += 32; h += 24; }
        float[] input = m.Input(w, h, 3), tiled = m.Output(w, h), whole = m.Output(w, h);
        m.Run(input, w, h, whole, m.Workspace(w, h));
        long before = Allocated();
        run(input, w, h, tiled);
        long allocated = Allocated() - before;
        _out.WriteLine($"{w}×{h}: a whole-image workspace is {Bytes(w, h) / 1048576.0:F1} MiB; the plain Run allocated {allocated / 1048576.0:F2} MiB");
        Assert.True(allocated <= BbcuWorkspace.DefaultMaxBytes + 256, $"the plain Run allocated {allocated} B, above the {BbcuWorkspace.DefaultMaxBytes}-byte limit");
        Assert.True(allocated >= BbcuWorkspace.DefaultMaxBytes / 2, $"the plain Run allocated only {allocated} B: the tiles are needlessly small");
        FloatAssert.SameBits(whole, tiled, $"plain Run of {w}×{h} within {BbcuWorkspace.DefaultMaxBytes} B vs one pass");
    }
}
