using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Parsing;
using Bbcu.Generator.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Bbcu.Generator;

/// <summary>
/// Finds each model's two AdditionalFiles by the paths its attribute names, and reads them. Resolution
/// sees only the project's file paths, so an edit inside an unrelated file cannot reach it; reading
/// happens only for the files some model names.
/// </summary>
internal static class ModelFiles
{
    /// <summary>The metadata a <c>&lt;BbcuModel&gt;</c> item gives its JSON's AdditionalFiles item (see the package's build targets).</summary>
    public const string WeightsMetadata = "build_metadata.AdditionalFiles.BbcuWeights";

    /// <summary>The hash MSBuild computed of those weights ("missing" when the file does not exist).</summary>
    public const string WeightsHashMetadata = "build_metadata.AdditionalFiles.BbcuWeightsHash";

    /// <summary>One AdditionalFiles item's path, with the weights of its <c>&lt;BbcuModel&gt;</c> item if it is one.</summary>
    public static ProjectFile Describe(AdditionalText file, AnalyzerConfigOptionsProvider options)
    {
        AnalyzerConfigOptions o = options.GetOptions(file);
        if (o.TryGetValue(WeightsMetadata, out string? weights) && weights.Trim().Length > 0)
            return new ProjectFile(file.Path, weights.Trim(), o.TryGetValue(WeightsHashMetadata, out string? hash) ? hash : "");
        return new ProjectFile(file.Path);
    }

    /// <summary>Resolves the request's model and weights paths against the project's AdditionalFiles (and their <c>&lt;BbcuModel&gt;</c> weights).</summary>
    public static ResolvedRequest Resolve(ModelRequest request, EquatableArray<ProjectFile> files)
    {
        var diagnostics = new DiagnosticBag();
        // A request whose attribute or class is wrong reports that alone.
        if (request.Diagnostics.Any(d => BbcuDiagnostics.Get(d.Id).DefaultSeverity == DiagnosticSeverity.Error))
            return new ResolvedRequest(request, null, null, default);
        var paths = new EquatableArray<string>(files.Select(f => f.Path).ToArray());
        // The weights of <BbcuModel> items can be named too (the two-argument form), by the same suffix rule.
        var itemWeights = new Dictionary<string, ProjectFile>(StringComparer.Ordinal);
        foreach (ProjectFile f in files)
            if (f.Weights is not null && !itemWeights.ContainsKey(f.Weights))
                itemWeights.Add(f.Weights, f);
        var weightsCandidates = new EquatableArray<string>(paths.Concat(itemWeights.Keys.Where(w => !paths.Contains(w))).ToArray());

        List<string> modelMatches = Matches(request.ModelPath, paths);
        List<string> weightsMatches = request.DefaultWeights ? new List<string>() : Matches(request.WeightsPath, weightsCandidates);
        string? model = Pick(request.ModelPath, modelMatches, paths, weightsMatches, request, BbcuDiagnostics.ModelFileNotFound, SiteAnchor.ModelArgument, diagnostics);
        string? weights;
        if (!request.DefaultWeights)
            weights = Pick(request.WeightsPath, weightsMatches, weightsCandidates, modelMatches, request, BbcuDiagnostics.WeightsFileNotFound, SiteAnchor.WeightsArgument, diagnostics);
        else if (model is null)
            weights = null; // BBCU001 says it all
        else if (files.First(f => f.Path == model) is { Weights: string own } item)
            return new ResolvedRequest(request, model, own, new EquatableArray<DiagnosticInfo>(diagnostics.Items.ToArray()), item.WeightsHash ?? "", item.Path);
        else
        {
            // [BbcuModel("m.json")] on a plain AdditionalFiles item: the weights are the item beside it.
            string sibling = ModelRequest.DefaultWeightsName(model);
            weights = paths.FirstOrDefault(p => Normalize(p) == Normalize(sibling));
            if (weights is null)
                diagnostics.Add(BbcuDiagnostics.WeightsFileNotFound, SiteAnchor.Attribute, request.WeightsName, request.FullName,
                    $"[BbcuModel] with one argument takes the weights of the model's <BbcuModel> item, and '{Tail(Normalize(model))}' is a plain AdditionalFiles item "
                    + $"with no '{FileName(Normalize(sibling))}' item beside it: turn its <AdditionalFiles Include=\"…\" /> line into <BbcuModel Include=\"…\" /> "
                    + "(the weights then default to the same folder and stem), or name the weights file as the attribute's second argument");
        }
        if (weights is not null && !paths.Contains(weights) && itemWeights.TryGetValue(weights, out ProjectFile? owner))
            return new ResolvedRequest(request, model, weights, new EquatableArray<DiagnosticInfo>(diagnostics.Items.ToArray()), owner.WeightsHash ?? "", owner.Path);
        return new ResolvedRequest(request, model, weights, new EquatableArray<DiagnosticInfo>(diagnostics.Items.ToArray()));
    }

    /// <summary>Every file some model reads, sorted (the filter of the read steps).</summary>
    public static EquatableArray<WantedFile> Wanted(IEnumerable<ResolvedRequest> requests)
    {
        var set = new SortedSet<WantedFile>();
        foreach (ResolvedRequest r in requests)
        {
            if (r.ModelFile is not null) set.Add(new WantedFile(r.ModelFile, ModelFileKind.Model));
            if (r.WeightsFile is not null) set.Add(new WantedFile(r.WeightsFile, ModelFileKind.Weights, r.WeightsHash));
        }
        return new EquatableArray<WantedFile>(set.ToArray());
    }

    /// <summary>Reads <paramref name="file"/> if some model wants it as an AdditionalFiles item (once per way it is wanted).</summary>
    public static IEnumerable<FileContent> ReadIfWanted(AdditionalText file, EquatableArray<WantedFile> wanted, CancellationToken ct)
    {
        foreach (WantedFile w in wanted)
            if (w.Path == file.Path && w.Hash is null)
                yield return Read(() => ReadCore(file, w.Kind, ct), file.Path, w.Kind);
    }

    /// <summary>The wanted weights of <c>&lt;BbcuModel&gt;</c> items, which are read from disk (each again only when its hash changes).</summary>
    public static IEnumerable<WantedFile> ItemWeights(EquatableArray<WantedFile> wanted) => wanted.Where(w => w.Hash is not null);

    /// <summary>Reads the weights of a <c>&lt;BbcuModel&gt;</c> item from disk.</summary>
    public static FileContent ReadItemWeights(WantedFile file) =>
        Read(() => ReadWeights(file.Path), file.Path, file.Kind);

    private static FileContent Read(Func<FileContent> read, string path, ModelFileKind kind)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Never into the compiler: the compile step reports it as BBCU099 at the attribute.
            return new FileContent(path, kind, null, null, null, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static FileContent ReadCore(AdditionalText file, ModelFileKind kind, CancellationToken ct)
    {
        // The JSON comes through the compiler (an IDE may hold it unsaved); the weights are read from disk.
        // Either way, a listed file that is not on disk is a wrong path, not a malformed file (BBCU007).
        SourceText? text = kind == ModelFileKind.Model ? file.GetText(ct) : null;
        if (text is not null)
            return new FileContent(file.Path, kind, text.ToString(), null, null, null);
        if (kind == ModelFileKind.Model)
            return WeightsFile.Exists(file.Path)
                ? new FileContent(file.Path, kind, null, null, "its text cannot be read", null)
                : Missing(file.Path, kind);
        return ReadWeights(file.Path);
    }

    private static FileContent Missing(string path, ModelFileKind kind) =>
        new(path, kind, null, null, "there is no such file", null) { Missing = true };

    private static FileContent ReadWeights(string path)
    {
        if (!WeightsFile.Exists(path))
            return Missing(path, ModelFileKind.Weights);
        try
        {
            return new FileContent(path, ModelFileKind.Weights, null, WeightsFile.ReadAllBytes(path), null, null);
        }
        catch (SafetensorsException e)
        {
            return new FileContent(path, ModelFileKind.Weights, null, null, e.Message, null);
        }
        catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException)
        {
            return new FileContent(path, ModelFileKind.Weights, null, null, "it cannot be read: " + e.Message, null);
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
        return new ModelInputs(resolved.Request, model, weights, resolved.Diagnostics, resolved.WeightsItem);
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
        diagnostics.Add(notFound, anchor, suffix, request.FullName, Hint(suffix, paths, otherMatches, notFound == BbcuDiagnostics.ModelFileNotFound));
        return null;
    }

    /// <summary>
    /// How to fix a name that matches no AdditionalFiles item: the items whose file name is the same or
    /// nearly so ("did you mean …"), else where the model's other file is, else the plain Include line.
    /// </summary>
    internal static string Hint(string suffix, EquatableArray<string> paths, List<string> otherMatches, bool model)
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
            // The weights are a plain AdditionalFiles item already: so is the model, then.
            return $"add {Item(suffix, model: false)} to the project file, with the file's path relative to the project (the model's other file is the item '{Tail(Normalize(otherMatches[0]))}' in '{folder}')";
        }
        return $"add {Item(suffix, model)} to the project file, with the file's path relative to the project";
    }

    /// <summary>The project-file line that adds the file: a model registers with its weights; weights alone are an AdditionalFiles item.</summary>
    private static string Item(string suffix, bool model) =>
        model ? $"<BbcuModel Include=\"{suffix}\" /> (which also brings its weights, same folder and stem)" : $"<AdditionalFiles Include=\"{suffix}\" />";

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
