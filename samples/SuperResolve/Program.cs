using Bbcu;

namespace Bbcu.Samples.SuperResolve;

/// <summary>
/// The BBCU-M ×2 super-resolution network, compiled at build time from samples/models/sr_bbcum_x2.json +
/// .safetensors (see docs/models.md).
/// </summary>
[BbcuModel("sr_bbcum_x2.json")]
public static partial class Upscaler2 { }

/// <summary>The BBCU-M ×4 super-resolution network (samples/models/sr_bbcum_x4.*).</summary>
[BbcuModel("sr_bbcum_x4.json")]
public static partial class Upscaler4 { }

/// <summary>Command-line sample; <c>SuperResolve --help</c> lists the options.</summary>
public static class Program
{
    /// <summary>The compiled models as the shared sample code takes them.</summary>
    public static readonly CompiledModel[] Models =
    {
        new(Upscaler2.ModelName, Upscaler2.InputChannels, Upscaler2.OutputChannels, Upscaler2.Scale, Upscaler2.LayerCount, Upscaler2.CreateWorkspace, Upscaler2.Run),
        new(Upscaler4.ModelName, Upscaler4.InputChannels, Upscaler4.OutputChannels, Upscaler4.Scale, Upscaler4.LayerCount, Upscaler4.CreateWorkspace, Upscaler4.Run),
    };

    /// <summary>Entry point: 0 on success, 1 on a failure, 2 on a usage error.</summary>
    public static int Main(string[] args) => RestoreApp.Main(Models, RestorationTask.SuperResolve, args);
}
