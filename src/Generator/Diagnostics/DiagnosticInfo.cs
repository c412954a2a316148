using System.Collections.Generic;
using Bbcu.Generator.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Bbcu.Generator.Diagnostics;

/// <summary>
/// A location in a model's own files (its JSON, or the start of its weights file) as plain data: it
/// depends only on those files' paths and contents, so cached records may hold it.
/// </summary>
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

/// <summary>
/// Where in the user's C# a diagnostic belongs, by role rather than by position: the position moves with
/// every line typed above the class, so the pipeline's cached records hold the role, and the output step
/// looks the position up in the model's <see cref="ModelSite"/>.
/// </summary>
internal enum SiteAnchor
{
    /// <summary>No C# location: the diagnostic's <see cref="DiagnosticInfo.Location"/> (a model file), or none.</summary>
    None,
    /// <summary>The <c>[BbcuModel]</c> attribute.</summary>
    Attribute,
    /// <summary>The attribute's first argument (the model path).</summary>
    ModelArgument,
    /// <summary>The attribute's second argument (the weights path).</summary>
    WeightsArgument,
    /// <summary>The annotated class's name.</summary>
    ClassName,
}

/// <summary>The C# positions of one <c>[BbcuModel]</c> class, kept apart from everything that is cached.</summary>
internal sealed record ModelSite(string FullName, LocationInfo? Attribute, LocationInfo? ModelArgument, LocationInfo? WeightsArgument, LocationInfo? ClassName)
{
    public LocationInfo? Locate(SiteAnchor anchor) => anchor switch
    {
        SiteAnchor.Attribute => Attribute,
        SiteAnchor.ModelArgument => ModelArgument ?? Attribute,
        SiteAnchor.WeightsArgument => WeightsArgument ?? Attribute,
        SiteAnchor.ClassName => ClassName ?? Attribute,
        _ => null,
    };
}

/// <summary>A diagnostic as plain, equatable data: a model-file location or a role in the user's C#.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Args, SiteAnchor Anchor = SiteAnchor.None)
{
    public Diagnostic ToDiagnostic(ModelSite? site)
    {
        var args = new object[Args.Length];
        for (int i = 0; i < args.Length; i++) args[i] = Args[i];
        LocationInfo? at = Anchor == SiteAnchor.None ? Location : site?.Locate(Anchor);
        return Diagnostic.Create(BbcuDiagnostics.Get(Id), at?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None, args);
    }
}

/// <summary>
/// Collects diagnostics for one model; stages add to it and go on where they can. Keeps at most
/// <see cref="MaxPerId"/> of each ID (a broken file must not flood the build with thousands); the rest
/// are counted and summed up by <see cref="Truncation"/>.
/// </summary>
internal sealed class DiagnosticBag
{
    public const int MaxPerId = 10;

    private readonly List<DiagnosticInfo> _items = new();
    private readonly Dictionary<string, int> _counts = new();

    public bool HasErrors { get; private set; }

    public IReadOnlyList<DiagnosticInfo> Items => _items;

    /// <summary>A diagnostic in one of the model's files (or nowhere, for <c>null</c>).</summary>
    public void Add(DiagnosticDescriptor descriptor, LocationInfo? location, params object[] args) => Add(descriptor, location, SiteAnchor.None, args);

    /// <summary>A diagnostic on the annotated class (see <see cref="SiteAnchor"/>).</summary>
    public void Add(DiagnosticDescriptor descriptor, SiteAnchor anchor, params object[] args) => Add(descriptor, null, anchor, args);

    private void Add(DiagnosticDescriptor descriptor, LocationInfo? location, SiteAnchor anchor, object[] args)
    {
        if (descriptor.DefaultSeverity == DiagnosticSeverity.Error) HasErrors = true;
        if (!Count(descriptor.Id)) return;
        var strings = new string[args.Length];
        for (int i = 0; i < args.Length; i++) strings[i] = System.Convert.ToString(args[i], System.Globalization.CultureInfo.InvariantCulture) ?? "";
        _items.Add(new DiagnosticInfo(descriptor.Id, location, new EquatableArray<string>(strings), anchor));
    }

    public void AddRange(IEnumerable<DiagnosticInfo> items)
    {
        foreach (DiagnosticInfo d in items)
        {
            if (BbcuDiagnostics.Get(d.Id).DefaultSeverity == DiagnosticSeverity.Error) HasErrors = true;
            if (Count(d.Id)) _items.Add(d);
        }
    }

    /// <summary>Counts one diagnostic of <paramref name="id"/>; false when it is past the limit (not kept).</summary>
    private bool Count(string id)
    {
        _counts.TryGetValue(id, out int n);
        _counts[id] = n + 1;
        return n < MaxPerId;
    }

    /// <summary>One BBCU033 per ID that went past the limit, saying how many of <paramref name="model"/>'s were left out.</summary>
    public IEnumerable<DiagnosticInfo> Truncation(string model)
    {
        var ids = new List<string>(_counts.Keys);
        ids.Sort(System.StringComparer.Ordinal);
        foreach (string id in ids)
            if (_counts[id] > MaxPerId)
                yield return new DiagnosticInfo(BbcuDiagnostics.Truncated.Id, null,
                    new EquatableArray<string>(new[] { model, (_counts[id] - MaxPerId).ToString(System.Globalization.CultureInfo.InvariantCulture), id, MaxPerId.ToString(System.Globalization.CultureInfo.InvariantCulture) }),
                    SiteAnchor.Attribute);
    }
}
