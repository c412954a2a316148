using System;
using System.Linq;
using Bbcu.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// Images larger than the workspace run in tiles with a halo of the receptive field; the result must be
/// bit-identical to one pass (denoising, super-resolution with bilinear ×3 and ×4, BBCU-U ×3); and the
/// thread count never changes a bit.
/// </summary>
public sealed class TilingTests
{
    private readonly ITestOutputHelper _out;

    public TilingTests(ITestOutputHelper output) => _out = output;

    [Theory]
    [InlineData("dncnn_c3_nc16_nb6", 37, 23)]
    [InlineData("bbcum_x3", 29, 17)]
    [InlineData("bbcul_x4", 21, 26)]
    [InlineData("unit_u3", 25, 19)]
    [InlineData("dncnn_g1_nc8_nb3_1x1", 40, 9)]
    public void TiledRunIsBitIdenticalToOnePass(string fixture, int width, int height)
    {
        Type model = GeneratorHarness.RunFolder(Repo.Path("tests", "fixtures", fixture)).LoadModel();
        var run = GeneratorHarness.GetRunWorkspace(model);
        int cin = GeneratorHarness.Constant<int>(model, "InputChannels"), cout = GeneratorHarness.Constant<int>(model, "OutputChannels");
        int scale = GeneratorHarness.Constant<int>(model, "Scale"), halo = GeneratorHarness.Constant<int>(model, "Halo");
        var create = model.GetMethod("CreateWorkspace")!;
        var rng = new Random(width * 31 + height);
        var input = Enumerable.Range(0, cin * width * height).Select(_ => (float)(rng.NextDouble() * 1.5 - 0.25)).ToArray();

        var whole = new float[cout * width * height * scale * scale];
        run(input, width, height, whole, (BbcuWorkspace)create.Invoke(null, new object[] { width, height })!);

        // Workspaces just big enough for a few different core sizes (1×1 cores included).
        foreach (int core in new[] { 1, 3, 8 })
        {
            var ws = (BbcuWorkspace)create.Invoke(null, new object[] { 2 * halo + core, 2 * halo + core + 1 })!;
            Assert.True(ws.Width * (long)ws.Height < width * (long)height || 2 * halo + core < width, "the workspace must force tiling");
            var tiled = new float[whole.Length];
            var reports = new System.Collections.Generic.List<(int Done, int Total)>();
            ws.TileCompleted = (done, total) => reports.Add((done, total));
            run(input, width, height, tiled, ws);
            // Progress: one report per tile, counting up to the number of tiles the core size implies.
            // (A workspace holding as many pixels as the image runs it in one pass, with no reports.)
            if (width * height <= ws.Width * ws.Height) Assert.Empty(reports);
            else
            {
                var (cw, ch) = BbcuTiling.Core(fixture, ws.Width, ws.Height, halo, width, height);
                int total = ((width + cw - 1) / cw) * ((height + ch - 1) / ch);
                Assert.Equal(Enumerable.Range(1, total).Select(i => (i, total)), reports);
            }
            int differing = whole.Zip(tiled, (a, b) => BitConverter.SingleToInt32Bits(a) != BitConverter.SingleToInt32Bits(b) ? 1 : 0).Sum();
            _out.WriteLine($"{fixture} {width}×{height}, halo {halo}, core {core}: {differing} of {whole.Length} values differ");
            Assert.Equal(0, differing);
        }
    }

    /// <summary>
    /// Every layer kind splits its work over threads (rows, channels or element chunks); the bits must
    /// not depend on the thread count. Sizes are large enough that every kernel really splits (the
    /// element-wise ops hand out chunks of 16 384 values).
    /// </summary>
    [Theory]
    [InlineData("bbcum_x3", 61, 47)]
    [InlineData("bbcul_x2", 70, 40)]
    [InlineData("unit_h", 90, 64)]
    [InlineData("unit_v1", 90, 64)]
    [InlineData("unit_u2", 90, 64)]
    public void EveryThreadCountGivesTheSameBits(string fixture, int width, int height)
    {
        Type model = GeneratorHarness.RunFolder(Repo.Path("tests", "fixtures", fixture)).LoadModel();
        var run = GeneratorHarness.GetRunWorkspace(model);
        int cin = GeneratorHarness.Constant<int>(model, "InputChannels"), cout = GeneratorHarness.Constant<int>(model, "OutputChannels");
        int scale = GeneratorHarness.Constant<int>(model, "Scale");
        var ws = (BbcuWorkspace)model.GetMethod("CreateWorkspace")!.Invoke(null, new object[] { width, height })!;
        var rng = new Random(width + height);
        var input = Enumerable.Range(0, cin * width * height).Select(_ => (float)(rng.NextDouble() * 1.5 - 0.25)).ToArray();
        ws.DegreeOfParallelism = 1;
        var expected = new float[cout * width * height * scale * scale];
        run(input, width, height, expected, ws);
        foreach (int degree in new[] { 2, 3, 7 })
        {
            ws.DegreeOfParallelism = degree;
            var o = new float[expected.Length];
            run(input, width, height, o, ws);
            Assert.Equal(expected, o);
        }
    }
}
