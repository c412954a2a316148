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
    [InlineData("bbcum_x3", 40, 23)]
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
            Assert.True(ws.Width * (long)ws.Height < width * (long)height,
                $"{fixture}: a {ws.Width}×{ws.Height} workspace holds the {width}×{height} image, so this case would not tile; use a larger image");
            var tiled = new float[whole.Length];
            var reports = new System.Collections.Generic.List<(int Done, int Total)>();
            int layersRun = 0;
            ws.TileCompleted = (done, total) => reports.Add((done, total));
            ws.LayerCompleted = (_, _) => layersRun++;
            run(input, width, height, tiled, ws);
            // Progress: one report per tile, counting up to the number of tiles the core size implies,
            // and every layer once per tile.
            var (cw, ch) = BbcuTiling.Core(fixture, ws.Width, ws.Height, halo, width, height);
            int total = ((width + cw - 1) / cw) * ((height + ch - 1) / ch);
            Assert.True(total > 1, $"{fixture} core {core}: {total} tile");
            Assert.Equal(Enumerable.Range(1, total).Select(i => (i, total)), reports);
            Assert.Equal(total * GeneratorHarness.Constant<int>(model, "LayerCount"), layersRun);
            _out.WriteLine($"{fixture} {width}×{height}, halo {halo}, core {core}: {total} tiles of {cw}×{ch}");
            FloatAssert.SameBits(whole, tiled, $"{fixture} {width}×{height} in {total} tiles (core {core}) vs one pass");
        }
    }


    /// <summary>
    /// The workspace of the plain <c>Run</c> under a byte limit (here far below the 64 MiB default, so small
    /// images tile): within the limit unless the smallest tile the halo allows needs more, and the run
    /// bit-identical to one pass, also for images narrower or shorter than a tile.
    /// </summary>
    [Theory]
    [InlineData("dncnn_c3_nc16_nb6", 60, 45, 200_000)]
    [InlineData("dncnn_c3_nc16_nb6", 5, 90, 40_000)]
    [InlineData("bbcul_x4", 31, 7, 300_000)]
    [InlineData("bbcul_x4", 31, 7, 1)]
    public void WorkspaceWithinALimitTilesTheSameBits(string fixture, int width, int height, long maxBytes)
    {
        Type model = GeneratorHarness.RunFolder(Repo.Path("tests", "fixtures", fixture)).LoadModel();
        var run = GeneratorHarness.GetRunWorkspace(model);
        int cin = GeneratorHarness.Constant<int>(model, "InputChannels"), cout = GeneratorHarness.Constant<int>(model, "OutputChannels");
        int scale = GeneratorHarness.Constant<int>(model, "Scale"), halo = GeneratorHarness.Constant<int>(model, "Halo");
        Type modelStruct = model.GetNestedType("BbcuModel", System.Reflection.BindingFlags.NonPublic)!;
        var within = typeof(BbcuRunner).GetMethod("CreateWorkspaceWithin", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(modelStruct);
        var ws = (BbcuWorkspace)within.Invoke(null, new object[] { width, height, maxBytes })!;
        long least = (long)model.GetMethod("WorkspaceBytes")!.Invoke(null, new object[] { 2 * halo + 1, 2 * halo + 1 })!;
        _out.WriteLine($"{fixture} {width}×{height} within {maxBytes} B: workspace {ws.Width}×{ws.Height}, {ws.Bytes} B (smallest tile {least} B)");
        Assert.True(ws.Bytes <= Math.Max(maxBytes, least), $"{ws.Bytes} B exceeds the {maxBytes}-byte limit");
        Assert.True(ws.Width >= 2 * halo + 1 && ws.Height >= 2 * halo + 1, "a tile smaller than the halo allows");
        var rng = new Random(width * 7 + height);
        var input = Enumerable.Range(0, cin * width * height).Select(_ => (float)(rng.NextDouble() * 1.5 - 0.25)).ToArray();
        var whole = new float[cout * width * height * scale * scale];
        run(input, width, height, whole, (BbcuWorkspace)model.GetMethod("CreateWorkspace")!.Invoke(null, new object[] { width, height })!);
        var tiled = new float[whole.Length];
        int tiles = 0;
        ws.TileCompleted = (_, total) => tiles = total;
        run(input, width, height, tiled, ws);
        Assert.True(tiles > 1, $"{fixture} {width}×{height} within {maxBytes} B ran in one pass; use a smaller limit");
        FloatAssert.SameBits(whole, tiled, $"{fixture} {width}×{height} within {maxBytes} B");
    }
}
