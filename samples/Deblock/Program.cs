using Bbcu;

namespace Bbcu.Samples.Deblock;

/// <summary>
/// The DnCNN3-BBCU grey JPEG deblocker (quality 20), compiled at build time from samples/models/deblock_dncnn3_bbcu_q20.json + .safetensors
/// (see docs/models.md).
/// </summary>
[BbcuModel("deblock_dncnn3_bbcu_q20.json")]
public static partial class Deblocker { }

/// <summary>Command-line sample; <c>Deblock --help</c> lists the options.</summary>
public static class Program
{
    /// <summary>The compiled model as the shared sample code takes it.</summary>
    public static readonly CompiledModel Model = new(Deblocker.ModelName, Deblocker.InputChannels, Deblocker.OutputChannels, Deblocker.Scale,
        Deblocker.LayerCount, Deblocker.CreateWorkspace, Deblocker.Run);

    /// <summary>Entry point: 0 on success, 1 on a failure, 2 on a usage error.</summary>
    public static int Main(string[] args) => RestoreApp.Main(Model, RestorationTask.Deblock, args);
}
