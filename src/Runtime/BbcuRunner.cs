using System;
using System.ComponentModel;
using System.Threading;

namespace Bbcu;

/// <summary>
/// A compiled model as the runtime sees it: its sizes and its layer sequence. The generator implements it
/// on a private struct inside each model class; <see cref="BbcuRunner"/> does everything else.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IBbcuModel
{
    /// <summary>The model class's name, for messages.</summary>
    static abstract string ClassName { get; }
    /// <summary>Channels of the input image.</summary>
    static abstract int InputChannels { get; }
    /// <summary>Channels of the output image.</summary>
    static abstract int OutputChannels { get; }
    /// <summary>Output size factor.</summary>
    static abstract int Scale { get; }
    /// <summary>Workspace floats per input pixel: the layers' buffers plus a tile's input and output.</summary>
    static abstract int FloatsPerPixel { get; }
    /// <summary>Workspace packed 64-bit words per input pixel (the binary layers' signs).</summary>
    static abstract int WordsPerPixel { get; }
    /// <summary>Workspace bytes of pixel kinds per input pixel (where a sign input is exactly zero).</summary>
    static abstract int KindsPerPixel { get; }
    /// <summary>Floats per input pixel of the layers' buffers alone (a tile's input and output follow them).</summary>
    static abstract int LayerFloatsPerPixel { get; }
    /// <summary>The largest buffer of one layer, in floats per input pixel (the limit on the image size).</summary>
    static abstract int MaxFloats { get; }
    /// <summary>Input pixels a tile needs on every side: the model's receptive-field reach.</summary>
    static abstract int Halo { get; }

    /// <summary>One pass of every layer over a whole image, or over a tile whose top-left input pixel is (originX, originY).</summary>
    static abstract void RunCore(ReadOnlySpan<float> input, int width, int height, Span<float> output, BbcuWorkspace workspace,
        int originX, int originY, CancellationToken cancellationToken);
}

/// <summary>
/// Runs compiled models: argument and workspace checks, the choice between one pass and tiles, the tiling
/// loop, cancellation and progress. Generated code calls it with its model struct (generated code only).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class BbcuRunner
{
    /// <summary>Bytes of workspace a <paramref name="width"/> × <paramref name="height"/> image needs.</summary>
    public static long WorkspaceBytes<TModel>(int width, int height) where TModel : IBbcuModel =>
        BbcuGuard.CheckWorkspace(TModel.ClassName, width, height) * (TModel.FloatsPerPixel * sizeof(float) + TModel.WordsPerPixel * sizeof(ulong) + TModel.KindsPerPixel);

    /// <summary>A reusable workspace for images of up to <paramref name="width"/> × <paramref name="height"/> pixels.</summary>
    public static BbcuWorkspace CreateWorkspace<TModel>(int width, int height) where TModel : IBbcuModel
    {
        long pixels = BbcuGuard.CheckWorkspace(TModel.ClassName, width, height);
        return new BbcuWorkspace(width, height, pixels * TModel.FloatsPerPixel, pixels * TModel.WordsPerPixel, pixels * TModel.KindsPerPixel);
    }

    /// <summary>
    /// Runs the model with a workspace of its own, allocated for this call and at most
    /// <see cref="BbcuWorkspace.DefaultMaxBytes"/>: an image that needs more runs in tiles (the same bits).
    /// </summary>
    public static void Run<TModel>(ReadOnlySpan<float> input, int width, int height, Span<float> output) where TModel : IBbcuModel
    {
        CheckRun<TModel>(input, width, height, output);
        Run<TModel>(input, width, height, output, CreateWorkspaceWithin<TModel>(width, height, BbcuWorkspace.DefaultMaxBytes), CancellationToken.None);
    }

    /// <summary>
    /// A workspace for a <paramref name="width"/> × <paramref name="height"/> image of at most
    /// <paramref name="maxBytes"/>: the whole image if it fits, else the largest near-square tile that does
    /// (never smaller than the halo allows, 2·halo + 1 on a side, even if that alone exceeds the limit).
    /// </summary>
    internal static BbcuWorkspace CreateWorkspaceWithin<TModel>(int width, int height, long maxBytes) where TModel : IBbcuModel
    {
        long perPixel = WorkspaceBytes<TModel>(1, 1);
        if (WorkspaceBytes<TModel>(width, height) <= maxBytes)
            return CreateWorkspace<TModel>(width, height);
        long budget = Math.Max(1, maxBytes / Math.Max(1, perPixel));
        int least = 2 * TModel.Halo + 1;
        int tileWidth = (int)Math.Clamp((long)Math.Sqrt(budget), least, Math.Max(width, least));
        int tileHeight = (int)Math.Clamp(budget / tileWidth, least, Math.Max(height, least));
        return CreateWorkspace<TModel>(tileWidth, tileHeight);
    }

    /// <summary>
    /// Runs the model without allocating. An image larger than the workspace runs in tiles with a halo of
    /// the receptive field, so every output pixel sees exactly the inputs it sees in one pass (the same bits).
    /// </summary>
    public static void Run<TModel>(ReadOnlySpan<float> input, int width, int height, Span<float> output, BbcuWorkspace workspace,
        CancellationToken cancellationToken) where TModel : IBbcuModel
    {
        ArgumentNullException.ThrowIfNull(workspace);
        int plane = CheckRun<TModel>(input, width, height, output);
        workspace.Enter();
        try
        {
            if (workspace.Fits((long)plane * TModel.LayerFloatsPerPixel, (long)plane * TModel.WordsPerPixel, (long)plane * TModel.KindsPerPixel))
            {
                TModel.RunCore(input, width, height, output, workspace, 0, 0, cancellationToken);
                return;
            }
            RunTiled<TModel>(input, width, height, output, workspace, cancellationToken);
        }
        finally
        {
            workspace.Exit();
        }
    }

    private static void RunTiled<TModel>(ReadOnlySpan<float> input, int width, int height, Span<float> output, BbcuWorkspace workspace,
        CancellationToken cancellationToken) where TModel : IBbcuModel
    {
        int halo = TModel.Halo, scale = TModel.Scale, cin = TModel.InputChannels, cout = TModel.OutputChannels;
        var (coreWidth, coreHeight) = BbcuTiling.Core(TModel.ClassName, workspace.Width, workspace.Height, halo, width, height);
        int tiles = ((width + coreWidth - 1) / coreWidth) * ((height + coreHeight - 1) / coreHeight), tilesDone = 0;
        for (int ty = 0; ty < height; ty += coreHeight)
        {
            for (int tx = 0; tx < width; tx += coreWidth)
            {
                int x0 = Math.Max(0, tx - halo), y0 = Math.Max(0, ty - halo);
                int x1 = Math.Min(width, tx + coreWidth + halo), y1 = Math.Min(height, ty + coreHeight + halo);
                int tw = x1 - x0, th = y1 - y0, tilePlane = tw * th;
                // A tile's input and output follow the layers' buffers in the workspace.
                Span<float> tileIn = workspace.Floats.Slice(TModel.LayerFloatsPerPixel * tilePlane, cin * tilePlane);
                Span<float> tileOut = workspace.Floats.Slice((TModel.LayerFloatsPerPixel + cin) * tilePlane, cout * scale * scale * tilePlane);
                BbcuTiling.CopyIn(input, width, height, cin, x0, y0, tw, th, tileIn);
                TModel.RunCore(tileIn, tw, th, tileOut, workspace, x0, y0, cancellationToken);
                int cw = Math.Min(coreWidth, width - tx), ch = Math.Min(coreHeight, height - ty);
                BbcuTiling.CopyOut(tileOut, tw * scale, th * scale, cout, (tx - x0) * scale, (ty - y0) * scale, cw * scale, ch * scale,
                    output, width * scale, height * scale, tx * scale, ty * scale);
                workspace.ReportTile(++tilesDone, tiles);
            }
        }
    }

    private static int CheckRun<TModel>(ReadOnlySpan<float> input, int width, int height, Span<float> output) where TModel : IBbcuModel
    {
        int plane = BbcuGuard.CheckRun(TModel.ClassName, input.Length, output.Length, width, height, TModel.InputChannels, TModel.OutputChannels, TModel.Scale, TModel.MaxFloats);
        if (input.Overlaps(output))
            throw new ArgumentException(
                $"{TModel.ClassName}: input and output overlap; a model may read its input after it has begun to write its output (a tiled run does), so give the output a buffer of its own.",
                nameof(output));
        return plane;
    }
}
