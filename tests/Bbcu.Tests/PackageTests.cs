using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Runtime.InteropServices;
using System.Xml.Linq;
using Bbcu.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// What a user does with the NuGet package: `dotnet pack` the BbcuCompiler package into a local folder
/// feed, `dotnet new console` a project in a temp folder, `dotnet add package BbcuCompiler` from that
/// feed alone (a nuget.config that clears every other source, and a private NUGET_PACKAGES folder so
/// no cached copy of the same version is used), register a model with one <c>&lt;BbcuModel&gt;</c> item and
/// the one-argument attribute next to an analyzer that reads every AdditionalFiles item as text, build
/// with no warning, run, compare with PyTorch, edit the weights and rebuild. Also checks the package
/// layout, its build targets and that EmitCompilerGeneratedFiles shows the generated source.
/// Filter: <c>dotnet test --filter Category=ConsumerBuild</c>.
/// </summary>
[Trait("Category", "ConsumerBuild")]
[Collection(ConsumerBuildTests.Collection)]
public sealed class PackageTests
{
    private const int TimeoutMs = 300_000;
    private readonly ITestOutputHelper _out;

    public PackageTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void NewConsoleProjectConsumesThePackageFromALocalFeed()
    {
        const string fixture = "dncnn_c3_nc16_nb6";
        string dir = Repo.TempFolder("package");
        string feed = Directory.CreateDirectory(Path.Combine(dir, "feed")).FullName;
        var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(dir, "nuget-packages") };
        BuildResult Dotnet(string workDir, params string[] args)
        {
            BuildResult r = DotnetCli.Run(workDir, TimeoutMs, env, args);
            _out.WriteLine($"dotnet {string.Join(' ', args)}: exit {r.ExitCode} in {r.Elapsed.TotalSeconds:F1} s");
            Assert.True(r.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed:\n{r.Output}");
            return r;
        }

        // 1. Pack, from the build the test run already made (same configuration as this test assembly).
        string configuration = new DirectoryInfo(Path.GetDirectoryName(typeof(PackageTests).Assembly.Location)!).Parent!.Name;
        Dotnet(Repo.Path(), "pack", Repo.Path("src", "Package", "BbcuCompiler.csproj"), "-c", configuration, "--no-build", "-o", feed, "-nologo");
        string nupkg = Directory.GetFiles(feed, "BbcuCompiler.*.nupkg").Single();
        using (ZipArchive zip = ZipFile.OpenRead(nupkg))
        {
            string[] entries = zip.Entries.Select(e => e.FullName).ToArray();
            _out.WriteLine("package: " + string.Join(", ", entries));
            foreach (string want in new[] { "analyzers/dotnet/cs/Bbcu.Generator.dll", "lib/net10.0/Bbcu.Runtime.dll", "lib/net10.0/Bbcu.Attributes.dll",
                         "lib/net10.0/Bbcu.Runtime.xml", "build/BbcuCompiler.targets", "buildTransitive/BbcuCompiler.targets", "README.md", "LICENSE", "icon.png" })
                Assert.Contains(want, entries);
            Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && e.Contains("Generator", StringComparison.Ordinal));
            XDocument nuspec = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
            XNamespace ns = nuspec.Root!.Name.Namespace;
            XElement meta = nuspec.Root.Element(ns + "metadata")!;
            Assert.Equal("BbcuCompiler", meta.Element(ns + "id")!.Value);
            Assert.Equal("README.md", meta.Element(ns + "readme")!.Value);
            Assert.Equal("MIT", meta.Element(ns + "license")!.Value);
            Assert.False(string.IsNullOrWhiteSpace(meta.Element(ns + "description")!.Value));
            Assert.Equal("icon.png", meta.Element(ns + "icon")!.Value);
            Assert.StartsWith("https://", meta.Element(ns + "projectUrl")!.Value);
            Assert.StartsWith("0.1.0", meta.Element(ns + "releaseNotes")!.Value);
            Assert.Empty(meta.Descendants(ns + "dependency")); // everything travels inside the package
            // The packed analyzer loads in the oldest supported compiler (Roslyn 5.0, SDK 10.0.1xx).
            using (var analyzer = new MemoryStream())
            {
                using (Stream s = zip.GetEntry("analyzers/dotnet/cs/Bbcu.Generator.dll")!.Open()) s.CopyTo(analyzer);
                analyzer.Position = 0;
                AnalyzerReferences.AssertLoadsInRoslynFloor(analyzer, "the packed analyzers/dotnet/cs/Bbcu.Generator.dll");
            }
        }
        string version = Path.GetFileNameWithoutExtension(nupkg)["BbcuCompiler.".Length..];

        // 2. A fresh console app that sees only the local feed.
        string root = Directory.CreateDirectory(Path.Combine(dir, "user")).FullName;
        File.WriteAllText(Path.Combine(root, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(root, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(root, "Directory.Packages.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(root, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        Dotnet(root, "new", "console", "-o", "App", "--framework", "net10.0");
        string app = Path.Combine(root, "App");
        Dotnet(app, "add", "package", "BbcuCompiler", "--version", version);
        string csproj = Path.Combine(app, "App.csproj");
        string project = File.ReadAllText(csproj);
        Assert.Contains("<PackageReference Include=\"BbcuCompiler\"", project);
        // One <BbcuModel> item (the weights default to models/denoise.safetensors) next to another analyzer
        // that reads every AdditionalFiles item as text. ListWeights=true adds the weights as a plain
        // AdditionalFiles item, which that analyzer must then trip on (CS2015): proof that it runs.
        string textReader = TextReadingAnalyzer(dir);
        File.WriteAllText(csproj, project.Replace("</Project>", $"""
              <PropertyGroup>
                <EmitCompilerGeneratedFiles>true</EmitCompilerGeneratedFiles>
              </PropertyGroup>
              <ItemGroup>
                <BbcuModel Include="models/denoise.json" Weights="$(DenoiseWeights)" />
                <Analyzer Include="{textReader}" />
              </ItemGroup>
              <ItemGroup Condition="'$(ListWeights)' == 'true'">
                <AdditionalFiles Include="models/denoise.safetensors" />
              </ItemGroup>
            </Project>
            """));
        Directory.CreateDirectory(Path.Combine(app, "models"));
        File.Copy(Repo.Path("tests", "fixtures", fixture, "model.json"), Path.Combine(app, "models", "denoise.json"));
        File.Copy(Repo.Path("tests", "fixtures", fixture, "model.safetensors"), Path.Combine(app, "models", "denoise.safetensors"));
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Runtime.InteropServices;

            // App <input.f32> <width> <height> <output.f32>: raw little-endian float32 planes, CHW.
            float[] input = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(args[0])).ToArray();
            int width = int.Parse(args[1]), height = int.Parse(args[2]);
            var output = new float[Denoiser.OutputChannels * width * height];
            var workspace = Denoiser.CreateWorkspace(width, height);
            Denoiser.Run(input, width, height, output, workspace);
            File.WriteAllBytes(args[3], MemoryMarshal.AsBytes(output.AsSpan()).ToArray());
            Console.WriteLine($"{Denoiser.ModelName}: {Denoiser.LayerCount} layers");

            [Bbcu.BbcuModel("denoise.json")]
            public static partial class Denoiser { }
            """);

        // 3. Build: no warnings, and the generated source is on disk. (First the control: with the weights
        //    as an AdditionalFiles item the text-reading analyzer fails the build.)
        string[] build = { "build", "-nologo", "-tl:off", "-v:minimal", "-p:UseSharedCompilation=false" };
        BuildResult control = DotnetCli.Run(app, TimeoutMs, env, build.Append("-p:ListWeights=true").ToArray());
        Assert.True(control.ExitCode != 0 && control.Output.Contains("error CS2015", StringComparison.Ordinal),
            $"the text-reading analyzer did not run (no CS2015 with the weights as an AdditionalFiles item):\n{control.Output}");
        BuildResult built = Dotnet(app, build);
        Assert.Matches(@"(?m)^\s*0 Warning\(s\)", built.Output);
        Assert.DoesNotContain("CS2015", built.Output);
        string generated = Path.Combine(app, "obj", "Debug", "net10.0", "generated", "Bbcu.Generator", "Bbcu.Generator.BbcuGenerator");
        Assert.True(Directory.Exists(generated), $"EmitCompilerGeneratedFiles did not write {generated}");
        string[] sources = Directory.GetFiles(generated, "*.g.cs");
        Assert.NotEmpty(sources);
        Assert.Contains(sources, f => File.ReadAllText(f).Contains("static partial class Denoiser", StringComparison.Ordinal));

        // 3b. The package's build targets: a Native AOT build for x64 without IlcInstructionSet gets BBCU040
        //     with the fix; with an instruction set, or the warning turned off, it gets nothing. (Only the
        //     target runs: a real AOT restore would need nuget.org, which this feed-only app cannot see.)
        string[] check = { "msbuild", "App.csproj", "-t:BbcuCheckAotInstructionSet", "-nologo", "-p:PublishAot=true", "-p:RuntimeIdentifier=linux-x64" };
        BuildResult aot = Dotnet(app, check);
        Assert.Contains("warning BBCU040", aot.Output);
        Assert.Contains("<IlcInstructionSet>x86-64-v3</IlcInstructionSet>", aot.Output);
        Assert.DoesNotContain("BBCU040", Dotnet(app, check.Append("-p:IlcInstructionSet=x86-64-v3").ToArray()).Output);
        Assert.DoesNotContain("BBCU040", Dotnet(app, check.Append("-p:BbcuAotInstructionSetWarning=false").ToArray()).Output);
        Assert.DoesNotContain("BBCU040", Dotnet(app, check[..^1].Append("-p:RuntimeIdentifier=linux-arm64").ToArray()).Output);

        // 4. Run it: the output equals PyTorch's.
        var io = SafetensorsIo.Read(Repo.Path("tests", "fixtures", fixture, "io.safetensors"));
        int[] shape = io["input"].Shape;
        int w = shape[3], h = shape[2];
        string inPath = Path.Combine(dir, "input.f32"), outPath = Path.Combine(dir, "output.f32");
        File.WriteAllBytes(inPath, MemoryMarshal.AsBytes(io["input"].AsFloats().AsSpan()).ToArray());
        float[] RunApp()
        {
            BuildResult run = Dotnet(app, Path.Combine(app, "bin", "Debug", "net10.0", "App.dll"), inPath, w.ToString(), h.ToString(), outPath);
            _out.WriteLine(run.Output.Trim());
            return MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outPath)).ToArray();
        }
        float[] got = RunApp();
        double diff = Metrics.MaxAbsDiff(got, io["output"].AsFloats());
        _out.WriteLine($"package consumer vs PyTorch: max |diff| = {diff:E3}");
        Assert.True(diff <= 1e-5, $"the package consumer's output differs from PyTorch by {diff:E3}");

        // 5. Edit the weights (no AdditionalFiles item) and rebuild incrementally: the output changes.
        string weightsPath = Path.Combine(app, "models", "denoise.safetensors");
        SafetensorsIo.Scale(weightsPath, 0.5f);
        Assert.Matches(@"(?m)^\s*0 Warning\(s\)", Dotnet(app, build).Output);
        float[] edited = RunApp();
        Assert.True(Metrics.MaxAbsDiff(edited, got) > 1e-3, "editing the weights and rebuilding did not change the output");

        // 6. Weights="…" (relative to the project) names another file; a missing one is BBCU008 with the path.
        Directory.CreateDirectory(Path.Combine(app, "weights"));
        File.Copy(Repo.Path("tests", "fixtures", fixture, "model.safetensors"), Path.Combine(app, "weights", "v2.safetensors"));
        Assert.Matches(@"(?m)^\s*0 Warning\(s\)", Dotnet(app, build.Append("-p:DenoiseWeights=weights/v2.safetensors").ToArray()).Output);
        Assert.True(Metrics.MaxAbsDiff(RunApp(), got) == 0, "Weights=\"weights/v2.safetensors\" (the original weights) did not give the original output");
        BuildResult missing = DotnetCli.Run(app, TimeoutMs, env, build.Append("-p:DenoiseWeights=weights/v3.safetensors").ToArray());
        Assert.True(missing.ExitCode != 0, "a <BbcuModel> item whose weights are missing built");
        Assert.Contains("error BBCU008: The weights file '" + Path.Combine(app, "weights", "v3.safetensors") + "'", missing.Output);
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Another analyzer a project may well have: it reads every AdditionalFiles item as text (and warns
    /// when one has none). Compiled here against the test's own Roslyn, as a file the app references.
    /// </summary>
    private static string TextReadingAnalyzer(string dir)
    {
        const string source = """
            using System.Collections.Immutable;
            using Microsoft.CodeAnalysis;
            using Microsoft.CodeAnalysis.Diagnostics;

            [DiagnosticAnalyzer(LanguageNames.CSharp)]
            public sealed class ReadsEveryAdditionalFile : DiagnosticAnalyzer
            {
                private static readonly DiagnosticDescriptor NoText = new("TXT001", "No text", "'{0}' has no text", "Test",
                    DiagnosticSeverity.Warning, isEnabledByDefault: true, customTags: WellKnownDiagnosticTags.CompilationEnd);

                public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(NoText);

                public override void Initialize(AnalysisContext context)
                {
                    context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
                    context.EnableConcurrentExecution();
                    context.RegisterCompilationAction(c =>
                    {
                        foreach (AdditionalText file in c.Options.AdditionalFiles)
                            if (file.GetText(c.CancellationToken) is null)
                                c.ReportDiagnostic(Diagnostic.Create(NoText, Location.None, file.Path));
                    });
                }
            }
            """;
        string path = Path.Combine(Directory.CreateDirectory(Path.Combine(dir, "analyzer")).FullName, "TextReader.dll");
        var compilation = Microsoft.CodeAnalysis.CSharp.CSharpCompilation.Create("TextReader",
            new[] { Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText(source) },
            GeneratorHarness.CreateCompilation().References,
            new Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions(Microsoft.CodeAnalysis.OutputKind.DynamicallyLinkedLibrary));
        Microsoft.CodeAnalysis.Emit.EmitResult emitted;
        using (FileStream file = File.Create(path)) emitted = compilation.Emit(file);
        Assert.True(emitted.Success, "the text-reading analyzer did not compile:\n" + string.Join("\n", emitted.Diagnostics));
        return path;
    }
}
