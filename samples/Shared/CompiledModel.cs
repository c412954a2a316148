using System;

namespace Bbcu.Samples;

/// <summary>The static members of a <c>[BbcuModel]</c> class, as a value the shared sample code can take.</summary>
public delegate void ModelRun(ReadOnlySpan<float> input, int width, int height, Span<float> output, BbcuWorkspace workspace, System.Threading.CancellationToken cancellationToken);

/// <summary>A compiled model's shape and entry points (fill it from the generated constants and methods).</summary>
/// <param name="Name">The model's name (<c>ModelName</c>).</param>
/// <param name="InputChannels">1 (grey) or 3 (RGB).</param>
/// <param name="OutputChannels">1 (grey) or 3 (RGB).</param>
/// <param name="Scale">Output size factor (1, or the super-resolution factor).</param>
/// <param name="LayerCount">Compiled layers.</param>
/// <param name="CreateWorkspace">The generated <c>CreateWorkspace(width, height)</c>.</param>
/// <param name="Run">The generated <c>Run(input, width, height, output, workspace, cancellationToken)</c>.</param>
public sealed record CompiledModel(string Name, int InputChannels, int OutputChannels, int Scale, int LayerCount,
    Func<int, int, BbcuWorkspace> CreateWorkspace, ModelRun Run);

/// <summary>What a sample restores.</summary>
public enum RestorationTask
{
    /// <summary>Gaussian noise (<c>--add-noise SIGMA</c>).</summary>
    Denoise,

    /// <summary>JPEG blocking (<c>--jpeg-quality Q</c>).</summary>
    Deblock,

    /// <summary>Bicubic downscaling (<c>--downscale S</c>).</summary>
    SuperResolve,
}
