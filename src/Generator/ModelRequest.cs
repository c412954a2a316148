using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Util;

namespace Bbcu.Generator;

/// <summary>What one <c>[BbcuModel]</c> attribute asks for, as equatable data.</summary>
internal sealed record ModelRequest(
    string Namespace,
    string ClassName,
    string Accessibility,
    EquatableArray<string> ContainingTypes,
    string ModelPath,
    string WeightsPath,
    LocationInfo? AttributeLocation,
    LocationInfo? ModelArgumentLocation,
    LocationInfo? WeightsArgumentLocation,
    EquatableArray<DiagnosticInfo> Diagnostics)
{
    public string FullName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;

    public string HintName => FullName.Replace('<', '_').Replace('>', '_') + ".Bbcu.g.cs";

    /// <summary>The file of the model's constants (<see cref="HintName"/> holds its code).</summary>
    public string DataHintName => FullName.Replace('<', '_').Replace('>', '_') + ".Bbcu.Data.g.cs";
}

/// <summary>
/// The generator's result for one model: its code file, its data file (empty when the model did not
/// compile: the code file then holds throwing stand-ins, or is empty too) and diagnostics.
/// </summary>
internal sealed record CompiledModel(string HintName, string Source, string DataHintName, string DataSource, EquatableArray<DiagnosticInfo> Diagnostics);
