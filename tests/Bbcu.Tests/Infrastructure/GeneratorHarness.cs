using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using System.Threading;
using Bbcu.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Bbcu.Tests.Infrastructure;

public delegate void RunDelegate(ReadOnlySpan<float> input, int width, int height, Span<float> output);
public delegate void RunWorkspaceDelegate(ReadOnlySpan<float> input, int width, int height, Span<float> output, BbcuWorkspace workspace);

/// <summary>An AdditionalText backed by a real file, as the compiler gives one (the generator reads weights by path).</summary>
public sealed class FileText : AdditionalText
{
    public FileText(string path) => Path = path;

    public override string Path { get; }

    public override SourceText? GetText(CancellationToken cancellationToken = default) =>
        SourceText.From(File.ReadAllText(Path), Encoding.UTF8);
}

/// <summary>
/// Per-file MSBuild metadata as the compiler hands it to analyzers (<c>build_metadata.AdditionalFiles.*</c>
/// keys): here the <c>BbcuWeights</c> and <c>BbcuWeightsHash</c> that a <c>&lt;BbcuModel&gt;</c> item gives its JSON.
/// </summary>
public sealed class ItemMetadata : Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptionsProvider
{
    private readonly Dictionary<string, Dictionary<string, string>> _byPath = new(StringComparer.Ordinal);

    /// <summary>Registers <paramref name="json"/> as a <c>&lt;BbcuModel&gt;</c> item with these weights (hash: the file's SHA-256, or "missing").</summary>
    public ItemMetadata Model(string json, string weights, string? hash = null)
    {
        hash ??= File.Exists(weights) ? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(weights))) : "missing";
        _byPath[json] = new Dictionary<string, string>
        {
            ["build_metadata.AdditionalFiles.BbcuWeights"] = weights,
            ["build_metadata.AdditionalFiles.BbcuWeightsHash"] = hash,
        };
        return this;
    }

    public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GlobalOptions => Options.Empty;

    public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Options.Empty;

    public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GetOptions(AdditionalText textFile) =>
        _byPath.TryGetValue(textFile.Path, out var values) ? new Options(values) : Options.Empty;

    private sealed class Options : Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions
    {
        public static readonly Options Empty = new(new Dictionary<string, string>());
        private readonly Dictionary<string, string> _values;

        public Options(Dictionary<string, string> values) => _values = values;

        public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) => _values.TryGetValue(key, out value);
    }
}

public sealed class GeneratorResult
{
    public required CSharpCompilation Compilation { get; init; }
    public required GeneratorDriverRunResult RunResult { get; init; }
    public required ImmutableArray<Diagnostic> GeneratorDiagnostics { get; init; }
    public required ImmutableArray<Diagnostic> CompilationDiagnostics { get; init; }
    public required GeneratorDriver Driver { get; init; }

    /// <summary>The model's code file (<c>*.Bbcu.g.cs</c>: API, layers, constants as named spans).</summary>
    public string GeneratedSource => Generated(".Bbcu.g.cs");

    /// <summary>The model's data file (<c>*.Bbcu.Data.g.cs</c>: the constants the code file's spans read).</summary>
    public string GeneratedData => Generated(".Bbcu.Data.g.cs");

    /// <summary>Every generated file, in order, as one text (for checks that must see all of them).</summary>
    public string AllGenerated => string.Concat(RunResult.Results.SelectMany(r => r.GeneratedSources).Select(s => s.SourceText.ToString()));

    private string Generated(string suffix) => RunResult.Results.SelectMany(r => r.GeneratedSources)
        .Single(s => s.HintName.EndsWith(suffix, StringComparison.Ordinal)).SourceText.ToString();

    public IEnumerable<string> Ids => GeneratorDiagnostics.Select(d => d.Id);

    public Diagnostic Single(string id) => GeneratorDiagnostics.Single(d => d.Id == id);

    /// <summary>Emits and loads the compiled assembly and returns the model class.</summary>
    public Type LoadModel(string typeName = "TestModels.Model")
    {
        var errors = CompilationDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Count > 0)
            throw new InvalidOperationException("compilation failed:\n" + string.Join("\n", errors));
        using var ms = new MemoryStream();
        var emit = Compilation.Emit(ms);
        if (!emit.Success)
            throw new InvalidOperationException("emit failed:\n" + string.Join("\n", emit.Diagnostics));
        ms.Position = 0;
        var alc = new AssemblyLoadContext("model-" + Guid.NewGuid().ToString("N"), isCollectible: true);
        Assembly asm = alc.LoadFromStream(ms);
        return asm.GetType(typeName, throwOnError: true)!;
    }
}

/// <summary>Runs the real generator on a small compilation, the way the compiler does.</summary>
public static class GeneratorHarness
{
    public const string DefaultSource = """
        using Bbcu;
        namespace TestModels;
        [BbcuModel("model.json", "model.safetensors")]
        public static partial class Model { }
        """;

    private static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        string tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        var refs = tpa.Split(System.IO.Path.PathSeparator)
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .ToList();
        // The model's runtime and attribute assemblies, whatever the host's list holds.
        refs.Add(typeof(BbcuWorkspace).Assembly.Location);
        refs.Add(typeof(BbcuModelAttribute).Assembly.Location);
        return refs.GroupBy(System.IO.Path.GetFileName).Select(g => (MetadataReference)MetadataReference.CreateFromFile(g.First())).ToArray();
    });

    public static CSharpCompilation CreateCompilation(params string[] sources) => CreateCompilation(LanguageVersion.Latest, sources);

    public static CSharpCompilation CreateCompilation(LanguageVersion language, params string[] sources) =>
        CSharpCompilation.Create("TestModels",
            sources.Select(s => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(language), path: "Model.cs")),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable,
                optimizationLevel: OptimizationLevel.Release, deterministic: true));

    public static GeneratorDriver CreateDriver(IEnumerable<AdditionalText> files, LanguageVersion language = LanguageVersion.Latest, ItemMetadata? metadata = null) =>
        CSharpGeneratorDriver.Create(new[] { new BbcuGenerator().AsSourceGenerator() },
            additionalTexts: files,
            parseOptions: new CSharpParseOptions(language),
            optionsProvider: metadata,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public static GeneratorResult Run(CSharpCompilation compilation, GeneratorDriver driver)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return new GeneratorResult
        {
            Compilation = (CSharpCompilation)output,
            RunResult = driver.GetRunResult(),
            GeneratorDiagnostics = diagnostics,
            CompilationDiagnostics = output.GetDiagnostics(),
            Driver = driver,
        };
    }

    /// <summary>Runs the generator with model files taken from <paramref name="folder"/>.</summary>
    public static GeneratorResult RunFolder(string folder, string? source = null, params string[] fileNames) =>
        RunFolder(folder, source, LanguageVersion.Latest, fileNames);

    private static GeneratorResult RunFolder(string folder, string? source, LanguageVersion language, string[] fileNames)
    {
        if (fileNames.Length == 0) fileNames = new[] { "model.json", "model.safetensors" };
        var files = fileNames.Select(f => (AdditionalText)new FileText(System.IO.Path.Combine(folder, f))).ToArray();
        return Run(CreateCompilation(language, source ?? DefaultSource), CreateDriver(files, language));
    }

    /// <summary>As <see cref="RunFolder(string, string?, string[])"/>, with the user's project compiled in Debug (no optimisation).</summary>
    public static GeneratorResult RunFolderDebug(string folder)
    {
        var files = new[] { "model.json", "model.safetensors" }.Select(f => (AdditionalText)new FileText(System.IO.Path.Combine(folder, f))).ToArray();
        CSharpCompilation compilation = CreateCompilation(DefaultSource);
        return Run(compilation.WithOptions(compilation.Options.WithOptimizationLevel(OptimizationLevel.Debug)), CreateDriver(files));
    }

    /// <summary>Writes a model (JSON text + weights bytes) to a temp folder and runs the generator on it.</summary>
    public static GeneratorResult RunModel(string json, byte[] weights, string? source = null, LanguageVersion language = LanguageVersion.Latest)
    {
        string dir = Repo.TempFolder("gen");
        File.WriteAllText(System.IO.Path.Combine(dir, "model.json"), json);
        File.WriteAllBytes(System.IO.Path.Combine(dir, "model.safetensors"), weights);
        return RunFolder(dir, source, language, Array.Empty<string>());
    }

    public static RunDelegate GetRun(Type model) =>
        model.GetMethod("Run", new[] { typeof(ReadOnlySpan<float>), typeof(int), typeof(int), typeof(Span<float>) })!
            .CreateDelegate<RunDelegate>();

    public static RunWorkspaceDelegate GetRunWorkspace(Type model) =>
        model.GetMethod("Run", new[] { typeof(ReadOnlySpan<float>), typeof(int), typeof(int), typeof(Span<float>), typeof(BbcuWorkspace) })!
            .CreateDelegate<RunWorkspaceDelegate>();

    public static T Constant<T>(Type model, string name) => (T)model.GetField(name)!.GetRawConstantValue()!;
}
