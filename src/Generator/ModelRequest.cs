using System;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Util;

namespace Bbcu.Generator;

// The records that flow through the incremental pipeline (BbcuGenerator). None holds a Location,
// a syntax node or a symbol: each is equal to its previous value whenever what it describes is, so
// the driver can stop at the first step whose output did not change.

/// <summary>
/// What one <c>[BbcuModel]</c> attribute asks for, as equatable data (positions are in <see cref="ModelSite"/>).
/// <see cref="CanHoldStandIn"/>: the class is partial and not generic, in partial non-generic types, so the
/// stand-in members of a model that did not compile can be added to it (static or not).
/// </summary>
internal sealed record ModelRequest(
    string Namespace,
    string ClassName,
    string Accessibility,
    EquatableArray<string> ContainingTypes,
    string ModelPath,
    string WeightsPath,
    EquatableArray<DiagnosticInfo> Diagnostics,
    bool IsStatic = true,
    bool CanHoldStandIn = true)
{
    public string FullName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;

    /// <summary>The attribute names the model alone (its weights: its item's, or the same folder and stem).</summary>
    public bool DefaultWeights => WeightsPath.Length == 0;

    /// <summary>The weights' file name as the attribute names it, or the default (the model's stem, <c>.safetensors</c>).</summary>
    public string WeightsName => DefaultWeights ? DefaultWeightsName(ModelPath) : WeightsPath;

    /// <summary>The model's weights by default: the same folder and stem, with <c>.safetensors</c>.</summary>
    public static string DefaultWeightsName(string modelPath)
    {
        string p = modelPath.Replace('\\', '/');
        int slash = p.LastIndexOf('/'), dot = p.LastIndexOf('.');
        return (dot > slash ? p.Substring(0, dot) : p) + ".safetensors";
    }

    public string HintName => FullName.Replace('<', '_').Replace('>', '_') + ".Bbcu.g.cs";

    /// <summary>The file of the model's constants (<see cref="HintName"/> holds its code).</summary>
    public string DataHintName => FullName.Replace('<', '_').Replace('>', '_') + ".Bbcu.Data.g.cs";
}

/// <summary>The request and the C# positions of its class, as the attribute step produces them.</summary>
internal sealed record AttributedModel(ModelRequest Request, ModelSite Site);

/// <summary>
/// One AdditionalFiles item, by path. For the JSON of a <c>&lt;BbcuModel&gt;</c> item (MSBuild, see the
/// package's build targets) also its weights file's full path and the hash MSBuild computed of it
/// ("missing" when there is no such file): the weights are not an AdditionalFiles item (so no analyzer
/// can read them as text, CS2015), and the hash is what re-reads them when they change.
/// </summary>
internal sealed record ProjectFile(string Path, string? Weights = null, string? WeightsHash = null);

/// <summary>
/// Which files hold a request's model and weights (null: not found). <see cref="WeightsHash"/> is set when
/// the weights are those of a <c>&lt;BbcuModel&gt;</c> item, read from disk by path rather than as an
/// AdditionalFiles item; <see cref="WeightsItem"/> is then that item's JSON path.
/// </summary>
internal sealed record ResolvedRequest(ModelRequest Request, string? ModelFile, string? WeightsFile, EquatableArray<DiagnosticInfo> Diagnostics,
    string? WeightsHash = null, string? WeightsItem = null);

internal enum ModelFileKind { Model, Weights }

/// <summary>
/// A file that some model reads, and how it reads it: an AdditionalFiles item, or (with <see cref="Hash"/>
/// set) the weights of a <c>&lt;BbcuModel&gt;</c> item, read from disk whenever the hash changes.
/// </summary>
internal sealed record WantedFile(string Path, ModelFileKind Kind, string? Hash = null) : IComparable<WantedFile>
{
    public int CompareTo(WantedFile? other) =>
        other is null ? 1
        : string.CompareOrdinal(Path, other.Path) is int c && c != 0 ? c
        : Kind != other.Kind ? Kind.CompareTo(other.Kind)
        : string.CompareOrdinal(Hash, other.Hash);
}

/// <summary>
/// The contents of one model file: the JSON's text, or the weights' bytes, or why it could not be read.
/// Equal when the contents are, so a re-created <c>AdditionalText</c> for an unchanged file stops here.
/// </summary>
internal sealed class FileContent : IEquatable<FileContent>
{
    public FileContent(string path, ModelFileKind kind, string? text, byte[]? bytes, string? error, string? crash)
    {
        Path = path; Kind = kind; Text = text; Bytes = bytes; Error = error; Crash = crash;
    }

    public string Path { get; }

    public ModelFileKind Kind { get; }

    /// <summary>The model JSON's text (Kind Model).</summary>
    public string? Text { get; }

    /// <summary>The weights file's bytes (Kind Weights).</summary>
    public byte[]? Bytes { get; }

    /// <summary>Why the file could not be read, or null.</summary>
    public string? Error { get; }

    /// <summary>An exception the reading hit that it should not have (reported as BBCU099), or null.</summary>
    public string? Crash { get; }

    /// <summary>The AdditionalFiles item names a file that does not exist (BBCU007).</summary>
    public bool Missing { get; init; }

    public bool Equals(FileContent? other) =>
        other is not null && Path == other.Path && Kind == other.Kind && Error == other.Error && Crash == other.Crash && Missing == other.Missing && Text == other.Text
        && (Bytes == other.Bytes || (Bytes is not null && other.Bytes is not null && Bytes.AsSpan().SequenceEqual(other.Bytes)));

    public override bool Equals(object? obj) => Equals(obj as FileContent);

    public override int GetHashCode() => unchecked(StringComparer.Ordinal.GetHashCode(Path) * 31 + (Text?.Length ?? Bytes?.Length ?? -1));
}

/// <summary>
/// Everything one model compiles from: its request and its two files' contents. <see cref="WeightsItem"/>:
/// the JSON path of the <c>&lt;BbcuModel&gt;</c> item whose weights these are, or null for an AdditionalFiles item.
/// </summary>
internal sealed record ModelInputs(ModelRequest Request, FileContent? Model, FileContent? Weights, EquatableArray<DiagnosticInfo> Diagnostics,
    string? WeightsItem = null);

/// <summary>
/// The generator's result for one model: its code file, its data file (empty when the model did not
/// compile: the code file then holds throwing stand-ins, or is empty too) and diagnostics.
/// </summary>
internal sealed record CompiledModel(string FullName, string HintName, string Source, string DataHintName, string DataSource, EquatableArray<DiagnosticInfo> Diagnostics)
{
    public GeneratedFiles Files => new(HintName, Source, DataHintName, DataSource);

    public ModelDiagnostics Report => new(FullName, Diagnostics);
}

/// <summary>The generated sources of one model, apart from its diagnostics.</summary>
internal sealed record GeneratedFiles(string HintName, string Source, string DataHintName, string DataSource);

/// <summary>The diagnostics of one model, to be placed with its <see cref="ModelSite"/>.</summary>
internal sealed record ModelDiagnostics(string FullName, EquatableArray<DiagnosticInfo> Diagnostics);
