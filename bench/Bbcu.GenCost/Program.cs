using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Bbcu.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Bbcu.GenCost;

/// <summary>
/// The generator's cost in a user's build, measured with the real <see cref="CSharpGeneratorDriver"/>:
///   dotnet run -c Release --project bench/Bbcu.GenCost -- [model-stem] [--repeat N] [--extra-tensors N]
/// model-stem defaults to bench/models/bbcul_x4 (paper-size BBCU-L ×4 from tools/export_bbcu.py).
/// Prints: the first run, parse + bind + emit of the user's compilation with the generated sources,
/// then each kind of edit on a warm driver (median of N), and a weights file padded with N unused tensors.
/// </summary>
public static class Program
{
    private const string ModelSource = """
        using Bbcu;
        namespace App;
        [BbcuModel("model.json", "model.safetensors")]
        public static partial class Net { }
        """;

    public static int Main(string[] args)
    {
        string stem = "bench/models/bbcul_x4";
        int repeat = 5, extra = 100_000;
        string? dump = null;
        if (args.Length > 0 && args[0] == "--compile-files") return CompileFiles(args.Skip(1).ToArray());
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--repeat") repeat = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--extra-tensors") extra = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--dump") dump = args[++i];
            else stem = args[i];
        }
        if (!File.Exists(stem + ".json"))
        {
            Console.Error.WriteLine($"{stem}.json not found: run bash bench/gencost.sh (it exports the model first)");
            return 2;
        }
        string dir = Path.Combine(Path.GetTempPath(), "bbcu-gencost-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        try
        {
            File.Copy(stem + ".json", Path.Combine(dir, "model.json"), true);
            File.Copy(stem + ".safetensors", Path.Combine(dir, "model.safetensors"), true);
            Console.WriteLine($"// host: {Host()}; .NET {Environment.Version}; Roslyn {typeof(CSharpCompilation).Assembly.GetName().Version}");
            Console.WriteLine($"// model: {stem} ({new FileInfo(stem + ".safetensors").Length:N0} B of weights); {repeat} repeats per edit");
            FirstRunAndCompile(dir, dump);
            Edits(dir, repeat);
            if (extra > 0) ExtraTensors(dir, extra);
            return 0;
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void FirstRunAndCompile(string dir, string? dump)
    {
        var (compilation, texts) = Setup(dir);
        for (int round = 1; round <= 2; round++)
        {
            GeneratorDriver driver = CreateDriver(texts);
            var m = Measure(() => driver = driver.RunGenerators(compilation));
            GeneratorDriverRunResult result = driver.GetRunResult();
            var sources = result.Results.SelectMany(r => r.GeneratedSources).ToList();
            long chars = sources.Sum(s => (long)s.SourceText.Length);
            if (dump is not null)
                foreach (var s in sources) File.WriteAllText(Path.Combine(dump, s.HintName), s.SourceText.ToString());
            Console.WriteLine($"first run (round {round}): {m}; {sources.Count} file(s), {chars:N0} chars ({string.Join(", ", sources.Select(s => $"{s.HintName} {s.SourceText.Length:N0}"))}); {result.Diagnostics.Length} diagnostics");

            // What every compile of the user's project pays for the generated code: parse it, bind and emit
            // the whole compilation (the compiler server is warm after round 1).
            SyntaxTree[] trees = Array.Empty<SyntaxTree>();
            var parse = Measure(() => trees = sources.Select(s => CSharpSyntaxTree.ParseText(s.SourceText, (CSharpParseOptions)compilation.SyntaxTrees.First().Options, path: s.HintName)).ToArray());
            var full = compilation.AddSyntaxTrees(trees);
            int errors = 0;
            long bytes = 0;
            var emit = Measure(() =>
            {
                using var ms = new MemoryStream();
                var r = full.Emit(ms);
                errors = r.Diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error);
                bytes = ms.Length;
            });
            Console.WriteLine($"  parse generated: {parse}; bind + emit: {emit}; assembly {bytes:N0} B; {errors} errors");
        }
    }

    private static void Edits(string dir, int repeat)
    {
        var (compilation, texts) = Setup(dir);
        GeneratorDriver driver = CreateDriver(texts).RunGenerators(compilation);
        string Generated() => string.Concat(driver.GetRunResult().Results.SelectMany(r => r.GeneratedSources).Select(s => s.SourceText.ToString()));
        string before = Generated();

        void Case(string name, Func<int, (GeneratorDriver, Compilation)> edit, bool mustRegenerate = false)
        {
            var times = new List<double>();
            var allocs = new List<long>();
            var reasons = new SortedSet<string>();
            var stepTime = new SortedDictionary<string, double>();
            bool changed = false;
            for (int i = 0; i < repeat; i++)
            {
                var (d, c) = edit(i);
                var m = Measure(() => d = d.RunGenerators(c));
                driver = d;
                compilation = (CSharpCompilation)c;
                times.Add(m.Ms);
                allocs.Add(m.Bytes);
                foreach (var step in driver.GetRunResult().Results.Single().TrackedSteps)
                    foreach (var run in step.Value)
                    {
                        stepTime[step.Key] = stepTime.GetValueOrDefault(step.Key) + run.ElapsedTime.TotalMilliseconds / repeat;
                        foreach (var o in run.Outputs)
                            reasons.Add($"{step.Key}:{o.Reason}");
                    }
                string now = Generated();
                changed |= now != before;
                before = now;
            }
            times.Sort();
            allocs.Sort();
            Console.WriteLine($"{name}: median {times[times.Count / 2]:F1} ms (max {times[^1]:F1}), {allocs[allocs.Count / 2] / 1048576.0:F2} MiB allocated; output {(changed ? "re-generated" : "unchanged")}"
                + (mustRegenerate && !changed ? "  ** expected a new output **" : ""));
            Console.WriteLine($"  steps: {string.Join(", ", reasons)}");
            Console.WriteLine($"  mean ms per step: {string.Join(", ", stepTime.Where(kv => kv.Value >= 0.5).Select(kv => $"{kv.Key} {kv.Value:F1}"))}");
        }

        SyntaxTree Other(CSharpCompilation c) => c.SyntaxTrees.Single(t => t.FilePath == "Other.cs");
        SyntaxTree Model(CSharpCompilation c) => c.SyntaxTrees.Single(t => t.FilePath == "Net.cs");
        var options = (CSharpParseOptions)compilation.SyntaxTrees.First().Options;

        Case("edit in another file", i => (driver, compilation.ReplaceSyntaxTree(Other(compilation),
            CSharpSyntaxTree.ParseText($"namespace App; public static class Other {{ public static int Answer => {i}; }}", options, "Other.cs"))));
        Case("line typed above the attribute", i => (driver, compilation.ReplaceSyntaxTree(Model(compilation),
            CSharpSyntaxTree.ParseText(string.Concat(Enumerable.Repeat("// a comment line\n", i + 1)) + ModelSource, options, "Net.cs"))));
        Case("edit of an unrelated AdditionalFiles item", i =>
        {
            AdditionalText old = texts.Single(t => t.Path.EndsWith("notes.txt", StringComparison.Ordinal));
            var fresh = new MemoryText(old.Path, "notes, version " + i);
            texts = texts.Replace(old, fresh);
            return (driver.ReplaceAdditionalText(old, fresh), compilation);
        });
        Case("re-created AdditionalText objects, same content", i =>
        {
            GeneratorDriver d = driver;
            foreach (string f in new[] { "model.json", "model.safetensors" })
            {
                AdditionalText old = texts.Single(t => t.Path.EndsWith(f, StringComparison.Ordinal));
                var fresh = new FileText(old.Path);
                texts = texts.Replace(old, fresh);
                d = d.ReplaceAdditionalText(old, fresh);
            }
            return (d, compilation);
        });
        string weights = Path.Combine(dir, "model.safetensors");
        Case("changed weights file", i =>
        {
            byte[] bytes = File.ReadAllBytes(weights);
            bytes[^1] ^= 0x01; // the last float's lowest mantissa bit (the tail conv's last bias)
            File.WriteAllBytes(weights, bytes);
            AdditionalText old = texts.Single(t => t.Path == weights);
            var fresh = new FileText(weights);
            texts = texts.Replace(old, fresh);
            return (driver.ReplaceAdditionalText(old, fresh), compilation);
        }, mustRegenerate: true);
    }

    /// <summary>The model's weights plus <paramref name="count"/> unused one-float tensors: a fresh build.</summary>
    private static void ExtraTensors(string dir, int count)
    {
        string path = Path.Combine(dir, "model.safetensors");
        byte[] original = File.ReadAllBytes(path);
        long n = BitConverter.ToInt64(original, 0);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(original, 8, (int)n))!.AsObject();
        long end = original.Length - 8 - n;
        for (int i = 0; i < count; i++)
            header[$"unused.{i}"] = new JsonObject { ["dtype"] = "F32", ["shape"] = new JsonArray(1), ["data_offsets"] = new JsonArray(end + 4 * i, end + 4 * i + 4) };
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using (var fs = File.Create(path))
        {
            fs.Write(BitConverter.GetBytes((long)padded));
            fs.Write(json);
            for (int i = json.Length; i < padded; i++) fs.WriteByte((byte)' ');
            fs.Write(original, (int)(8 + n), (int)end);
            fs.Write(new byte[4 * count]);
        }
        var (compilation, texts) = Setup(dir);
        GeneratorDriver driver = CreateDriver(texts);
        ImmutableArray<Diagnostic> diagnostics = default;
        Compilation output = compilation;
        var m = Measure(() =>
        {
            driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out output, out diagnostics);
            using var ms = new MemoryStream();
            output.Emit(ms);
        });
        var ids = diagnostics.GroupBy(d => d.Id).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}");
        Console.WriteLine($"{count:N0} unused tensors ({new FileInfo(path).Length:N0} B): generate + bind + emit {m}; {diagnostics.Length} diagnostics ({string.Join(", ", ids)})");
    }

    /// <summary>Parse, bind and emit of the given C# files (3 rounds): for comparing forms of the generated code.</summary>
    private static int CompileFiles(string[] files)
    {
        var options = new CSharpParseOptions(LanguageVersion.Latest);
        for (int round = 1; round <= 3; round++)
        {
            SyntaxTree[] trees = Array.Empty<SyntaxTree>();
            var parse = Measure(() => trees = files.Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), options, f)).ToArray());
            var compilation = CSharpCompilation.Create("App", trees, References(),
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release, deterministic: true));
            int errors = 0;
            var emit = Measure(() =>
            {
                using var ms = new MemoryStream();
                var r = compilation.Emit(ms);
                errors = r.Diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error);
                foreach (var d in r.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(3)) Console.WriteLine("  " + d);
            });
            Console.WriteLine($"round {round}: parse {parse}; bind + emit {emit}; {errors} errors");
        }
        return 0;
    }

    private static (CSharpCompilation, ImmutableArray<AdditionalText>) Setup(string dir)
    {
        var options = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = new[]
        {
            CSharpSyntaxTree.ParseText(ModelSource, options, "Net.cs"),
            CSharpSyntaxTree.ParseText("namespace App; public static class Other { public static int Answer => 42; }", options, "Other.cs"),
        };
        var compilation = CSharpCompilation.Create("App", trees, References(),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release, deterministic: true));
        var texts = ImmutableArray.Create<AdditionalText>(
            new FileText(Path.Combine(dir, "model.json")),
            new FileText(Path.Combine(dir, "model.safetensors")),
            new MemoryText(Path.Combine(dir, "notes.txt"), "notes"));
        return (compilation, texts);
    }

    private static GeneratorDriver CreateDriver(ImmutableArray<AdditionalText> texts) =>
        CSharpGeneratorDriver.Create(new[] { new BbcuGenerator().AsSourceGenerator() }, texts,
            new CSharpParseOptions(LanguageVersion.Latest), driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    private static MetadataReference[] References()
    {
        string tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        var refs = tpa.Split(Path.PathSeparator).Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)).ToList();
        refs.Add(typeof(BbcuWorkspace).Assembly.Location);
        refs.Add(typeof(BbcuModelAttribute).Assembly.Location);
        return refs.GroupBy(Path.GetFileName).Select(g => (MetadataReference)MetadataReference.CreateFromFile(g.First())).ToArray();
    }

    private readonly record struct Cost(double Ms, long Bytes)
    {
        public override string ToString() => $"{Ms:F0} ms, {Bytes / 1048576.0:F1} MiB allocated";
    }

    private static Cost Measure(Action action)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long a0 = GC.GetTotalAllocatedBytes(true);
        var sw = Stopwatch.StartNew();
        action();
        sw.Stop();
        return new Cost(sw.Elapsed.TotalMilliseconds, GC.GetTotalAllocatedBytes(true) - a0);
    }

    private static string Host()
    {
        try
        {
            string? model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return (model?.Split(':', 2)[1].Trim() ?? "unknown CPU") + $", {Environment.ProcessorCount} cores";
        }
        catch (IOException)
        {
            return $"unknown CPU, {Environment.ProcessorCount} cores";
        }
    }
}

/// <summary>An AdditionalFiles item read from disk on each request, as the compiler gives one.</summary>
internal sealed class FileText(string path) : AdditionalText
{
    public override string Path { get; } = path;

    public override SourceText? GetText(CancellationToken cancellationToken = default) =>
        SourceText.From(File.ReadAllText(Path), Encoding.UTF8);
}

internal sealed class MemoryText(string path, string text) : AdditionalText
{
    public override string Path { get; } = path;

    public override SourceText? GetText(CancellationToken cancellationToken = default) => SourceText.From(text, Encoding.UTF8);
}
