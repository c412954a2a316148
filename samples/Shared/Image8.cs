using System;
using System.IO;
using System.Threading;
using Bbcu;
using StbImageSharp;
using StbImageWriteSharp;

namespace Bbcu.Samples;

/// <summary>An 8-bit image, interleaved (HWC), with 1 (grey) or 3 (RGB) channels.</summary>
public sealed class Image8
{
    /// <summary>Wraps <paramref name="data"/> (height·width·channels bytes, interleaved).</summary>
    public Image8(byte[] data, int width, int height, int channels)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"Image size must be positive; got {width}×{height}.");
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Images have 1 (grey) or 3 (RGB) channels.");
        if (data.Length != (long)width * height * channels)
            throw new ArgumentException($"A {width}×{height} image with {channels} channels has {(long)width * height * channels} bytes; got {data.Length}.", nameof(data));
        Data = data;
        Width = width;
        Height = height;
        Channels = channels;
    }

    /// <summary>Pixel bytes, row by row, channels interleaved.</summary>
    public byte[] Data { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>1 (grey) or 3 (RGB).</summary>
    public int Channels { get; }

    /// <summary>Reads a PNG, JPEG, BMP, TGA, … file as RGB (StbImageSharp).</summary>
    public static Image8 LoadRgb(string path)
    {
        using FileStream fs = File.OpenRead(path);
        ImageResult image = ImageResult.FromStream(fs, StbImageSharp.ColorComponents.RedGreenBlue);
        return new Image8(image.Data, image.Width, image.Height, 3);
    }

    /// <summary>Decodes an in-memory image file with the given number of channels.</summary>
    public static Image8 Decode(byte[] file, int channels)
    {
        ImageResult image = ImageResult.FromMemory(file, channels == 1 ? StbImageSharp.ColorComponents.Grey : StbImageSharp.ColorComponents.RedGreenBlue);
        return new Image8(image.Data, image.Width, image.Height, channels);
    }

    /// <summary>
    /// Writes the image as PNG, creating the folder if needed: to a temporary file beside it, renamed to
    /// <paramref name="path"/> once complete, so that a failed or cancelled write leaves no partial file.
    /// </summary>
    public void SavePng(string path, CancellationToken cancellationToken = default)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (dir is not null) Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir ?? ".", $".{Path.GetFileName(full)}.{Environment.ProcessId}.partial");
        try
        {
            using (FileStream fs = File.Create(temp))
                new ImageWriter().WritePng(Data, Width, Height, Channels == 1 ? StbImageWriteSharp.ColorComponents.Grey : StbImageWriteSharp.ColorComponents.RedGreenBlue, fs);
            cancellationToken.ThrowIfCancellationRequested();
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Whether every pixel has R = G = B (a grey photo stored as RGB).</summary>
    public bool IsNeutral()
    {
        if (Channels == 1) return true;
        for (int p = 0; p < Data.Length; p += 3)
            if (Data[p] != Data[p + 1] || Data[p] != Data[p + 2]) return false;
        return true;
    }

    /// <summary>Encodes the image as JPEG at <paramref name="quality"/> (1–100, stb_image_write) and decodes it again.</summary>
    public Image8 JpegRoundTrip(int quality)
    {
        if (quality is < 1 or > 100) throw new ArgumentOutOfRangeException(nameof(quality), quality, "JPEG quality is 1..100.");
        using var ms = new MemoryStream();
        new ImageWriter().WriteJpg(Data, Width, Height, Channels == 1 ? StbImageWriteSharp.ColorComponents.Grey : StbImageWriteSharp.ColorComponents.RedGreenBlue, ms, quality);
        return Decode(ms.ToArray(), Channels);
    }

    /// <summary>
    /// BT.601 luma, ⌊0.299 R + 0.587 G + 0.114 B + ½⌋ in double precision (as tools/train_bbcu.py's
    /// <c>to_grey_u8</c>); a grey image is returned as it is.
    /// </summary>
    public Image8 ToGrey()
    {
        if (Channels == 1) return this;
        var grey = new byte[Width * Height];
        for (int p = 0; p < grey.Length; p++)
        {
            double y = Data[3 * p] * 0.299 + Data[3 * p + 1] * 0.587 + Data[3 * p + 2] * 0.114;
            grey[p] = (byte)Math.Clamp(Math.Floor(y + 0.5), 0, 255);
        }
        return new Image8(grey, Width, Height, 1);
    }

    /// <summary>The <paramref name="width"/> × <paramref name="height"/> pixels whose top-left corner is (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public Image8 Crop(int x, int y, int width, int height)
    {
        if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > Width || y + height > Height)
            throw new ArgumentOutOfRangeException(nameof(width), $"Crop {width}×{height} at ({x}, {y}) is outside the {Width}×{Height} image.");
        var data = new byte[width * height * Channels];
        for (int r = 0; r < height; r++)
            Array.Copy(Data, ((y + r) * Width + x) * Channels, data, r * width * Channels, width * Channels);
        return new Image8(data, width, height, Channels);
    }

    /// <summary>The runtime's pixel format of this image (grey or RGB, interleaved).</summary>
    public BbcuPixelFormat Format => Channels == 1 ? BbcuPixelFormat.Gray8 : BbcuPixelFormat.Rgb24;

    /// <summary>Planar CHW floats in [0, 1] (value / 255), what a compiled model takes (<see cref="BbcuPixels.ToPlanar"/>).</summary>
    public float[] ToPlanar()
    {
        var chw = new float[Channels * Width * Height];
        BbcuPixels.ToPlanar(Data, Format, Width, Height, chw);
        return chw;
    }

    /// <summary>
    /// Planar CHW floats → 8-bit: clamp to [0, 1], round(x·255) half to even, as numpy's round in the
    /// PyTorch evaluations these samples are checked against (<see cref="BbcuPixels.FromPlanar"/>).
    /// </summary>
    public static Image8 FromPlanar(ReadOnlySpan<float> chw, int width, int height, int channels)
    {
        int plane = width * height;
        if (chw.Length != channels * plane) throw new ArgumentException($"Expected {channels}×{height}×{width} = {channels * plane} floats; got {chw.Length}.", nameof(chw));
        var data = new byte[channels * plane];
        BbcuPixels.FromPlanar(chw, width, height, data, channels == 1 ? BbcuPixelFormat.Gray8 : BbcuPixelFormat.Rgb24, rounding: MidpointRounding.ToEven);
        return new Image8(data, width, height, channels);
    }
}
