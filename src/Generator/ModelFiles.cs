using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Parsing;
using Bbcu.Generator.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Bbcu.Generator;

/// <summary>
/// Finds each model's two AdditionalFiles by the paths its attribute names, and reads them. Resolution
/// sees only the project's file paths, so an edit inside an unrelated file cannot reach it; reading
/// happens only for the files some model names.
/// </summary>
internal static class ModelFiles
{
    /// <summary>Resolves the request's model and weights paths against the project's AdditionalFiles paths.</summary>
    public static ResolvedRequest Resolve(ModelRequest request, EquatableArray<string> paths)
    {
        var diagnostics = new DiagnosticBag();
        // A request whose attribute or class is wrong reports that alone.
        if (request.Diagnostics.Any(d => BbcuDiagnostics.Get(d.Id).DefaultSeverity == DiagnosticSeverity.Error))
            return new ResolvedRequest(request, null, null, default);
        string? model = Find(request.ModelPath, paths, request, BbcuDiagnostics.ModelFileNotFound, SiteAnchor.ModelArgument, diagnostics);
        string? weights = Find(request.WeightsPath, paths, request, BbcuDiagnostics.WeightsFileNotFound, SiteAnchor.WeightsArgument, diagnostics);
        return new ResolvedRequest(request, model, weights, new EquatableArray<DiagnosticInfo>(diagnostics.Items.ToArray()));
    }

    /// <summary>Every file some model reads, sorted (the filter of the read step).</summary>
    public static EquatableArray<WantedFile> Wanted(IEnumerable<ResolvedRequest> requests)
    {
        var set = new SortedSet<WantedFile>();
        foreach (ResolvedRequest r in requests)
        {
            if (r.ModelFile is not null) set.Add(new WantedFile(r.ModelFile, ModelFileKind.Model));
            if (r.WeightsFile is not null) set.Add(new WantedFile(r.WeightsFile, ModelFileKind.Weights));
        }
        return new EquatableArray<WantedFile>(set.ToArray());
    }

    /// <summary>Reads <paramref name="file"/> if some model wants it (once per way it is wanted).</summary>
    public static IEnumerable<FileContent> ReadIfWanted(AdditionalText file, EquatableArray<WantedFile> wanted, CancellationToken ct)
    {
        foreach (WantedFile w in wanted)
            if (w.Path == file.Path)
                yield return Read(file, w.Kind, ct);
    }

    private static FileContent Read(AdditionalText file, ModelFileKind kind, CancellationToken ct)
    {
        try
        {
            return ReadCore(file, kind, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Never into the compiler: the compile step reports it as BBCU099 at the attribute.
            return new FileContent(file.Path, kind, null, null, null, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static FileContent ReadCore(AdditionalText file, ModelFileKind kind, CancellationToken ct)
    {
        if (kind == ModelFileKind.Model)
        {
            SourceText? text = file.GetText(ct);
            return new FileContent(file.Path, kind, text?.ToString(), null, text is null ? "its text cannot be read" : null, null);
        }
        try
        {
            return new FileContent(file.Path, kind, null, WeightsFile.ReadAllBytes(file), null, null);
        }
        catch (SafetensorsException e)
        {
            return new FileContent(file.Path, kind, null, null, e.Message, null);
        }
        catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException)
        {
            return new FileContent(file.Path, kind, null, null, "it cannot be read: " + e.Message, null);
        }
    }

    /// <summary>The inputs of one model: its request with the contents of its two files (null where not found or not read).</summary>
    public static ModelInputs Inputs(ResolvedRequest resolved, IEnumerable<FileContent> contents)
    {
        FileContent? model = null, weights = null;
        foreach (FileContent c in contents)
        {
            if (c.Kind == ModelFileKind.Model && c.Path == resolved.ModelFile) model = c;
            if (c.Kind == ModelFileKind.Weights && c.Path == resolved.WeightsFile) weights = c;
        }
        return new ModelInputs(resolved.Request, model, weights, resolved.Diagnostics);
    }

    /// <summary>The one path that ends with <paramref name="suffix"/> on a path-segment boundary.</summary>
    private static string? Find(string suffix, EquatableArray<string> paths, ModelRequest request,
        DiagnosticDescriptor notFound, SiteAnchor anchor, DiagnosticBag diagnostics)
    {
        string wanted = Normalize(suffix).TrimStart('/');
        if (wanted.StartsWith("./", StringComparison.Ordinal)) wanted = wanted.Substring(2);
        var matches = new List<string>();
        foreach (string path in paths)
        {
            string p = Normalize(path);
            if (p == wanted || p.EndsWith("/" + wanted, StringComparison.Ordinal))
                matches.Add(path);
        }
        if (matches.Count == 1) return matches[0];
        if (matches.Count == 0)
            diagnostics.Add(notFound, anchor, suffix, request.FullName);
        else
            diagnostics.Add(BbcuDiagnostics.AmbiguousFile, anchor, suffix, request.FullName, string.Join(", ", matches.OrderBy(p => p, StringComparer.Ordinal)));
        return null;
    }

    private static string Normalize(string path) => path.Replace('\\', '/');
}
