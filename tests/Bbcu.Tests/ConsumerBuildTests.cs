using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Bbcu.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>Runs the consumer-build tests alone: each one starts real <c>dotnet build</c> processes.</summary>
[CollectionDefinition(ConsumerBuildTests.Collection, DisableParallelization = true)]
public sealed class ConsumerBuildCollection
{
}

/// <summary>
/// End-to-end tests through the real SDK: a small console project in a temp folder (outside the
/// repository, so no Directory.Build.props of ours applies) references the generator as an
/// <c>&lt;Analyzer&gt;</c> and the runtime and attributes as plain <c>&lt;Reference&gt;</c>s, names a fixture's
/// model as <c>AdditionalFiles</c>, and is built with <c>dotnet build</c> and run with <c>dotnet</c>.
/// They check what the in-process generator tests cannot: no CS2015 (binary AdditionalFile), CS8785
/// (generator failed to load) or CS9057 (generator built against a newer Roslyn) in a real build; the
/// weights' exact bytes reach the generated code; an edit to the weights file re-runs the generator
/// in an incremental build; and a broken weights file fails the build with BBCU024.
/// Filter: <c>dotnet test --filter Category=ConsumerBuild</c>.
/// </summary>
[Trait("Category", "ConsumerBuild")]
[Collection(Collection)]
public sealed class ConsumerBuildTests
{
    public const string Collection = "ConsumerBuild";

    /// <summary>Diagnostic ids that must never appear in a consumer's build of a valid model.</summary>
    private static readonly string[] ForbiddenIds = { "BBCU", "CS2015", "CS8785", "CS9057", "CS8784", "AD0001" };

    private readonly ITestOutputHelper _out;

    public ConsumerBuildTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void ValidModelBuildsCleanlyRunsExactlyAndFollowsWeightEdits()
    {
        const string fixture = "dncnn_c3_nc16_nb6";
        using var project = ConsumerProject.Create(fixture, _out);
        var (input, width, height, expected) = project.LoadIo();

        // 1. A clean build: exit 0, no warning at all, none of our ids or the compiler's generator/binary-file errors.
        BuildResult first = project.Build();
        Assert.True(first.ExitCode == 0, "the consumer build failed:\n" + first.Output);
        AssertClean(first);
        Assert.Matches(@"(?m)^\s*0 Warning\(s\)", first.Output);
        Assert.Matches(@"(?m)^\s*0 Error\(s\)", first.Output);
        byte[] firstDll = project.AssemblyHash();

        // 2. The program's output equals PyTorch's: the weights' bytes were read exactly.
        float[] original = project.RunModel(input, width, height);
        Assert.Equal(expected.Length, original.Length);
        double diff = Metrics.MaxAbsDiff(original, expected);
        _out.WriteLine($"built program vs PyTorch: max |diff| = {diff:E3}");
        Assert.True(diff <= 1e-5, $"the built program differs from PyTorch by {diff:E3}");

        // 3. Flip the sign of every weight of the tail conv (a valid file of the same size) and rebuild incrementally.
        byte[] originalWeights = File.ReadAllBytes(project.WeightsPath);
        string tail = LastConvWeight(project.ModelJson);
        byte[] edited = FlipSigns(originalWeights, tail);
        File.WriteAllBytes(project.WeightsPath, edited);
        BuildResult second = project.Build();
        Assert.True(second.ExitCode == 0, "the build after editing the weights failed:\n" + second.Output);
        AssertClean(second);
        Assert.False(project.AssemblyHash().AsSpan().SequenceEqual(firstDll),
            "the consumer assembly did not change after the weights file was edited: the incremental build did not re-run the generator");
        float[] changed = project.RunModel(input, width, height);
        double change = Metrics.MaxAbsDiff(changed, original);
        _out.WriteLine($"after flipping '{tail}': max |output change| = {change:E3}");
        Assert.True(change > 1e-2, $"editing the weights changed the output by only {change:E3}");
        // The new output is the edited model's, not just different: check it against the independent interpreter.
        var reference = new ReferenceModel(project.ModelJson, SafetensorsIo.Read(edited));
        double[] want = reference.Run(input.Select(v => (double)v).ToArray(), width, height, out _);
        double refDiff = Metrics.MaxAbsDiff(changed, want.Select(v => (float)v).ToArray());
        _out.WriteLine($"edited build vs reference interpreter on the edited weights: max |diff| = {refDiff:E3}");
        Assert.True(refDiff <= 1e-4, $"the rebuilt program differs from the reference on the edited weights by {refDiff:E3}");

        // Revert: the output (and, the build being deterministic, the assembly) is the original again.
        File.WriteAllBytes(project.WeightsPath, originalWeights);
        BuildResult third = project.Build();
        Assert.True(third.ExitCode == 0, "the build after reverting the weights failed:\n" + third.Output);
        AssertClean(third);
        float[] reverted = project.RunModel(input, width, height);
        Assert.True(reverted.AsSpan().SequenceEqual(original), "the output after reverting the weights differs from the original output");
        bool sameDll = project.AssemblyHash().AsSpan().SequenceEqual(firstDll);
        _out.WriteLine($"assembly after revert identical to the first build: {sameDll}");
        project.Succeeded();
    }

    [Fact]
    public void TruncatedWeightsFailTheBuildWithBbcu024()
    {
        const string fixture = "dncnn_g1_nc8_nb3_1x1";
        using var project = ConsumerProject.Create(fixture, _out);
        var (input, width, height, expected) = project.LoadIo();
        byte[] good = File.ReadAllBytes(project.WeightsPath);
        File.WriteAllBytes(project.WeightsPath, good.AsSpan(0, good.Length / 2).ToArray());

        BuildResult broken = project.Build();
        Assert.True(broken.ExitCode != 0, "the build of a consumer with a truncated weights file succeeded:\n" + broken.Output);
        List<string> bbcu024 = broken.Lines.Where(l => l.Contains("error BBCU024", StringComparison.Ordinal)).Distinct().ToList();
        Assert.True(bbcu024.Count > 0, "no BBCU024 error in the build output:\n" + broken.Output);
        // MSBuild's canonical form, located in the weights file itself: "<full path>(1,1): error BBCU024: model.safetensors: …".
        // (Matched on the folder's own name: a symlinked temp directory may print as its real path.)
        Assert.All(bbcu024, l => Assert.Matches(
            Regex.Escape(Path.DirectorySeparatorChar + Path.GetFileName(project.Dir) + Path.DirectorySeparatorChar + "model.safetensors") + @"\(\d+,\d+\): error BBCU024", l));
        Assert.All(bbcu024, l => Assert.Contains("BBCU024: model.safetensors: malformed safetensors file", l));
        Assert.DoesNotContain(broken.Lines, l => l.Contains("CS2015", StringComparison.Ordinal) || l.Contains("CS8785", StringComparison.Ordinal)
            || l.Contains("CS9057", StringComparison.Ordinal) || l.Contains("BBCU099", StringComparison.Ordinal));
        Assert.DoesNotContain(broken.Lines, l => Regex.IsMatch(l, @"\bwarning\b"));

        // Putting the good file back makes the next (incremental) build succeed and the program correct.
        File.WriteAllBytes(project.WeightsPath, good);
        BuildResult fixedBuild = project.Build();
        Assert.True(fixedBuild.ExitCode == 0, "the build after restoring the weights failed:\n" + fixedBuild.Output);
        AssertClean(fixedBuild);
        double diff = Metrics.MaxAbsDiff(project.RunModel(input, width, height), expected);
        Assert.True(diff <= 1e-5, $"the built program differs from PyTorch by {diff:E3}");
        project.Succeeded();
    }

    /// <summary>
    /// docs/snapshot-testing.md's recipe: generated files written into the project for a snapshot. Without
    /// <c>&lt;Compile Remove&gt;</c> the second build compiles them twice (CS0102); with it, every build is clean
    /// and the files on disk are the code and data files the generator made.
    /// </summary>
    [Fact]
    public void GeneratedFilesWrittenIntoTheProjectNeedTheRecipesCompileRemove()
    {
        using var project = ConsumerProject.Create("dncnn_g1_nc8_nb3_1x1", _out);
        project.AddToProject("""
              <PropertyGroup>
                <EmitCompilerGeneratedFiles>true</EmitCompilerGeneratedFiles>
                <CompilerGeneratedFilesOutputPath>Generated</CompilerGeneratedFilesOutputPath>
              </PropertyGroup>
            """);
        BuildResult first = project.Build();
        Assert.True(first.ExitCode == 0, "the first build failed:\n" + first.Output);
        string folder = Path.Combine(project.Dir, "Generated", "Bbcu.Generator", "Bbcu.Generator.BbcuGenerator");
        Assert.True(File.Exists(Path.Combine(folder, "Consumer.Model.Bbcu.g.cs")), $"no code file in {folder}");
        Assert.True(File.Exists(Path.Combine(folder, "Consumer.Model.Bbcu.Data.g.cs")), $"no data file in {folder}");
        BuildResult second = project.Build();
        Assert.True(second.ExitCode != 0 && second.Output.Contains("CS0102", StringComparison.Ordinal),
            "without <Compile Remove> the second build was expected to fail with CS0102:\n" + second.Output);

        project.AddToProject("""
              <ItemGroup>
                <Compile Remove="$(CompilerGeneratedFilesOutputPath)/**" />
              </ItemGroup>
            """);
        for (int i = 0; i < 2; i++)
        {
            BuildResult again = project.Build();
            Assert.True(again.ExitCode == 0, "a build with the recipe failed:\n" + again.Output);
            AssertClean(again);
        }
        var (input, width, height, expected) = project.LoadIo();
        Assert.True(Metrics.MaxAbsDiff(project.RunModel(input, width, height), expected) <= 1e-5);
        project.Succeeded();
    }

    private static void AssertClean(BuildResult build)
    {
        foreach (string line in build.Lines)
        {
            Assert.False(Regex.IsMatch(line, @"\bwarning\b", RegexOptions.IgnoreCase) && !Regex.IsMatch(line, @"^\s*0 Warning\(s\)"),
                "the consumer build printed a warning: " + line + "\n\nfull output:\n" + build.Output);
            foreach (string id in ForbiddenIds)
                Assert.False(line.Contains(id, StringComparison.Ordinal), $"the consumer build printed '{id}': {line}\n\nfull output:\n{build.Output}");
        }
    }

    private static string LastConvWeight(string modelJson)
    {
        using var doc = JsonDocument.Parse(modelJson);
        return doc.RootElement.GetProperty("nodes").EnumerateArray()
            .Where(n => n.GetProperty("op").GetString() == "conv2d")
            .Select(n => n.GetProperty("weight").GetString()!)
            .Last();
    }

    /// <summary>Flips the sign bit of every float of one F32 tensor; the file stays valid and the same size.</summary>
    private static byte[] FlipSigns(byte[] file, string tensor)
    {
        byte[] copy = (byte[])file.Clone();
        long n = BinaryPrimitives.ReadInt64LittleEndian(copy);
        using var doc = JsonDocument.Parse(copy.AsMemory(8, (int)n));
        JsonElement entry = doc.RootElement.GetProperty(tensor);
        Assert.Equal("F32", entry.GetProperty("dtype").GetString());
        long begin = entry.GetProperty("data_offsets")[0].GetInt64(), end = entry.GetProperty("data_offsets")[1].GetInt64();
        for (long i = 8 + n + begin + 3; i < 8 + n + end; i += 4) copy[i] ^= 0x80;
        return copy;
    }

    /// <summary>
    /// The README's PNG-to-PNG program, taken from the README as it is, in a project with a
    /// <c>&lt;BbcuModel&gt;</c> item and the image libraries it names: it fits in 25 lines, builds, and writes
    /// the PNG the model gives (colour model, and grey model on the colour photo through Y/Cb/Cr).
    /// </summary>
    [Theory]
    [InlineData("dncnn_c3_nc16_nb6")]
    [InlineData("dncnn_g1_nc8_nb3_1x1")]
    public void TheReadmesPngProgramBuildsAndRuns(string fixture)
    {
        string readme = File.ReadAllText(Repo.Path("README.md"));
        int at = readme.IndexOf("From an image file to an image file", StringComparison.Ordinal);
        Assert.True(at >= 0, "the README's PNG-to-PNG program is gone");
        int open = readme.IndexOf("```csharp", at, StringComparison.Ordinal), close = readme.IndexOf("```", open + 9, StringComparison.Ordinal);
        string[] lines = readme[(open + 9)..close].Split('\n').Select(l => l.StartsWith("   ", StringComparison.Ordinal) ? l[3..] : l)
            .SkipWhile(string.IsNullOrWhiteSpace).Reverse().SkipWhile(string.IsNullOrWhiteSpace).Reverse().ToArray();
        Assert.True(lines.Length <= 25, $"the README's program has {lines.Length} lines; it promises at most 25");

        using var project = ConsumerProject.Create(fixture, _out);
        File.Move(Path.Combine(project.Dir, "model.json"), Path.Combine(project.Dir, "denoise.json"));
        File.Move(Path.Combine(project.Dir, "model.safetensors"), Path.Combine(project.Dir, "denoise.safetensors"));
        File.WriteAllText(Path.Combine(project.Dir, "Program.cs"), string.Join("\n", lines) + "\n");
        string versions = File.ReadAllText(Repo.Path("Directory.Packages.props"));
        string Version(string id) => Regex.Match(versions, $"<PackageVersion Include=\"{id}\" Version=\"([^\"]+)\"").Groups[1].Value;
        string csproj = Path.Combine(project.Dir, "Consumer.csproj");
        File.WriteAllText(csproj, File.ReadAllText(csproj)
            .Replace("<AdditionalFiles Include=\"model.json\" />", "<BbcuModel Include=\"denoise.json\" />")
            .Replace("<AdditionalFiles Include=\"model.safetensors\" />", "")
            .Replace("<ImplicitUsings>disable</ImplicitUsings>", "<ImplicitUsings>enable</ImplicitUsings>"));
        project.AddToProject($"""
              <ItemGroup>
                <PackageReference Include="StbImageSharp" Version="{Version("StbImageSharp")}" />
                <PackageReference Include="StbImageWriteSharp" Version="{Version("StbImageWriteSharp")}" />
              </ItemGroup>
              <Import Project="{Repo.Path("src", "Package", "build", "BbcuCompiler.targets")}" />
            """);
        BuildResult build = project.Build();
        Assert.True(build.ExitCode == 0, "the README's program did not build:\n" + build.Output);
        Assert.Matches(@"(?m)^\s*0 Warning\(s\)", build.Output);

        string photo = Repo.Path("samples", "images", "astronaut.png"), written = Path.Combine(project.Dir, "restored.png");
        BuildResult run = DotnetCli.Run(project.Dir, 120_000, null, Path.Combine(project.Dir, "bin", "Debug", "net10.0", "Consumer.dll"), photo, written);
        Assert.True(run.ExitCode == 0, "the README's program failed:\n" + run.Output);

        // What it must have written: the same steps in-process with the same model.
        Type model = GeneratorHarness.RunFolder(Repo.Path("tests", "fixtures", fixture)).LoadModel();
        var image = Bbcu.Samples.Image8.LoadRgb(photo);
        int w = image.Width, h = image.Height, n = w * h;
        float[] rgb = image.ToPlanar();
        var runModel = GeneratorHarness.GetRun(model);
        if (GeneratorHarness.Constant<int>(model, "InputChannels") == 1)
        {
            BbcuPixels.RgbToYCbCr(rgb, rgb, n);
            runModel(rgb[..n], w, h, rgb.AsSpan(0, n));
            BbcuPixels.YCbCrToRgb(rgb, rgb, n);
        }
        else runModel(rgb.ToArray(), w, h, rgb);
        var expected = new byte[3 * n];
        BbcuPixels.FromPlanar(rgb, w, h, expected, BbcuPixelFormat.Rgb24);
        var got = Bbcu.Samples.Image8.LoadRgb(written);
        Assert.Equal((w, h), (got.Width, got.Height));
        Assert.True(expected.AsSpan().SequenceEqual(got.Data), "the README's program wrote another image than the model gives");
        Assert.False(expected.AsSpan().SequenceEqual(image.Data), "the model left the photo unchanged: this test would not see a broken program");
        project.Succeeded();
    }
}

/// <summary>A consumer console project in a temp folder, built and run with the real SDK.</summary>
internal sealed class ConsumerProject : IDisposable
{
    private const int TimeoutMs = 180_000;
    private readonly ITestOutputHelper _out;
    private readonly string _fixture;
    private bool _succeeded;

    private ConsumerProject(string dir, string fixture, ITestOutputHelper output)
    {
        Dir = dir;
        _fixture = fixture;
        _out = output;
    }

    public string Dir { get; }
    public string WeightsPath => Path.Combine(Dir, "model.safetensors");
    public string ModelJson => File.ReadAllText(Path.Combine(Dir, "model.json"));
    private string AssemblyPath => Path.Combine(Dir, "bin", "Debug", "net10.0", "Consumer.dll");

    public static ConsumerProject Create(string fixture, ITestOutputHelper output)
    {
        string dir = Repo.TempFolder("consumer");
        var project = new ConsumerProject(dir, fixture, output);

        // A snapshot of our assemblies: a concurrent build of the test project may rewrite the originals.
        string refs = Directory.CreateDirectory(Path.Combine(dir, "refs")).FullName;
        string Copy(Type t)
        {
            string to = Path.Combine(refs, Path.GetFileName(t.Assembly.Location));
            File.Copy(t.Assembly.Location, to);
            return to;
        }
        string generator = Copy(typeof(Bbcu.Generator.BbcuGenerator));
        string runtime = Copy(typeof(Bbcu.BbcuWorkspace));
        string attributes = Copy(typeof(Bbcu.BbcuModelAttribute));

        // Stop MSBuild's walk up the folders (the temp folder is outside the repository anyway).
        File.WriteAllText(Path.Combine(dir, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(dir, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(dir, "Directory.Packages.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(dir, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>disable</ImplicitUsings>
                <TreatWarningsAsErrors>false</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <Analyzer Include="{generator}" />
                <Reference Include="{runtime}" />
                <Reference Include="{attributes}" />
                <AdditionalFiles Include="model.json" />
                <AdditionalFiles Include="model.safetensors" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), """
            using System;
            using System.IO;
            using System.Runtime.InteropServices;

            // consumer <input.f32> <width> <height> <output.f32>: raw little-endian float32 planes, NCHW.
            float[] input = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(args[0])).ToArray();
            int width = int.Parse(args[1]), height = int.Parse(args[2]);
            if (input.Length != Consumer.Model.InputChannels * width * height)
                throw new ArgumentException($"input has {input.Length} floats, expected {Consumer.Model.InputChannels}×{width}×{height}");
            var output = new float[Consumer.Model.OutputChannels * width * height];
            Consumer.Model.Run(input, width, height, output);
            File.WriteAllBytes(args[3], MemoryMarshal.AsBytes(output.AsSpan()).ToArray());
            Console.WriteLine($"ran {Consumer.Model.InputChannels}->{Consumer.Model.OutputChannels} on {width}x{height}");

            namespace Consumer
            {
                [Bbcu.BbcuModel("model.json", "model.safetensors")]
                public static partial class Model { }
            }
            """);
        string source = Repo.Path("tests", "fixtures", fixture);
        foreach (string f in new[] { "model.json", "model.safetensors" })
            File.Copy(Path.Combine(source, f), Path.Combine(dir, f));
        output.WriteLine($"consumer project: {dir}");
        return project;
    }

    /// <summary>Adds MSBuild XML (property groups, item groups) to the end of the consumer's project file.</summary>
    public void AddToProject(string xml)
    {
        string path = Path.Combine(Dir, "Consumer.csproj");
        string text = File.ReadAllText(path);
        int end = text.LastIndexOf("</Project>", StringComparison.Ordinal);
        File.WriteAllText(path, text[..end] + xml + "\n" + text[end..]);
    }

    public (float[] Input, int Width, int Height, float[] Expected) LoadIo()
    {
        var io = SafetensorsIo.Read(Repo.Path("tests", "fixtures", _fixture, "io.safetensors"));
        int[] shape = io["input"].Shape;
        return (io["input"].AsFloats(), shape[3], shape[2], io["output"].AsFloats());
    }

    public BuildResult Build()
    {
        BuildResult r = Dotnet("build", "-nologo", "-tl:off", "-v:minimal", "-p:UseSharedCompilation=false", "-p:TreatWarningsAsErrors=false", "Consumer.csproj");
        _out.WriteLine($"dotnet build: exit {r.ExitCode} in {r.Elapsed.TotalSeconds:F1} s");
        return r;
    }

    public float[] RunModel(float[] input, int width, int height)
    {
        string inPath = Path.Combine(Dir, "input.f32"), outPath = Path.Combine(Dir, "output.f32");
        File.WriteAllBytes(inPath, MemoryMarshal.AsBytes(input.AsSpan()).ToArray());
        if (File.Exists(outPath)) File.Delete(outPath);
        BuildResult r = Dotnet(AssemblyPath, inPath, width.ToString(), height.ToString(), outPath);
        _out.WriteLine($"dotnet Consumer.dll: exit {r.ExitCode} in {r.Elapsed.TotalSeconds:F1} s: {r.Output.Trim()}");
        Assert.True(r.ExitCode == 0, "the consumer program failed:\n" + r.Output);
        return MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outPath)).ToArray();
    }

    public byte[] AssemblyHash() => SHA256.HashData(File.ReadAllBytes(AssemblyPath));

    /// <summary>Marks the test as passed: the folder is deleted. A failed test leaves it for inspection.</summary>
    public void Succeeded() => _succeeded = true;

    public void Dispose()
    {
        if (!_succeeded) { _out.WriteLine($"kept for inspection: {Dir}"); return; }
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private BuildResult Dotnet(params string[] args) => DotnetCli.Run(Dir, TimeoutMs, null, args);
}
