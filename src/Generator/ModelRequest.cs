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

    public string HintName => FullName.Replace('<', '_').Replace('>', '_') + ".Bbcu.g.cs";

    /// <summary>The file of the model's constants (<see cref="HintName"/> holds its code).</summary>
    public string DataHintName => FullName.Replace('<', '_').Replace('>', '_') + ".Bbcu.Data.g.cs";
}

/// <summary>The request and the C# positions of its class, as the attribute step produces them.</summary>
internal sealed record AttributedModel(ModelRequest Request, ModelSite Site);

/// <summary>Which of the project's AdditionalFiles hold a request's model and weights (null: not found).</summary>
internal sealed record ResolvedRequest(ModelRequest Request, string? ModelFile, string? WeightsFile, EquatableArray<DiagnosticInfo> Diagnostics);

internal enum ModelFileKind { Model, Weights }

/// <summary>An AdditionalFiles item that some model reads, and how it reads it.</summary>
internal sealed record WantedFile(string Path, ModelFileKind Kind) : IComparable<WantedFile>
{
    public int CompareTo(WantedFile? other) =>
        other is null ? 1 : string.CompareOrdinal(Path, other.Path) is int c && c != 0 ? c : Kind.CompareTo(other.Kind);
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

/// <summary>Everything one model compiles from: its request and its two files' contents.</summary>
internal sealed record ModelInputs(ModelRequest Request, FileContent? Model, FileContent? Weights, EquatableArray<DiagnosticInfo> Diagnostics);

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
