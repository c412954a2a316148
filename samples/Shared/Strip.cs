using System;

namespace Bbcu.Samples;

/// <summary>Before/after picture strips: panels of the same size side by side with a white gap.</summary>
public static class Strip
{
    /// <summary>Puts the same <paramref name="region"/> of every panel side by side, 8 white pixels apart.</summary>
    public static Image8 Compose(ReadOnlySpan<Image8> panels, (int X, int Y, int Width, int Height)? region = null)
    {
        if (panels.Length == 0) throw new ArgumentException("A strip needs at least one panel.", nameof(panels));
        const int Gap = 8;
        Image8 first = panels[0];
        var (x, y, w, h) = region ?? (0, 0, first.Width, first.Height);
        int channels = first.Channels;
        foreach (Image8 p in panels)
        {
            if (p.Width != first.Width || p.Height != first.Height || p.Channels != channels)
                throw new ArgumentException("Every panel of a strip must have the same size and channels.", nameof(panels));
        }
        int width = panels.Length * w + (panels.Length - 1) * Gap;
        var data = new byte[width * h * channels];
        data.AsSpan().Fill(255);
        for (int i = 0; i < panels.Length; i++)
        {
            Image8 crop = panels[i].Crop(x, y, w, h);
            for (int r = 0; r < h; r++)
                Array.Copy(crop.Data, r * w * channels, data, (r * width + i * (w + Gap)) * channels, w * channels);
        }
        return new Image8(data, width, h, channels);
    }
}
