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
