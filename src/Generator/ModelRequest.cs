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
}

/// <summary>The generator's result for one model: source text (empty on error) and diagnostics.</summary>
internal sealed record CompiledModel(string HintName, string Source, EquatableArray<DiagnosticInfo> Diagnostics);
