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
        List<string> modelMatches = Matches(request.ModelPath, paths), weightsMatches = Matches(request.WeightsPath, paths);
        string? model = Pick(request.ModelPath, modelMatches, paths, weightsMatches, request, BbcuDiagnostics.ModelFileNotFound, SiteAnchor.ModelArgument, diagnostics);
        string? weights = Pick(request.WeightsPath, weightsMatches, paths, modelMatches, request, BbcuDiagnostics.WeightsFileNotFound, SiteAnchor.WeightsArgument, diagnostics);
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
        // The JSON comes through the compiler (an IDE may hold it unsaved); the weights are read from disk.
        // Either way, a listed file that is not on disk is a wrong path, not a malformed file (BBCU007).
        SourceText? text = kind == ModelFileKind.Model ? file.GetText(ct) : null;
        if (text is not null)
            return new FileContent(file.Path, kind, text.ToString(), null, null, null);
#pragma warning disable RS1035 // File IO: only to tell a missing file from an unreadable one (see WeightsFile).
        if (!System.IO.File.Exists(file.Path))
            return new FileContent(file.Path, kind, null, null, "there is no such file", null) { Missing = true };
#pragma warning restore RS1035
        if (kind == ModelFileKind.Model)
            return new FileContent(file.Path, kind, null, null, "its text cannot be read", null);
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

    /// <summary>The paths that end with <paramref name="suffix"/> on a path-segment boundary.</summary>
    private static List<string> Matches(string suffix, EquatableArray<string> paths)
    {
        string wanted = Wanted(suffix);
        var matches = new List<string>();
        foreach (string path in paths)
        {
            string p = Normalize(path);
            if (p == wanted || p.EndsWith("/" + wanted, StringComparison.Ordinal))
                matches.Add(path);
        }
        return matches;
    }

    private static string Wanted(string suffix)
    {
        string wanted = Normalize(suffix).TrimStart('/');
        return wanted.StartsWith("./", StringComparison.Ordinal) ? wanted.Substring(2) : wanted;
    }

    /// <summary>The one match, or a diagnostic that says what to do (with the nearest AdditionalFiles items, if any).</summary>
    private static string? Pick(string suffix, List<string> matches, EquatableArray<string> paths, List<string> otherMatches, ModelRequest request,
        DiagnosticDescriptor notFound, SiteAnchor anchor, DiagnosticBag diagnostics)
    {
        if (matches.Count == 1) return matches[0];
        if (matches.Count > 1)
        {
            diagnostics.Add(BbcuDiagnostics.AmbiguousFile, anchor, suffix, request.FullName, string.Join(", ", matches.OrderBy(p => p, StringComparer.Ordinal)));
            return null;
        }
        diagnostics.Add(notFound, anchor, suffix, request.FullName, Hint(suffix, paths, otherMatches));
        return null;
    }

    /// <summary>
    /// How to fix a name that matches no AdditionalFiles item: the items whose file name is the same or
    /// nearly so ("did you mean …"), else where the model's other file is, else the plain Include line.
    /// </summary>
    internal static string Hint(string suffix, EquatableArray<string> paths, List<string> otherMatches)
    {
        string wanted = Wanted(suffix);
        string name = FileName(wanted);
        var near = new List<string>();
        foreach (string path in paths)
        {
            string candidate = FileName(Normalize(path));
            if (string.Equals(candidate, name, StringComparison.OrdinalIgnoreCase) || (Extension(candidate) == Extension(name) && Distance(candidate, name) <= 2))
                near.Add(Normalize(path));
        }
        if (near.Count > 0)
        {
            near.Sort(StringComparer.Ordinal);
            string shown = string.Join(", ", near.Take(3).Select(p => $"'{Tail(p)}'"));
            return $"did you mean {shown}{(near.Count > 3 ? $" (and {near.Count - 3} more)" : "")}? Name it in [BbcuModel] by the end of its path";
        }
        if (otherMatches.Count == 1)
        {
            string folder = Normalize(otherMatches[0]);
            folder = folder.Substring(0, Math.Max(0, folder.LastIndexOf('/')));
            return $"add <AdditionalFiles Include=\"{suffix}\" /> to the project file, with the file's path relative to the project (the model's other file is the item '{Tail(Normalize(otherMatches[0]))}' in '{folder}')";
        }
        return $"add <AdditionalFiles Include=\"{suffix}\" /> to the project file, with the file's path relative to the project";
    }

    private static string FileName(string path) => path.Substring(path.LastIndexOf('/') + 1);

    private static string Extension(string name) => name.LastIndexOf('.') is int dot && dot >= 0 ? name.Substring(dot).ToLowerInvariant() : "";

    /// <summary>The last two segments of a path, as one would write it in [BbcuModel].</summary>
    private static string Tail(string path)
    {
        int last = path.LastIndexOf('/');
        int before = last > 0 ? path.LastIndexOf('/', last - 1) : -1;
        return path.Substring(before + 1);
    }

    /// <summary>Levenshtein distance, case-insensitive (file names are short).</summary>
    private static int Distance(string a, string b)
    {
        a = a.ToLowerInvariant();
        b = b.ToLowerInvariant();
        if (Math.Abs(a.Length - b.Length) > 2) return 3;
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    private static string Normalize(string path) => path.Replace('\\', '/');
}
