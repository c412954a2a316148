using System;

namespace Bbcu.Samples;

/// <summary>Before/after picture strips: panels of the same size side by side with a white gap.</summary>
public static class Strip
{
    /// <summary>
    /// Puts the same <paramref name="region"/> of every panel side by side, 8 white pixels apart; with a
    /// <paramref name="zoom"/> region, a second row shows that region of every panel magnified (nearest
    /// neighbour, by the whole factor that makes it as wide as a panel, at most 8), and the top row marks it.
    /// </summary>
    public static Image8 Compose(ReadOnlySpan<Image8> panels, (int X, int Y, int Width, int Height)? region = null,
        (int X, int Y, int Width, int Height)? zoom = null)
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
        int factor = 1, zh = 0;
        if (zoom is { } z)
        {
            if (z.Width < 1 || z.Height < 1 || z.X < x || z.Y < y || z.X + z.Width > x + w || z.Y + z.Height > y + h)
                throw new ArgumentException($"The zoom region {z.X},{z.Y},{z.Width},{z.Height} must lie inside the strip's region {x},{y},{w},{h}.", nameof(zoom));
            factor = Math.Clamp(w / z.Width, 1, 8);
            zh = z.Height * factor;
        }
        int width = panels.Length * w + (panels.Length - 1) * Gap, height = h + (zoom is null ? 0 : Gap + zh);
        var data = new byte[width * height * channels];
        data.AsSpan().Fill(255);
        for (int i = 0; i < panels.Length; i++)
        {
            Image8 crop = panels[i].Crop(x, y, w, h);
            int left = i * (w + Gap);
            for (int r = 0; r < h; r++)
                Array.Copy(crop.Data, r * w * channels, data, (r * width + left) * channels, w * channels);
            if (zoom is not { } zr) continue;
            // The magnified region below the panel, and its outline on the panel.
            for (int r = 0; r < zh; r++)
                for (int c = 0; c < zr.Width * factor; c++)
                    for (int k = 0; k < channels; k++)
                        data[((h + Gap + r) * width + left + c) * channels + k] =
                            panels[i].Data[((zr.Y + r / factor) * first.Width + zr.X + c / factor) * channels + k];
            Outline(data, width, channels, left, w, h, left + zr.X - x, zr.Y - y, zr.Width, zr.Height);
        }
        return new Image8(data, width, height, channels);
    }

    /// <summary>
    /// A one-pixel frame just outside the w × h box at (x, y), clipped to its panel (columns
    /// <paramref name="panelLeft"/> … + <paramref name="panelWidth"/>, rows 0 … <paramref name="panelHeight"/>):
    /// red in colour, white-on-black alternating in grey.
    /// </summary>
    private static void Outline(byte[] data, int width, int channels, int panelLeft, int panelWidth, int panelHeight, int x, int y, int w, int h)
    {
        void Set(int px, int py, int i)
        {
            if (px < panelLeft || px >= panelLeft + panelWidth || py < 0 || py >= panelHeight) return;
            int o = (py * width + px) * channels;
            if (channels == 3) { data[o] = 230; data[o + 1] = 30; data[o + 2] = 30; }
            else data[o] = (byte)(i % 6 < 3 ? 255 : 0);
        }
        for (int i = -1; i <= w; i++) { Set(x + i, y - 1, i + 1); Set(x + i, y + h, i + 1); }
        for (int i = 0; i < h; i++) { Set(x - 1, y + i, i); Set(x + w, y + i, i); }
    }
}
