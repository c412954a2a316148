using Bbcu;

namespace Bbcu.Samples.Denoise;

/// <summary>
/// The DnCNN-BBCU colour denoiser (σ = 25), compiled at build time from samples/models/denoise_dncnn_bbcu_s25.json + .safetensors
/// (see docs/models.md).
/// </summary>
[BbcuModel("denoise_dncnn_bbcu_s25.json")]
public static partial class Denoiser { }

/// <summary>Command-line sample; <c>Denoise --help</c> lists the options.</summary>
public static class Program
{
    /// <summary>The compiled model as the shared sample code takes it.</summary>
    public static readonly CompiledModel Model = new(Denoiser.ModelName, Denoiser.InputChannels, Denoiser.OutputChannels, Denoiser.Scale,
        Denoiser.LayerCount, Denoiser.CreateWorkspace, Denoiser.Run);

    /// <summary>Entry point: 0 on success, 1 on a failure, 2 on a usage error.</summary>
    public static int Main(string[] args) => RestoreApp.Main(Model, RestorationTask.Denoise, args);
}
