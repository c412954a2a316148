using System;
using System.ComponentModel;
using System.Threading;

namespace Bbcu;

/// <summary>
/// Scratch memory for one call of a compiled model at a time. Create it once with the model's
/// <c>CreateWorkspace(width, height)</c> and pass it to <c>Run</c> to run without allocating.
/// </summary>
/// <remarks>
/// A workspace created for <c>W×H</c> runs every image with <c>width·height ≤ W·H</c> in one pass
/// (the buffers are sized per pixel), and any larger image in tiles of at most <c>W×H</c> pixels
/// (each with a halo of the model's receptive field, so the result is bit-identical). It is not
/// thread-safe: using one workspace from two threads at once throws
/// <see cref="InvalidOperationException"/>; give each thread its own.
/// </remarks>
public sealed class BbcuWorkspace
{
    /// <summary>
    /// The most a model's <c>Run(input, width, height, output)</c> (the overload without a workspace)
    /// allocates for its workspace: 64 MiB. An image whose workspace would need more (the model's
    /// <c>WorkspaceBytes(width, height)</c>) runs in tiles of a workspace within this limit, bit-identical
    /// to one pass; only a model whose smallest tile, 2·<c>Halo</c> + 1 pixels on a side, needs more than
    /// this on its own takes that tile's size instead. Pass a workspace of your own to choose another size.
    /// </summary>
    public const long DefaultMaxBytes = 64L << 20;

    private readonly float[] _floats;
    private readonly ulong[] _bits;
    private readonly byte[] _kinds;
    private int _inUse;

    /// <summary>Creates a workspace; generated code calls this with the sizes the model needs.</summary>
    /// <param name="width">Largest image width this workspace was sized for.</param>
    /// <param name="height">Largest image height this workspace was sized for.</param>
    /// <param name="floatCount">Float elements for intermediate feature maps.</param>
    /// <param name="wordCount">64-bit words for packed binary activations.</param>
    /// <param name="kindCount">Bytes of per-pixel flags for the binary layers.</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public BbcuWorkspace(int width, int height, long floatCount, long wordCount, long kindCount)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"Workspace dimensions must be positive; got {width}×{height}.");
        if (floatCount < 0 || floatCount > Array.MaxLength || wordCount < 0 || wordCount > Array.MaxLength || kindCount < 0 || kindCount > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(floatCount), $"A {width}×{height} image needs more workspace than one .NET array can hold; process it in tiles.");
        Width = width;
        Height = height;
        _floats = floatCount == 0 ? Array.Empty<float>() : new float[floatCount];
        _bits = wordCount == 0 ? Array.Empty<ulong>() : new ulong[wordCount];
        _kinds = kindCount == 0 ? Array.Empty<byte>() : new byte[kindCount];
        BbcuParallel.EnsureStarted();
    }

    /// <summary>
    /// How many threads a call with this workspace may use (default: the processor count). Results are
    /// bit-identical for every value; 1 runs everything on the calling thread.
    /// </summary>
    public int DegreeOfParallelism
    {
        get => _degree;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, "DegreeOfParallelism must be at least 1.");
            _degree = value;
            if (value > 1) BbcuParallel.EnsureStarted();
        }
    }

    private int _degree = Environment.ProcessorCount;

    /// <summary>
    /// Called on the calling thread after each tile of a tiled run (an image larger than the workspace)
    /// with the tiles finished and the tiles in all; <see langword="null"/> (the default) for none.
    /// Not called for images that run in one pass.
    /// </summary>
    public Action<int, int>? TileCompleted { get; set; }

    /// <summary>Reports a finished tile to <see cref="TileCompleted"/> (generated code only).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void ReportTile(int done, int total) => TileCompleted?.Invoke(done, total);

    /// <summary>
    /// Called on the calling thread after each layer of a pass with the layers finished in that pass and
    /// the model's layer count; <see langword="null"/> (the default) for none. An image that fits the
    /// workspace is one pass; a larger one runs a pass per tile (each tile's last layer is followed by
    /// <see cref="TileCompleted"/>). The cancellation token is checked before every layer, so cancelling
    /// from this callback stops the run before the next layer starts.
    /// </summary>
    public Action<int, int>? LayerCompleted { get; set; }

    /// <summary>Reports a finished layer to <see cref="LayerCompleted"/> (generated code only).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void ReportLayer(int done, int total) => LayerCompleted?.Invoke(done, total);

    /// <summary>Width the workspace was created for.</summary>
    public int Width { get; }

    /// <summary>Height the workspace was created for.</summary>
    public int Height { get; }

    /// <summary>Bytes held by the workspace's buffers.</summary>
    public long Bytes => (long)_floats.Length * sizeof(float) + (long)_bits.Length * sizeof(ulong) + _kinds.Length;

    /// <summary>Feature-map buffer (generated code only).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public Span<float> Floats => _floats;

    /// <summary>Packed binary activations (generated code only).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public Span<ulong> Bits => _bits;

    /// <summary>Per-pixel flags of the binary layers (generated code only).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public Span<byte> Kinds => _kinds;

    /// <summary>Whether the buffers can hold a call needing these sizes (generated code only).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool Fits(long floatCount, long wordCount, long kindCount) =>
        floatCount <= _floats.Length && wordCount <= _bits.Length && kindCount <= _kinds.Length;

    /// <summary>Marks the workspace in use; throws if another call holds it (generated code only).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void Enter()
    {
        if (Interlocked.Exchange(ref _inUse, 1) != 0)
            throw new InvalidOperationException("This BbcuWorkspace is already in use by another call; give each thread its own workspace.");
    }

    /// <summary>Marks the workspace free again (generated code only).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void Exit() => Volatile.Write(ref _inUse, 0);
}
