using System;
using System.ComponentModel;

namespace Bbcu;

/// <summary>Argument checks shared by every generated model (generated code only).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class BbcuGuard
{
    /// <summary>
    /// Validates the dimensions and buffer lengths of a <c>Run</c> call and returns the number of
    /// input pixels. Throws <see cref="ArgumentException"/> naming the expected sizes.
    /// </summary>
    public static int CheckRun(string model, int inputLength, int outputLength, int width, int height,
        int inputChannels, int outputChannels, int scale, int maxFloatsPerPixel)
    {
        if (width <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), width, $"{model}: width must be positive; got {width}.");
        if (height <= 0)
            throw new ArgumentOutOfRangeException(nameof(height), height, $"{model}: height must be positive; got {height}.");
        long pixels = (long)width * height;
        long widest = pixels * Math.Max(maxFloatsPerPixel, outputChannels * scale * scale);
        if (widest > Array.MaxLength)
            throw new ArgumentException(
                $"{model}: a {width}×{height} image is too large for one call (its widest feature map has {widest} elements, more than a .NET array holds); process it in tiles.",
                nameof(width));
        long expectedIn = pixels * inputChannels;
        if (inputLength != expectedIn)
            throw new ArgumentException(
                $"{model}: input must hold InputChannels × height × width = {inputChannels} × {height} × {width} = {expectedIn} floats (planar CHW); it holds {inputLength}.",
                "input");
        long expectedOut = pixels * outputChannels * scale * scale;
        if (outputLength != expectedOut)
            throw new ArgumentException(
                $"{model}: output must hold OutputChannels × (Scale·height) × (Scale·width) = {outputChannels} × {scale * (long)height} × {scale * (long)width} = {expectedOut} floats; it holds {outputLength}.",
                "output");
        return (int)pixels;
    }

    /// <summary>
    /// Kernel entry check (allocation-free: a params span): every size positive (or, where <paramref name="allowZero"/>, non-negative). Kernels
    /// are public only for generated code, but they use pointers, so direct misuse must throw rather than
    /// read or write out of bounds; products are formed in 64 bits so that no size can wrap.
    /// </summary>
    internal static void Sizes(string kernel, bool allowZero, params ReadOnlySpan<(string Name, long Value)> sizes)
    {
        foreach (var (name, value) in sizes)
        {
            if (value < (allowZero ? 0 : 1))
                throw new ArgumentOutOfRangeException(name, value, $"{kernel}: {name} must be {(allowZero ? "non-negative" : "positive")}; got {value}.");
        }
    }

    /// <summary>Throws when a buffer holds fewer than <paramref name="needed"/> elements (64-bit count).</summary>
    internal static void Length(string kernel, string buffer, int length, long needed)
    {
        if (length < needed)
            throw new ArgumentException($"{kernel}: {buffer} needs {needed} elements; it has {length}.", buffer);
    }

    /// <summary>Validates workspace dimensions for <c>CreateWorkspace</c>.</summary>
    public static long CheckWorkspace(string model, int width, int height)
    {
        if (width <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), width, $"{model}: width must be positive; got {width}.");
        if (height <= 0)
            throw new ArgumentOutOfRangeException(nameof(height), height, $"{model}: height must be positive; got {height}.");
        return (long)width * height;
    }
}
