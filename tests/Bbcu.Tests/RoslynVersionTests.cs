using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Bbcu.Generator;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Emit;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// The generator must load in the compiler of every supported SDK (.NET 10.0.100 and later). A compiler
/// older than the Roslyn a generator references skips the generator with only warning CS9057, and the
/// user then sees CS0117 on every use of the model class. So the analyzer may reference nothing newer
/// than what the oldest supported compiler (Roslyn 5.0, SDK 10.0.1xx) ships. These tests read the
/// analyzer's references from its metadata (nothing is loaded) and check that the driver tests really
/// run against the Roslyn they claim (this file is compiled into Bbcu.Tests, which runs against this
/// machine's compiler, and into Bbcu.Tests.Roslyn50, which runs against Roslyn 5.0.0).
/// </summary>
public sealed class RoslynVersionTests
{
    private readonly ITestOutputHelper _out;

    public RoslynVersionTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void GeneratorAssemblyReferencesNothingNewerThanRoslyn50()
    {
        string path = typeof(BbcuGenerator).Assembly.Location;
        using (FileStream s = File.OpenRead(path))
            foreach (AssemblyName r in AnalyzerReferences.Read(s))
                _out.WriteLine($"{r.Name} {r.Version}");
        using FileStream f = File.OpenRead(path);
        AnalyzerReferences.AssertLoadsInRoslynFloor(f, path);
    }

    [Fact]
    public void TheFloorCheckSeesANewerRoslynAndAnUnshippedAssembly()
    {
        // What the generator referenced when it was built against Roslyn 5.9 and System.Text.Json 10.
        var refs = new[]
        {
            new AssemblyName("netstandard") { Version = new Version(2, 0, 0, 0) },
            new AssemblyName("Microsoft.CodeAnalysis") { Version = new Version(5, 9, 0, 0) },
            new AssemblyName("Microsoft.CodeAnalysis.CSharp") { Version = new Version(5, 0, 0, 0) },
            new AssemblyName("System.Collections.Immutable") { Version = new Version(10, 0, 0, 0) },
            new AssemblyName("System.Text.Json") { Version = new Version(10, 0, 0, 0) },
        };
        IReadOnlyList<string> bad = AnalyzerReferences.AboveTheFloor(refs);
        Assert.Equal(3, bad.Count);
        Assert.StartsWith("Microsoft.CodeAnalysis 5.9.0.0: newer than 5.0.0.0", bad[0]);
        Assert.StartsWith("System.Collections.Immutable 10.0.0.0: newer than 9.0.0.0", bad[1]);
        Assert.StartsWith("System.Text.Json 10.0.0.0: not shipped", bad[2]);
    }

    [Fact]
    public void DriverTestsRunAgainstTheRoslynTheirProjectNames()
    {
        string expected = typeof(RoslynVersionTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ExpectedRoslyn").Value!;
        Version want = Version.Parse(expected + ".0");
        Version common = typeof(Compilation).Assembly.GetName().Version!;
        Version csharp = typeof(CSharpCompilation).Assembly.GetName().Version!;
        _out.WriteLine($"Microsoft.CodeAnalysis {common} from {typeof(Compilation).Assembly.Location}");
        _out.WriteLine($"Microsoft.CodeAnalysis.CSharp {csharp} from {typeof(CSharpCompilation).Assembly.Location}");
        Assert.Equal(want, common);
        Assert.Equal(want, csharp);
#if BBCU_ROSLYN_FLOOR
        Assert.Equal(new Version(5, 0, 0, 0), csharp);
#endif
    }

    /// <summary>
    /// Roslyn's own analyzer loader (the one the compiler uses, with its CS9057 "references a newer
    /// compiler" check) loads the generator from its file, finds exactly our generator, and that instance
    /// compiles a model. In Bbcu.Tests.Roslyn50 this is the Roslyn 5.0 loader of the 10.0.1xx SDK.
    /// </summary>
    [Fact]
    public void RoslynsAnalyzerLoaderTakesTheGeneratorAndItCompilesAModel()
    {
        string dir = Repo.TempFolder("analyzer");
        string path = Path.Combine(dir, "Bbcu.Generator.dll");
        File.Copy(typeof(BbcuGenerator).Assembly.Location, path);
        var reference = new AnalyzerFileReference(path, new IsolatedLoader());
        var failures = new List<AnalyzerLoadFailureEventArgs>();
        reference.AnalyzerLoadFailed += (_, e) => failures.Add(e);
        ImmutableArray<ISourceGenerator> generators = reference.GetGenerators(LanguageNames.CSharp);
        Assert.True(failures.Count == 0, "Roslyn refused the generator: " + string.Join("; ", failures.Select(f => $"{f.ErrorCode}: {f.Message}")));
        ISourceGenerator generator = Assert.Single(generators);
        Assert.Equal("Bbcu.Generator.BbcuGenerator", generator.GetGeneratorType().FullName);
        Assert.NotSame(typeof(BbcuGenerator).Assembly, generator.GetGeneratorType().Assembly); // the file, not the test's copy

        string fixture = Repo.Path("tests", "fixtures", "dncnn_c3_nc16_nb6");
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { generator },
            new[] { new FileText(Path.Combine(fixture, "model.json")), new FileText(Path.Combine(fixture, "model.safetensors")) },
            new CSharpParseOptions(LanguageVersion.Latest));
        driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.CreateCompilation(GeneratorHarness.DefaultSource),
            out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        Assert.DoesNotContain(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.NotNull(output.GetTypeByMetadataName("TestModels.Model")?.GetMembers("Run").FirstOrDefault());
    }

    /// <summary>
    /// The same loader refuses a generator that references a newer Microsoft.CodeAnalysis than the one
    /// running (here 99.0.0.0): what a user on an older SDK saw when we referenced Roslyn 5.9. Shows that
    /// the test above can fail.
    /// </summary>
    [Fact]
    public void RoslynsAnalyzerLoaderRefusesAGeneratorBuiltForANewerCompiler()
    {
        string dir = Repo.TempFolder("analyzer");
        static string Emit(string dir, string name, string source, params MetadataReference[] refs)
        {
            string path = Path.Combine(dir, name + ".dll");
            EmitResult r = CSharpCompilation.Create(name, new[] { CSharpSyntaxTree.ParseText(source) },
                    refs.Append(MetadataReference.CreateFromFile(typeof(object).Assembly.Location)),
                    new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary))
                .Emit(path);
            Assert.True(r.Success, string.Join("\n", r.Diagnostics));
            return path;
        }
        // A stand-in Microsoft.CodeAnalysis 99.0 with the one attribute a generator needs to be found.
        string future = Emit(Directory.CreateDirectory(Path.Combine(dir, "future")).FullName, "Microsoft.CodeAnalysis", """
            [assembly: System.Reflection.AssemblyVersion("99.0.0.0")]
            namespace Microsoft.CodeAnalysis
            {
                [System.AttributeUsage(System.AttributeTargets.Class)]
                public sealed class GeneratorAttribute : System.Attribute
                {
                    public GeneratorAttribute() { }
                    public GeneratorAttribute(string language, params string[] others) { }
                }
            }
            """);
        string analyzer = Emit(dir, "FutureGenerator", """
            [Microsoft.CodeAnalysis.Generator]
            public sealed class FutureGenerator { }
            """, MetadataReference.CreateFromFile(future));

        var reference = new AnalyzerFileReference(analyzer, new IsolatedLoader());
        var failures = new List<AnalyzerLoadFailureEventArgs>();
        reference.AnalyzerLoadFailed += (_, e) => failures.Add(e);
        ImmutableArray<ISourceGenerator> generators = reference.GetGenerators(LanguageNames.CSharp);
        Assert.Empty(generators);
        Assert.Contains(failures, f => f.ErrorCode == AnalyzerLoadFailureEventArgs.FailureErrorCode.ReferencesNewerCompiler);
    }

    /// <summary>Loads each analyzer file into its own context; Microsoft.CodeAnalysis resolves to the running one, as in the compiler.</summary>
    private sealed class IsolatedLoader : IAnalyzerAssemblyLoader
    {
        public void AddDependencyLocation(string fullPath) { }

        public Assembly LoadFromPath(string fullPath) =>
            new AssemblyLoadContext("analyzer-" + Guid.NewGuid().ToString("N"), isCollectible: true).LoadFromAssemblyPath(fullPath);
    }
}
