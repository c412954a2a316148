using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Bbcu.Generator;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Bbcu.Tests;

/// <summary>
/// The generator re-runs only what an edit can change, checked with the real driver's tracked steps:
/// edits that do not touch a model's two files leave its compile step and its sources cached, and a
/// changed weights file re-generates that model alone. (bench/Bbcu.GenCost times the same edits at
/// paper scale.)
/// </summary>
public sealed class IncrementalTests
{
    private const string TwoModels = """
        using Bbcu;
        namespace TestModels;
        [BbcuModel("a/model.json", "a/model.safetensors")]
        public static partial class A { }
        [BbcuModel("b/model.json", "b/model.safetensors")]
        public static partial class B { }
        """;

    private sealed class Project
    {
        public required CSharpCompilation Compilation;
        public required GeneratorDriver Driver;
        public required List<AdditionalText> Texts;
        public required string Folder;

        public GeneratorRunResult Run()
        {
            Driver = Driver.RunGenerators(Compilation);
            return Driver.GetRunResult().Results.Single();
        }

        public void Replace(AdditionalText old, AdditionalText fresh)
        {
            Texts[Texts.IndexOf(old)] = fresh;
            Driver = Driver.ReplaceAdditionalText(old, fresh);
        }

        public AdditionalText Text(string suffix) => Texts.Single(t => t.Path.Replace('\\', '/').EndsWith(suffix, StringComparison.Ordinal));
    }

    /// <summary>Two models (A and B, copies of one fixture) and an unrelated notes file, run once.</summary>
    private static Project Create(string source = TwoModels)
    {
        string fixture = Repo.Path("tests", "fixtures", "dncnn_g1_nc8_nb3_1x1");
        string folder = Repo.TempFolder("incremental");
        var texts = new List<AdditionalText>();
        foreach (string model in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(folder, model));
            foreach (string f in new[] { "model.json", "model.safetensors" })
            {
                File.Copy(Path.Combine(fixture, f), Path.Combine(folder, model, f));
                texts.Add(new FileText(Path.Combine(folder, model, f)));
            }
        }
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "notes");
        texts.Add(new FileText(Path.Combine(folder, "notes.txt")));
        var project = new Project
        {
            Compilation = GeneratorHarness.CreateCompilation(source),
            Driver = GeneratorHarness.CreateDriver(texts),
            Texts = texts,
            Folder = folder,
        };
        GeneratorRunResult first = project.Run();
        Assert.Equal(4, first.GeneratedSources.Length); // code and data of A and B
        Assert.Empty(first.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
        return project;
    }

    private static List<IncrementalStepRunReason> Reasons(GeneratorRunResult run, string step) =>
        run.TrackedSteps.TryGetValue(step, out var steps) ? steps.SelectMany(s => s.Outputs).Select(o => o.Reason).ToList() : new();

    private static List<IncrementalStepRunReason> OutputReasons(GeneratorRunResult run) =>
        run.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();

    private static void AssertCached(GeneratorRunResult run, string step)
    {
        var reasons = Reasons(run, step);
        Assert.NotEmpty(reasons);
        Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
    }

    /// <summary>The compile step and the generated sources were not redone (the diagnostics output may re-run: it is cheap).</summary>
    private static void AssertModelsNotRecompiled(GeneratorRunResult run)
    {
        AssertCached(run, BbcuGenerator.CompileStep);
        Assert.Equal(4, run.GeneratedSources.Length);
    }

    [Fact]
    public void AnEditInAnotherFileRecompilesNothing()
    {
        Project p = Create();
        p.Compilation = p.Compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Other; public static class Unrelated { public static int Answer => 42; }",
            new CSharpParseOptions(LanguageVersion.Latest), path: "Unrelated.cs"));
        GeneratorRunResult run = p.Run();
        AssertCached(run, BbcuGenerator.RequestStep);
        AssertModelsNotRecompiled(run);
        Assert.All(OutputReasons(run), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"output: {r}"));
    }

    /// <summary>
    /// A line typed above the attribute moves every position in the file: the compiled models stay
    /// cached, and the diagnostics move with the attribute (they are placed at the output step).
    /// </summary>
    [Fact]
    public void ALineTypedAboveTheAttributeRecompilesNothingAndMovesTheDiagnostics()
    {
        Project p = Create();
        int LineOfA(GeneratorRunResult r) => r.Diagnostics.Single(d => d.Id == "BBCU032" && d.GetMessage().Contains("TestModels.A", StringComparison.Ordinal))
            .Location.GetLineSpan().StartLinePosition.Line;
        int before = LineOfA(p.Driver.GetRunResult().Results.Single());
        SyntaxTree tree = p.Compilation.SyntaxTrees.Single();
        p.Compilation = p.Compilation.ReplaceSyntaxTree(tree, CSharpSyntaxTree.ParseText("// a comment\n// and another\n" + TwoModels, (CSharpParseOptions)tree.Options, path: tree.FilePath));
        GeneratorRunResult run = p.Run();
        AssertCached(run, BbcuGenerator.RequestStep);
        AssertModelsNotRecompiled(run);
        Assert.Equal(before + 2, LineOfA(run));
    }

    /// <summary>Editing the attributed class's body (not the attribute) keeps the models cached.</summary>
    [Fact]
    public void EditingTheAttributedClassBodyRecompilesNothing()
    {
        Project p = Create();
        SyntaxTree tree = p.Compilation.SyntaxTrees.Single();
        p.Compilation = p.Compilation.ReplaceSyntaxTree(tree, CSharpSyntaxTree.ParseText(
            TwoModels.Replace("public static partial class A { }", "public static partial class A { public static int Extra => 1; }"), (CSharpParseOptions)tree.Options, path: tree.FilePath));
        AssertModelsNotRecompiled(p.Run());
    }

    [Fact]
    public void AnEditOfAnUnrelatedAdditionalFileReadsAndRecompilesNothing()
    {
        Project p = Create();
        AdditionalText notes = p.Text("notes.txt");
        File.WriteAllText(notes.Path, "notes, edited");
        p.Replace(notes, new FileText(notes.Path));
        GeneratorRunResult run = p.Run();
        AssertCached(run, BbcuGenerator.FileStep); // no model file was read again
        AssertCached(run, BbcuGenerator.ResolveStep);
        AssertModelsNotRecompiled(run);
    }

    /// <summary>The IDE may hand the generator new AdditionalText objects for files whose contents did not change.</summary>
    [Fact]
    public void RecreatedAdditionalTextsWithTheSameContentsRecompileNothing()
    {
        Project p = Create();
        foreach (AdditionalText t in p.Texts.ToList())
            p.Replace(t, new FileText(t.Path));
        GeneratorRunResult run = p.Run();
        AssertCached(run, BbcuGenerator.InputsStep);
        AssertModelsNotRecompiled(run);
    }

    /// <summary>A changed weights file re-generates its model, and only its model.</summary>
    [Fact]
    public void AChangedWeightsFileRegeneratesThatModelAlone()
    {
        Project p = Create();
        string dataOfA() => p.Driver.GetRunResult().Results.Single().GeneratedSources.Single(s => s.HintName == "TestModels.A.Bbcu.Data.g.cs").SourceText.ToString();
        string before = dataOfA();
        AdditionalText weights = p.Text("a/model.safetensors");
        SafetensorsIo.Scale(weights.Path, 0.5f);
        p.Replace(weights, new FileText(weights.Path));
        GeneratorRunResult run = p.Run();
        var reasons = Reasons(run, BbcuGenerator.CompileStep);
        Assert.Equal(1, reasons.Count(r => r == IncrementalStepRunReason.Modified));   // A
        Assert.Equal(1, reasons.Count(r => r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged)); // B
        Assert.NotEqual(before, dataOfA());
    }

    /// <summary>
    /// The weights of a <c>&lt;BbcuModel&gt;</c> item are no AdditionalFiles item: the hash MSBuild passes with
    /// the JSON decides when they are read again. Same hash (a rebuild, re-created AdditionalTexts): nothing
    /// is read or compiled again; new hash: that model alone re-generates, from the new bytes.
    /// </summary>
    [Fact]
    public void ABbcuModelItemsWeightsAreReadAgainWhenTheirHashChanges()
    {
        Project p = Create("""
            using Bbcu;
            namespace TestModels;
            [BbcuModel("a/model.json")]
            public static partial class A { }
            [BbcuModel("b/model.json", "b/model.safetensors")]
            public static partial class B { }
            """);
        // A becomes <BbcuModel Include="a/model.json" />: its weights leave the AdditionalFiles.
        AdditionalText weightsItem = p.Text("a/model.safetensors");
        string json = p.Text("a/model.json").Path, weights = weightsItem.Path;
        p.Texts.Remove(weightsItem);
        p.Driver = p.Driver.RemoveAdditionalTexts(System.Collections.Immutable.ImmutableArray.Create(weightsItem))
            .WithUpdatedAnalyzerConfigOptions(new ItemMetadata().Model(json, weights));
        GeneratorRunResult first = p.Run();
        Assert.Empty(first.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
        Assert.Equal(4, first.GeneratedSources.Length);
        string dataOfA() => p.Driver.GetRunResult().Results.Single().GeneratedSources.Single(s => s.HintName == "TestModels.A.Bbcu.Data.g.cs").SourceText.ToString();
        string before = dataOfA();

        foreach (AdditionalText t in p.Texts.ToList())
            p.Replace(t, new FileText(t.Path));
        p.Driver = p.Driver.WithUpdatedAnalyzerConfigOptions(new ItemMetadata().Model(json, weights));
        GeneratorRunResult same = p.Run();
        AssertCached(same, BbcuGenerator.FileStep);
        AssertModelsNotRecompiled(same);

        SafetensorsIo.Scale(weights, 0.5f);
        p.Driver = p.Driver.WithUpdatedAnalyzerConfigOptions(new ItemMetadata().Model(json, weights));
        GeneratorRunResult changed = p.Run();
        var reasons = Reasons(changed, BbcuGenerator.CompileStep);
        Assert.Equal(1, reasons.Count(r => r == IncrementalStepRunReason.Modified));   // A
        Assert.Equal(1, reasons.Count(r => r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged)); // B
        Assert.NotEqual(before, dataOfA());
    }

    /// <summary>A changed model JSON re-generates too (here: a new model name, so the code file changes).</summary>
    [Fact]
    public void AChangedModelFileRegenerates()
    {
        Project p = Create();
        AdditionalText json = p.Text("b/model.json");
        string text = File.ReadAllText(json.Path);
        var name = new System.Text.RegularExpressions.Regex("\"name\"\\s*:\\s*\"[^\"]*\"", System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1));
        string renamed = name.Replace(text, "\"name\": \"renamed_model\"", 1);
        Assert.NotEqual(text, renamed);
        File.WriteAllText(json.Path, renamed);
        p.Replace(json, new FileText(json.Path));
        GeneratorRunResult run = p.Run();
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(run, BbcuGenerator.CompileStep));
        Assert.Contains("renamed_model", run.GeneratedSources.Single(s => s.HintName == "TestModels.B.Bbcu.g.cs").SourceText.ToString());
    }
}
