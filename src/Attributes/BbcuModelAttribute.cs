using System;

namespace Bbcu;

/// <summary>
/// Compiles a BBCU network into the annotated <c>static partial class</c> at build time.
/// </summary>
/// <remarks>
/// Both files must be <c>AdditionalFiles</c> of the project; each argument is matched against the
/// end of an additional file's path (so <c>"denoise.json"</c> matches <c>models/denoise.json</c>).
/// The model file is the JSON graph described in <c>docs/model-format.md</c>; the weights file is a
/// standard <c>.safetensors</c> file whose tensor names are the PyTorch <c>state_dict</c> keys.
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class BbcuModelAttribute : Attribute
{
    /// <summary>Names the model description and weights files.</summary>
    /// <param name="modelPath">Path suffix of the JSON model description (an <c>AdditionalFiles</c> item).</param>
    /// <param name="weightsPath">Path suffix of the <c>.safetensors</c> weights (an <c>AdditionalFiles</c> item).</param>
    public BbcuModelAttribute(string modelPath, string weightsPath)
    {
        ModelPath = modelPath;
        WeightsPath = weightsPath;
    }

    /// <summary>Path suffix of the JSON model description.</summary>
    public string ModelPath { get; }

    /// <summary>Path suffix of the <c>.safetensors</c> weights file.</summary>
    public string WeightsPath { get; }
}
