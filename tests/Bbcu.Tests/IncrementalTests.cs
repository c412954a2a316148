using System.Linq;
using Bbcu.Generator;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Bbcu.Tests;

/// <summary>The generator's tracked steps are cached when nothing the model depends on changes.</summary>
public sealed class IncrementalTests
{
    [Fact]
    public void UnrelatedEditLeavesStepsCachedOrUnchanged()
    {
        string folder = Repo.Path("tests", "fixtures", "dncnn_g1_nc8_nb3_1x1");
        var files = new AdditionalText[] { new FileText(System.IO.Path.Combine(folder, "model.json")), new FileText(System.IO.Path.Combine(folder, "model.safetensors")) };
        var compilation = GeneratorHarness.CreateCompilation(GeneratorHarness.DefaultSource);
        var first = GeneratorHarness.Run(compilation, GeneratorHarness.CreateDriver(files));
        Assert.Equal(2, first.RunResult.GeneratedTrees.Length); // code and data

        // An unrelated edit: a new file with a new type.
        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Other; public static class Unrelated { public static int Answer => 42; }",
            new CSharpParseOptions(LanguageVersion.Latest), path: "Unrelated.cs"));
        var second = GeneratorHarness.Run(edited, first.Driver);
        var steps = second.RunResult.Results.Single().TrackedSteps;
        foreach (string step in new[] { BbcuGenerator.RequestStep, BbcuGenerator.CompileStep })
        {
            Assert.True(steps.ContainsKey(step), $"step {step} not tracked");
            var reasons = steps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
            Assert.NotEmpty(reasons);
            Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
        }
        var outputs = second.RunResult.Results.Single().TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.NotEmpty(outputs);
        Assert.All(outputs, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"output: {r}"));
    }

    [Fact]
    public void EditingTheAttributedClassBodyKeepsTheCompiledModelCached()
    {
        string folder = Repo.Path("tests", "fixtures", "dncnn_g1_nc8_nb3_1x1");
        var files = new AdditionalText[] { new FileText(System.IO.Path.Combine(folder, "model.json")), new FileText(System.IO.Path.Combine(folder, "model.safetensors")) };
        var compilation = GeneratorHarness.CreateCompilation(GeneratorHarness.DefaultSource);
        var first = GeneratorHarness.Run(compilation, GeneratorHarness.CreateDriver(files));
        var tree = compilation.SyntaxTrees.Single();
        var changed = compilation.ReplaceSyntaxTree(tree, CSharpSyntaxTree.ParseText(
            GeneratorHarness.DefaultSource + "\nnamespace TestModels { public static class Helper { } }", (CSharpParseOptions)tree.Options, path: tree.FilePath));
        var second = GeneratorHarness.Run(changed, first.Driver);
        var compileReasons = second.RunResult.Results.Single().TrackedSteps[BbcuGenerator.CompileStep].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.NotEmpty(compileReasons);
        Assert.All(compileReasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{r}"));
    }
}
