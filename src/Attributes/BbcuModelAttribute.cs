using System;

namespace Bbcu;

/// <summary>
/// Compiles a BBCU network into the annotated <c>static partial class</c> at build time.
/// </summary>
/// <remarks>
/// <para>
/// Register the model in the project file with <c>&lt;BbcuModel Include="models/denoise.json" /&gt;</c>
/// (its weights default to the same folder and stem, <c>models/denoise.safetensors</c>; set
/// <c>Weights="…"</c> on the item to use another file) and name it here: <c>[BbcuModel("denoise.json")]</c>.
/// </para>
/// <para>
/// Plain <c>AdditionalFiles</c> items work too: list the JSON and the <c>.safetensors</c> file and name
/// both, <c>[BbcuModel("denoise.json", "denoise.safetensors")]</c>. Each argument is matched against the
/// end of a file's path (so <c>"denoise.json"</c> matches <c>models/denoise.json</c>). The model file is
/// the JSON graph described in <c>docs/model-format.md</c>; the weights file is a standard
/// <c>.safetensors</c> file whose tensor names are the PyTorch <c>state_dict</c> keys.
/// </para>
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class BbcuModelAttribute : Attribute
{
    /// <summary>Names the model description; the weights are the ones its <c>&lt;BbcuModel&gt;</c> item names (by default the same folder and stem, <c>.safetensors</c>).</summary>
    /// <param name="modelPath">Path suffix of the JSON model description (a <c>&lt;BbcuModel&gt;</c> or <c>AdditionalFiles</c> item).</param>
    public BbcuModelAttribute(string modelPath)
    {
        ModelPath = modelPath;
    }

    /// <summary>Names the model description and weights files.</summary>
    /// <param name="modelPath">Path suffix of the JSON model description (a <c>&lt;BbcuModel&gt;</c> or <c>AdditionalFiles</c> item).</param>
    /// <param name="weightsPath">Path suffix of the <c>.safetensors</c> weights (an <c>AdditionalFiles</c> item, or the weights of a <c>&lt;BbcuModel&gt;</c> item).</param>
    public BbcuModelAttribute(string modelPath, string weightsPath)
    {
        ModelPath = modelPath;
        WeightsPath = weightsPath;
    }

    /// <summary>Path suffix of the JSON model description.</summary>
    public string ModelPath { get; }

    /// <summary>Path suffix of the <c>.safetensors</c> weights file, or null when the model's item or file name decides it.</summary>
    public string? WeightsPath { get; }
}
