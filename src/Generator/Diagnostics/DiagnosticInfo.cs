using System.Collections.Generic;
using Bbcu.Generator.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Bbcu.Generator.Diagnostics;

/// <summary>A source location as plain data (a <see cref="Location"/> must not be cached by the incremental driver).</summary>
internal sealed record LocationInfo(string Path, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(Path, Span, LineSpan);

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location.SourceTree is null) return null;
        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }

    /// <summary>The start of a file that has no text positions (the binary weights file).</summary>
    public static LocationInfo FileStart(string path) => new(path, default, default);
}

/// <summary>A diagnostic as plain, equatable data.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Args)
{
    public Diagnostic ToDiagnostic()
    {
        var args = new object[Args.Length];
        for (int i = 0; i < args.Length; i++) args[i] = Args[i];
        return Diagnostic.Create(BbcuDiagnostics.Get(Id), Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None, args);
    }
}

/// <summary>Collects diagnostics for one model; stages add to it and go on where they can.</summary>
internal sealed class DiagnosticBag
{
    private readonly List<DiagnosticInfo> _items = new();

    public bool HasErrors { get; private set; }

    public IReadOnlyList<DiagnosticInfo> Items => _items;

    public void Add(DiagnosticDescriptor descriptor, LocationInfo? location, params object[] args)
    {
        var strings = new string[args.Length];
        for (int i = 0; i < args.Length; i++) strings[i] = args[i]?.ToString() ?? "";
        _items.Add(new DiagnosticInfo(descriptor.Id, location, new EquatableArray<string>(strings)));
        if (descriptor.DefaultSeverity == DiagnosticSeverity.Error) HasErrors = true;
    }
}
