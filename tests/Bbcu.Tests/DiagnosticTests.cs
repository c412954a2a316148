using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using Bbcu.Generator.Diagnostics;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace Bbcu.Tests;

/// <summary>
/// One or more tests per descriptor of <see cref="BbcuDiagnostics"/>: each triggers the diagnostic through the real
/// generator and checks its ID, severity, message (file, layer/tensor/value, what to do) and location. Every run also
/// checks that the generator did not throw and that no source is generated when there is an error.
/// </summary>
public sealed class DiagnosticTests
{
    // ------------------------------------------------------------------------------------------------------------
    // A tiny valid model: conv2d → relu → binary_conv2d → conv2d, with its weights. Tests edit the text.
    // ------------------------------------------------------------------------------------------------------------

    private const string TinyJson = """
        {
          "format": "bbcu-model",
          "version": 1,
          "name": "tiny",
          "inputs": [{"name": "x", "channels": 1}],
          "outputs": ["out"],
          "nodes": [
            {"op": "conv2d", "name": "head", "inputs": ["x"], "output": "h", "weight": "head.weight"},
            {"op": "relu", "name": "act", "inputs": ["h"], "output": "r"},
            {"op": "binary_conv2d", "name": "body", "inputs": ["r"], "output": "b", "input_bias": "body.move", "weight": "body.weight"},
            {"op": "conv2d", "name": "tail", "inputs": ["b"], "output": "out", "weight": "tail.weight", "bias": "tail.bias"}
          ]
        }
        """;

    /// <summary>Non-zero, deterministic values.</summary>
    private static float[] Values(int n) => Enumerable.Range(0, n).Select(i => ((i * 37 % 11) - 4.5f) * 0.1f).ToArray();

    private static List<(string Name, int[] Shape, float[] Data)> TinyTensors() => new()
    {
        ("head.weight", new[] { 2, 1, 3, 3 }, Values(18)),
        ("body.move", new[] { 1, 2, 1, 1 }, new[] { 0.25f, -0.5f }),
        ("body.weight", new[] { 2, 2, 3, 3 }, Values(36)),
        ("tail.weight", new[] { 1, 2, 3, 3 }, Values(18)),
        ("tail.bias", new[] { 1 }, new[] { 0.125f }),
    };

    private static byte[] TinyWeights() => SafetensorsIo.Write(TinyTensors());

    /// <summary>The tiny weights with one tensor replaced.</summary>
    private static byte[] TinyWeightsWith(string name, int[] shape, float[] data)
    {
        var list = TinyTensors();
        int i = list.FindIndex(t => t.Name == name);
        Assert.True(i >= 0, name);
        list[i] = (name, shape, data);
        return SafetensorsIo.Write(list);
    }

    /// <summary>The tiny model with replacements (from, to, from, to, …); each 'from' must occur exactly once.</summary>
    private static string Edit(params string[] pairs) => EditText(TinyJson, pairs);

    private static string EditText(string text, params string[] pairs)
    {
        Assert.True(pairs.Length % 2 == 0);
        for (int i = 0; i < pairs.Length; i += 2)
        {
            Assert.True(Count(text, pairs[i]) == 1, $"'{pairs[i]}' must occur exactly once in the model text");
            text = text.Replace(pairs[i], pairs[i + 1], StringComparison.Ordinal);
        }
        return text;
    }

    private static int Count(string text, string what)
    {
        int n = 0;
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>Writes a safetensors file of arbitrary dtypes (the bytes are taken as given).</summary>
    private static byte[] MixedWeights(IEnumerable<(string Name, string Dtype, int[] Shape, byte[] Bytes)> tensors)
    {
        var header = new StringBuilder("{");
        var data = new MemoryStream();
        foreach (var (name, dtype, shape, bytes) in tensors)
        {
            if (header.Length > 1) header.Append(',');
            header.Append($"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{data.Length},{data.Length + bytes.Length}]}}");
            data.Write(bytes);
        }
        header.Append('}');
        return Raw(Encoding.UTF8.GetBytes(header.ToString()), data.ToArray());
    }

    private static byte[] F32Bytes(float[] values)
    {
        var b = new byte[4 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), values[i]);
        return b;
    }

    /// <summary>A safetensors file from raw parts: 8-byte length (the header's, unless given), header, data.</summary>
    private static byte[] Raw(byte[] header, byte[] data, ulong? declaredLength = null)
    {
        var result = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, declaredLength ?? (ulong)header.Length);
        header.CopyTo(result, 8);
        data.CopyTo(result, 8 + header.Length);
        return result;
    }

    private static byte[] Raw(string header, int dataBytes) => Raw(Encoding.UTF8.GetBytes(header), new byte[dataBytes]);

    /// <summary>
    /// A model that does not compile still gets its class's members (throwing stand-ins), so code that uses
    /// them reports the BBCU errors and nothing else (no CS0117 per use).
    /// </summary>
    [Fact]
    public void CodeUsingABrokenModelReportsOnlyTheBbcuErrors()
    {
        const string source = """
            using System;
            using Bbcu;
            namespace TestModels;
            [BbcuModel("model.json", "model.safetensors")]
            public static partial class Model { }
            public static class User
            {
                public static string Use(float[] x, float[] y)
                {
                    var ws = Model.CreateWorkspace(4, 4);
                    Model.Run(x, 4, 4, y);
                    Model.Run(x, 4, 4, y, ws);
                    return $"{Model.InputChannels}{Model.OutputChannels}{Model.Scale}{Model.LayerCount}{Model.Halo}{Model.ModelName}"
                        + $"{Model.WorkspaceBytes(4, 4)}{Model.Cost.Summary}{Model.Cost.TotalOps}{Model.Cost.BinaryMacs}";
                }
            }
            """;
        var r = Run("{ \"format\": ", new byte[3], source);
        Assert.Contains("BBCU010", r.Ids);
        Assert.DoesNotContain(r.CompilationDiagnostics, d => d.Severity >= DiagnosticSeverity.Warning);
        var e = Assert.Throws<System.Reflection.TargetInvocationException>(() =>
            r.LoadModel().GetMethod("CreateWorkspace")!.Invoke(null, new object[] { 4, 4 }));
        Assert.IsType<InvalidOperationException>(e.InnerException);
        Assert.Contains("did not compile", e.InnerException!.Message);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Running the generator and checking diagnostics.
    // ------------------------------------------------------------------------------------------------------------

    private static GeneratorResult Run(string json, byte[] weights, string? source = null) => Check(GeneratorHarness.RunModel(json, weights, source));

    /// <summary>
    /// Invariants of every run: the generator never throws; a model that compiles gets its code and its data
    /// file; on an error it generates only the stand-in
    /// class (nothing when the class itself is wrong, BBCU004), which compiles cleanly and leaves no
    /// member of the class missing (CS0117); messages are fully formatted.
    /// </summary>
    private static GeneratorResult Check(GeneratorResult r)
    {
        GeneratorRunResult run = Assert.Single(r.RunResult.Results);
        Assert.Null(run.Exception);
        bool hasError = r.GeneratorDiagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);
        if (hasError && r.Ids.Contains("BBCU004") && run.GeneratedSources.Length == 0)
            Assert.DoesNotContain(r.GeneratorDiagnostics, d => d.Id == "BBCU004" && d.GetMessage(CultureInfo.InvariantCulture).Contains("add the 'static' modifier", StringComparison.Ordinal));
        else if (hasError)
            Assert.Contains("did not compile", Assert.Single(run.GeneratedSources).SourceText.ToString());
        else
            Assert.Equal(new[] { ".Bbcu.Data.g.cs", ".Bbcu.g.cs" }, run.GeneratedSources.Select(s => s.HintName.Substring(s.HintName.IndexOf(".Bbcu", StringComparison.Ordinal))).OrderBy(h => h, StringComparer.Ordinal));
        if (hasError && run.GeneratedSources.Length > 0)
            Assert.DoesNotContain(r.CompilationDiagnostics, d => d.Severity == DiagnosticSeverity.Error
                && (d.Id == "CS0117" || d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true));
        foreach (Diagnostic d in r.GeneratorDiagnostics)
        {
            Assert.StartsWith("BBCU", d.Id);
            string message = d.GetMessage(CultureInfo.InvariantCulture);
            Assert.DoesNotMatch(@"\{\d+\}", message);
            Assert.Equal(BbcuDiagnostics.Get(d.Id).DefaultSeverity, d.Severity);
        }
        // Every compiled model reports its cost once (BBCU032, info); the tests below look at the other diagnostics.
        Assert.Equal(hasError ? 0 : 1, r.GeneratorDiagnostics.Count(d => d.Id == "BBCU032"));
        return new GeneratorResult
        {
            Compilation = r.Compilation, RunResult = r.RunResult, CompilationDiagnostics = r.CompilationDiagnostics, Driver = r.Driver,
            GeneratorDiagnostics = r.GeneratorDiagnostics.Where(d => d.Id != "BBCU032").ToImmutableArray(),
        };
    }

    private static string Describe(GeneratorResult r) =>
        string.Join("\n", r.GeneratorDiagnostics.Select(d => d.ToString()));

    /// <summary>Asserts exactly one diagnostic <paramref name="id"/>, its severity, and that its message contains each fragment.</summary>
    private static Diagnostic AssertDiagnostic(GeneratorResult r, string id, DiagnosticSeverity severity, params string[] fragments)
    {
        var matches = r.GeneratorDiagnostics.Where(d => d.Id == id).ToList();
        Assert.True(matches.Count == 1, $"expected exactly one {id}, got:\n{Describe(r)}");
        Diagnostic d = matches[0];
        Assert.Equal(severity, d.Severity);
        Assert.Equal(severity, d.Descriptor.DefaultSeverity);
        Assert.Equal("BbcuCompiler", d.Descriptor.Category);
        string message = d.GetMessage(CultureInfo.InvariantCulture);
        foreach (string f in fragments)
            Assert.True(message.Contains(f, StringComparison.Ordinal), $"{id} message lacks \"{f}\":\n{message}");
        return d;
    }

    /// <summary>Asserts that the errors reported are exactly these IDs (in any order, with multiplicity).</summary>
    private static void AssertErrors(GeneratorResult r, params string[] ids)
    {
        var got = r.GeneratorDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Id).OrderBy(i => i, StringComparer.Ordinal);
        Assert.True(got.SequenceEqual(ids.OrderBy(i => i, StringComparer.Ordinal)), $"expected errors [{string.Join(", ", ids)}], got:\n{Describe(r)}");
    }

    private static (int Line, int Column) LineColumn(string text, int position)
    {
        int line = 1, col = 1;
        for (int i = 0; i < position; i++)
        {
            if (text[i] == '\n') { line++; col = 1; }
            else if (text[i] != '\r') col++;
        }
        return (line, col);
    }

    /// <summary>
    /// Asserts that the diagnostic points into <paramref name="fileName"/> at <paramref name="token"/>, found inside the
    /// unique <paramref name="anchor"/> of <paramref name="text"/>: start offset, 1-based line/column, and (unless
    /// <paramref name="length"/> is given) a span covering exactly the token.
    /// </summary>
    private static void AssertAt(Diagnostic d, string text, string anchor, string token, string fileName = "model.json", int? length = null)
    {
        Assert.True(Count(text, anchor) == 1, $"anchor '{anchor}' must occur exactly once");
        int tokenInAnchor = anchor.IndexOf(token, StringComparison.Ordinal);
        Assert.True(tokenInAnchor >= 0, $"token '{token}' not in anchor '{anchor}'");
        int start = text.IndexOf(anchor, StringComparison.Ordinal) + tokenInAnchor;

        FileLinePositionSpan lineSpan = d.Location.GetLineSpan();
        Assert.Equal(fileName, Path.GetFileName(lineSpan.Path));
        TextSpan span = d.Location.SourceSpan;
        Assert.Equal(start, span.Start);
        Assert.Equal(length ?? token.Length, span.Length);
        if (length is null) Assert.Equal(token, text.Substring(span.Start, span.Length));
        var (line, column) = LineColumn(text, start);
        Assert.Equal(line, lineSpan.StartLinePosition.Line + 1);
        Assert.Equal(column, lineSpan.StartLinePosition.Character + 1);
    }

    /// <summary>Asserts that a diagnostic about the binary weights file points at that file (it has no text positions).</summary>
    private static void AssertAtWeightsFile(Diagnostic d)
    {
        Assert.Equal("model.safetensors", Path.GetFileName(d.Location.GetLineSpan().Path));
        Assert.Equal(0, d.Location.SourceSpan.Start);
    }

    /// <summary>The IDs this file triggers; the meta-tests compare it with <see cref="BbcuDiagnostics.All"/> and with the tests' text.</summary>
    private static readonly string[] CoveredIds =
    {
        "BBCU001", "BBCU002", "BBCU003", "BBCU004", "BBCU005", "BBCU006", "BBCU007", "BBCU008", "BBCU010", "BBCU011", "BBCU012", "BBCU013", "BBCU014",
        "BBCU015", "BBCU016", "BBCU017", "BBCU018", "BBCU019", "BBCU020", "BBCU021", "BBCU022", "BBCU023", "BBCU024",
        "BBCU025", "BBCU030", "BBCU031", "BBCU032", "BBCU033", "BBCU099",
    };

    // ------------------------------------------------------------------------------------------------------------
    // Meta-tests
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void EveryDescriptorIsCoveredByATestInThisFile()
    {
        var all = BbcuDiagnostics.All.Select(d => d.Id).OrderBy(i => i, StringComparer.Ordinal).ToArray();
        Assert.Equal(all, CoveredIds.OrderBy(i => i, StringComparer.Ordinal).ToArray());

        // And each ID is really asserted by some test, not only listed.
        string self = File.ReadAllText(Repo.Path("tests", "Bbcu.Tests", "DiagnosticTests.cs"));
        var asserted = Regex.Matches(self, @"AssertDiagnostic\(\w+, ""(BBCU\d{3})""").Select(m => m.Groups[1].Value).ToHashSet();
        var missing = all.Where(id => !asserted.Contains(id)).ToList();
        Assert.True(missing.Count == 0, "descriptors no test asserts: " + string.Join(", ", missing));
    }

    [Fact]
    public void DescriptorsAreWellFormedAndMatchTheReleaseTracking()
    {
        var all = BbcuDiagnostics.All;
        Assert.Equal(all.Count, all.Select(d => d.Id).Distinct().Count());
        string unshipped = File.ReadAllText(Repo.Path("src", "Generator", "AnalyzerReleases.Unshipped.md"))
            + File.ReadAllText(Repo.Path("src", "Generator", "AnalyzerReleases.Shipped.md"));
        foreach (DiagnosticDescriptor d in all)
        {
            Assert.Matches(@"^BBCU\d{3}$", d.Id);
            Assert.Equal("BbcuCompiler", d.Category);
            Assert.True(d.IsEnabledByDefault, d.Id);
            Assert.False(string.IsNullOrWhiteSpace(d.Title.ToString(CultureInfo.InvariantCulture)), d.Id);
            Assert.Same(d, BbcuDiagnostics.Get(d.Id));
            string format = d.MessageFormat.ToString(CultureInfo.InvariantCulture);
            Assert.Contains("{0}", format);
            // The release-tracking table lists the ID with the same severity and title.
            string row = $"{d.Id} | BbcuCompiler | {d.DefaultSeverity} | {d.Title.ToString(CultureInfo.InvariantCulture)}";
            Assert.True(unshipped.Contains(row, StringComparison.Ordinal), $"AnalyzerReleases lacks the row '{row}'");
        }
    }

    [Fact]
    public void TheTinyModelCompilesWithoutDiagnostics()
    {
        // The positive control for every edit below.
        GeneratorResult r = Run(TinyJson, TinyWeights());
        Assert.Empty(r.GeneratorDiagnostics);
        Assert.Contains("class Model", r.GeneratedSource);
    }

    // ------------------------------------------------------------------------------------------------------------
    // BBCU001–005: the attribute and the AdditionalFiles
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void ModelFileNotAnAdditionalFile_BBCU001()
    {
        string dir = Repo.TempFolder("diag");
        File.WriteAllText(Path.Combine(dir, "model.json"), TinyJson);
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), TinyWeights());
        GeneratorResult r = Check(GeneratorHarness.RunFolder(dir, null, "model.safetensors"));
        Diagnostic d = AssertDiagnostic(r, "BBCU001", DiagnosticSeverity.Error,
            "'model.json'", "'TestModels.Model'", "<AdditionalFiles Include=\"model.json\" />");
        AssertErrors(r, "BBCU001");
        AssertAt(d, GeneratorHarness.DefaultSource, "\"model.json\"", "\"model.json\"", fileName: "Model.cs");
    }

    [Fact]
    public void PathSuffixMatchesOnlyWholeSegments_BBCU001()
    {
        // "odel.json" is a suffix of ".../model.json" but not on a path-segment boundary.
        const string source = """
            using Bbcu;
            namespace TestModels;
            [BbcuModel("odel.json", "model.safetensors")]
            public static partial class Model { }
            """;
        GeneratorResult r = Run(TinyJson, TinyWeights(), source);
        Diagnostic d = AssertDiagnostic(r, "BBCU001", DiagnosticSeverity.Error, "'odel.json'", "did you mean '", "/model.json'? Name it in [BbcuModel] by the end of its path");
        AssertAt(d, source, "\"odel.json\"", "\"odel.json\"", fileName: "Model.cs");
    }

    /// <summary>A name that differs only in case, or in a letter or two, is offered as "did you mean".</summary>
    [Theory]
    [InlineData("Model.JSON")]
    [InlineData("modle.json")]
    [InlineData("models/model.json")]
    public void ANearNameIsSuggested_BBCU001(string written)
    {
        string source = $$"""
            using Bbcu;
            namespace TestModels;
            [BbcuModel("{{written}}", "model.safetensors")]
            public static partial class Model { }
            """;
        GeneratorResult r = Run(TinyJson, TinyWeights(), source);
        AssertDiagnostic(r, "BBCU001", DiagnosticSeverity.Error, $"'{written}'", "did you mean '", "/model.json'?");
        AssertErrors(r, "BBCU001");
    }

    /// <summary>With no near name, the message points at the folder of the model's other file.</summary>
    [Fact]
    public void TheOtherFilesFolderIsNamed_BBCU002()
    {
        string dir = Repo.TempFolder("diag");
        Directory.CreateDirectory(Path.Combine(dir, "models"));
        File.WriteAllText(Path.Combine(dir, "models", "denoise.json"), TinyJson);
        var files = new AdditionalText[] { new FileText(Path.Combine(dir, "models", "denoise.json")) };
        const string source = """
            using Bbcu;
            namespace TestModels;
            [BbcuModel("denoise.json", "weights.safetensors")]
            public static partial class Model { }
            """;
        GeneratorResult r = Check(GeneratorHarness.Run(GeneratorHarness.CreateCompilation(source), GeneratorHarness.CreateDriver(files)));
        AssertDiagnostic(r, "BBCU002", DiagnosticSeverity.Error, "'weights.safetensors'",
            "add <AdditionalFiles Include=\"weights.safetensors\" /> to the project file, with the file's path relative to the project (the model's other file is the item 'models/denoise.json' in '", "/models')");
        AssertErrors(r, "BBCU002");
    }

    /// <summary>An additional file whose text cannot be had (the compiler returns null when it cannot read the file).</summary>
    private sealed class NullText : AdditionalText
    {
        public NullText(string path) => Path = path;

        public override string Path { get; }

        public override SourceText? GetText(CancellationToken cancellationToken = default) => null;
    }

    [Fact]
    public void ModelFileWithoutText_BBCU001()
    {
        string dir = Repo.TempFolder("diag");
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), TinyWeights());
        var files = new AdditionalText[] { new NullText(Path.Combine(dir, "model.json")), new FileText(Path.Combine(dir, "model.safetensors")) };
        GeneratorResult r = Check(GeneratorHarness.Run(GeneratorHarness.CreateCompilation(GeneratorHarness.DefaultSource), GeneratorHarness.CreateDriver(files)));
        // Listed, but no text and no file: a wrong path (BBCU007), not a missing item.
        AssertDiagnostic(r, "BBCU007", DiagnosticSeverity.Error, "'model.json'", "'TestModels.Model'", "there is no file at that path");
        AssertErrors(r, "BBCU007");
    }

    [Fact]
    public void WeightsFileNotAnAdditionalFile_BBCU002()
    {
        string dir = Repo.TempFolder("diag");
        File.WriteAllText(Path.Combine(dir, "model.json"), TinyJson);
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), TinyWeights());
        GeneratorResult r = Check(GeneratorHarness.RunFolder(dir, null, "model.json"));
        Diagnostic d = AssertDiagnostic(r, "BBCU002", DiagnosticSeverity.Error,
            "'model.safetensors'", "'TestModels.Model'", "<AdditionalFiles Include=\"model.safetensors\" />");
        AssertErrors(r, "BBCU002");
        AssertAt(d, GeneratorHarness.DefaultSource, "\"model.safetensors\"", "\"model.safetensors\"", fileName: "Model.cs");
    }

    [Fact]
    public void BothFilesMissing_ReportsBoth()
    {
        GeneratorResult r = Check(GeneratorHarness.Run(GeneratorHarness.CreateCompilation(GeneratorHarness.DefaultSource),
            GeneratorHarness.CreateDriver(Array.Empty<AdditionalText>())));
        AssertErrors(r, "BBCU001", "BBCU002");
    }

    [Fact]
    public void AmbiguousSuffix_BBCU003()
    {
        string dir = Repo.TempFolder("diag");
        foreach (string sub in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(dir, sub));
            File.WriteAllText(Path.Combine(dir, sub, "model.json"), TinyJson);
        }
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), TinyWeights());
        GeneratorResult r = Check(GeneratorHarness.RunFolder(dir, null, "a/model.json", "b/model.json", "model.safetensors"));
        Diagnostic d = AssertDiagnostic(r, "BBCU003", DiagnosticSeverity.Error,
            "'model.json'", "'TestModels.Model'", "a/model.json", "b/model.json", "give a longer path suffix that matches one");
        AssertErrors(r, "BBCU003");
        AssertAt(d, GeneratorHarness.DefaultSource, "\"model.json\"", "\"model.json\"", fileName: "Model.cs");

        // The longer suffix resolves it.
        const string source = """
            using Bbcu;
            namespace TestModels;
            [BbcuModel("a/model.json", "model.safetensors")]
            public static partial class Model { }
            """;
        GeneratorResult fixedRun = Check(GeneratorHarness.RunFolder(dir, source, "a/model.json", "b/model.json", "model.safetensors"));
        Assert.Empty(fixedRun.GeneratorDiagnostics);
    }

    public static TheoryData<string, string, string> ClassShapeCases => new()
    {
        { "public class Model { }", "Model", "add the 'partial' modifier" },
        { "public static class Model { }", "Model", "add the 'partial' modifier" },
        { "public partial class Model { }", "Model", "add the 'static' modifier" },
        { "public class Outer { [BbcuModel(\"model.json\", \"model.safetensors\")] public static partial class Model { } }", "Model", "its containing type 'Outer' must be a non-generic partial type" },
        { "public static partial class Model<T> { }", "Model", "a generic class cannot hold a compiled model" },
    };

    [Theory]
    [MemberData(nameof(ClassShapeCases))]
    public void ClassMustBeStaticPartial_BBCU004(string declaration, string identifier, string advice)
    {
        string source = "using Bbcu;\nnamespace TestModels;\n"
            + (declaration.Contains("Outer", StringComparison.Ordinal) ? "" : "[BbcuModel(\"model.json\", \"model.safetensors\")]\n")
            + declaration + "\n";
        GeneratorResult r = Run(TinyJson, TinyWeights(), source);
        Diagnostic d = AssertDiagnostic(r, "BBCU004", DiagnosticSeverity.Error, $"'{identifier}' must be declared 'static partial'", advice);
        AssertErrors(r, "BBCU004");
        // At the class's identifier (the last 'Model' in the declaration).
        int at = source.LastIndexOf("class " + identifier, StringComparison.Ordinal) + "class ".Length;
        Assert.Equal(at, d.Location.SourceSpan.Start);
        Assert.Equal(identifier.Length, d.Location.SourceSpan.Length);
        Assert.Equal("Model.cs", d.Location.GetLineSpan().Path);
    }

    /// <summary>A partial class that is only missing 'static' still gets the stand-in members: one error, no CS0117 at each use.</summary>
    [Fact]
    public void ANonStaticPartialClassGetsTheStandIns_BBCU004()
    {
        const string source = """
            using Bbcu;
            namespace TestModels;
            [BbcuModel("model.json", "model.safetensors")]
            public partial class Model { }
            public static class User
            {
                public static int Channels() => Model.InputChannels + Model.Cost.BinaryMacs.GetHashCode();
                public static void Use(float[] x, float[] y) => Model.Run(x, 4, 4, y, Model.CreateWorkspace(4, 4));
            }
            """;
        GeneratorResult r = Run(TinyJson, TinyWeights(), source);
        AssertErrors(r, "BBCU004");
        Assert.Contains("did not compile", r.GeneratedSource, StringComparison.Ordinal);
        Assert.Contains("public partial class Model", r.GeneratedSource, StringComparison.Ordinal);
        Assert.Empty(r.CompilationDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void NestedInGenericType_BBCU004()
    {
        // A class nested in a generic type is generic itself (it has the type parameter), so both reasons are given.
        const string source = """
            using Bbcu;
            namespace TestModels;
            public static partial class Outer<T> { [BbcuModel("model.json", "model.safetensors")] public static partial class Model { } }
            """;
        GeneratorResult r = Run(TinyJson, TinyWeights(), source);
        var messages = r.GeneratorDiagnostics.Where(d => d.Id == "BBCU004").Select(d => d.GetMessage(CultureInfo.InvariantCulture)).ToList();
        Assert.Contains(messages, m => m.Contains("its containing type 'Outer' must be a non-generic partial type", StringComparison.Ordinal));
        Assert.All(r.GeneratorDiagnostics, d => Assert.Equal("BBCU004", d.Id));
        Assert.All(r.GeneratorDiagnostics, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
    }

    [Fact]
    public void NestedInPartialTypes_IsAccepted()
    {
        const string source = """
            using Bbcu;
            namespace TestModels;
            public static partial class Outer { [BbcuModel("model.json", "model.safetensors")] internal static partial class Model { } }
            """;
        GeneratorResult r = Run(TinyJson, TinyWeights(), source);
        Assert.Empty(r.GeneratorDiagnostics);
    }

    public static TheoryData<string, string, string> InvalidAttributeCases => new()
    {
        { "[BbcuModel(\"\", \"model.safetensors\")]", "\"\"", "the model path is empty; name the model's .json file (its <BbcuModel> or AdditionalFiles item)" },
        { "[BbcuModel(\"model.json\", \"   \")]", "\"   \"", "the weights path is empty; name the model's .safetensors file, or leave the argument out" },
        { "[BbcuModel(null, \"model.safetensors\")]", "null", "the model path is empty" },
    };

    [Theory]
    [MemberData(nameof(InvalidAttributeCases))]
    public void EmptyAttributePath_BBCU005(string attribute, string argument, string advice)
    {
        string source = "using Bbcu;\nnamespace TestModels;\n" + attribute + "\npublic static partial class Model { }\n";
        GeneratorResult r = Run(TinyJson, TinyWeights(), source);
        Diagnostic d = AssertDiagnostic(r, "BBCU005", DiagnosticSeverity.Error, "[BbcuModel] on 'Model'", advice);
        AssertErrors(r, "BBCU005");
        AssertAt(d, source, argument, argument, fileName: "Model.cs");
    }

    [Fact]
    public void WrongAttributeArity_BBCU005()
    {
        // The C# compiler reports CS1729 as well; the generator must not crash and must say what it wants.
        const string source = """
            using Bbcu;
            namespace TestModels;
            [BbcuModel("model.json", "model.safetensors", "extra")]
            public static partial class Model { }
            """;
        GeneratorResult r = Run(TinyJson, TinyWeights(), source);
        Diagnostic d = AssertDiagnostic(r, "BBCU005", DiagnosticSeverity.Error, "[BbcuModel] on 'Model'", "it takes the model .json and, optionally, the weights .safetensors");
        AssertErrors(r, "BBCU005");
        AssertAt(d, source, "BbcuModel(\"model.json\", \"model.safetensors\", \"extra\")", "BbcuModel(\"model.json\", \"model.safetensors\", \"extra\")", fileName: "Model.cs");
    }

    // ------------------------------------------------------------------------------------------------------------
    // The one-argument attribute and <BbcuModel> items (BBCU002, BBCU008)
    // ------------------------------------------------------------------------------------------------------------

    private const string OneArgument = """
        using Bbcu;
        namespace TestModels;
        [BbcuModel("denoise.json")]
        public static partial class Model { }
        """;

    /// <summary>A model folder with denoise.json and (optionally) its weights under another name.</summary>
    private static string ModelFolder(string weightsName = "denoise.safetensors")
    {
        string dir = Repo.TempFolder("diag");
        Directory.CreateDirectory(Path.Combine(dir, "models"));
        File.WriteAllText(Path.Combine(dir, "models", "denoise.json"), TinyJson);
        File.WriteAllBytes(Path.Combine(dir, "models", weightsName), TinyWeights());
        return dir;
    }

    private static GeneratorResult RunItems(string source, AdditionalText[] files, ItemMetadata? metadata = null) =>
        Check(GeneratorHarness.Run(GeneratorHarness.CreateCompilation(source), GeneratorHarness.CreateDriver(files, metadata: metadata)));

    /// <summary>
    /// <c>&lt;BbcuModel Include="models/denoise.json" /&gt;</c>: only the JSON is an AdditionalFiles item; the
    /// weights come from its metadata, and both attribute forms name them.
    /// </summary>
    [Theory]
    [InlineData("[BbcuModel(\"denoise.json\")]")]
    [InlineData("[BbcuModel(\"models/denoise.json\", \"denoise.safetensors\")]")]
    public void ABbcuModelItemsWeightsNeedNoAdditionalFilesItem(string attribute)
    {
        string dir = ModelFolder();
        string json = Path.Combine(dir, "models", "denoise.json");
        GeneratorResult r = RunItems(OneArgument.Replace("[BbcuModel(\"denoise.json\")]", attribute), new AdditionalText[] { new FileText(json) },
            new ItemMetadata().Model(json, Path.Combine(dir, "models", "denoise.safetensors")));
        Assert.Empty(r.GeneratorDiagnostics);
        Assert.Contains("from denoise.json and denoise.safetensors.", r.GeneratedSource);
        Assert.Empty(r.CompilationDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    /// <summary><c>Weights="…"</c> on the item: any file name; the header names the file actually read.</summary>
    [Fact]
    public void ABbcuModelItemsWeightsCanHaveAnotherName()
    {
        string dir = ModelFolder("trained-v2.safetensors");
        string json = Path.Combine(dir, "models", "denoise.json");
        GeneratorResult r = RunItems(OneArgument, new AdditionalText[] { new FileText(json) },
            new ItemMetadata().Model(json, Path.Combine(dir, "models", "trained-v2.safetensors")));
        Assert.Empty(r.GeneratorDiagnostics);
        Assert.Contains("from denoise.json and trained-v2.safetensors.", r.GeneratedSource);
    }

    /// <summary>The one-argument form on a plain AdditionalFiles pair takes the weights item beside the JSON.</summary>
    [Fact]
    public void OneArgumentOnAPlainPairTakesTheWeightsBesideTheModel()
    {
        string dir = ModelFolder();
        GeneratorResult r = RunItems(OneArgument, new AdditionalText[]
        {
            new FileText(Path.Combine(dir, "models", "denoise.json")), new FileText(Path.Combine(dir, "models", "denoise.safetensors")),
        });
        Assert.Empty(r.GeneratorDiagnostics);
        Assert.Contains("from denoise.json and denoise.safetensors.", r.GeneratedSource);
    }

    /// <summary>The one-argument form on a plain JSON item with no weights item beside it says how to register the model.</summary>
    [Fact]
    public void OneArgumentWithoutWeights_BBCU002()
    {
        string dir = ModelFolder();
        GeneratorResult r = RunItems(OneArgument, new AdditionalText[] { new FileText(Path.Combine(dir, "models", "denoise.json")) });
        Diagnostic d = AssertDiagnostic(r, "BBCU002", DiagnosticSeverity.Error, "'denoise.safetensors'", "'TestModels.Model'",
            "'models/denoise.json' is a plain AdditionalFiles item with no 'denoise.safetensors' item beside it",
            "turn its <AdditionalFiles Include=\"…\" /> line into <BbcuModel Include=\"…\" />");
        AssertErrors(r, "BBCU002");
        AssertAt(d, OneArgument, "BbcuModel(\"denoise.json\")", "BbcuModel(\"denoise.json\")", fileName: "Model.cs");
    }

    /// <summary>A model that is no item at all: the message offers the &lt;BbcuModel&gt; line.</summary>
    [Fact]
    public void AMissingModelIsOfferedTheBbcuModelItem_BBCU001()
    {
        GeneratorResult r = RunItems(OneArgument, Array.Empty<AdditionalText>());
        AssertDiagnostic(r, "BBCU001", DiagnosticSeverity.Error, "'denoise.json'",
            "add <BbcuModel Include=\"denoise.json\" /> (which also brings its weights, same folder and stem) to the project file");
        AssertErrors(r, "BBCU001"); // not a second error for the weights
    }

    /// <summary>The weights a &lt;BbcuModel&gt; item names are not on disk: said once, with the path looked at and the fix.</summary>
    [Fact]
    public void ABbcuModelItemsWeightsAreMissing_BBCU008()
    {
        string dir = ModelFolder("elsewhere.safetensors");
        string json = Path.Combine(dir, "models", "denoise.json");
        string wanted = Path.Combine(dir, "models", "denoise.safetensors");
        GeneratorResult r = RunItems(OneArgument, new AdditionalText[] { new FileText(json) }, new ItemMetadata().Model(json, wanted));
        Diagnostic d = AssertDiagnostic(r, "BBCU008", DiagnosticSeverity.Error, $"The weights file '{wanted}'", $"of the <BbcuModel> item '{json}'",
            "(named by [BbcuModel] on 'TestModels.Model') does not exist", "set Weights=\"…\" on the item");
        AssertErrors(r, "BBCU008");
        AssertAt(d, OneArgument, "BbcuModel(\"denoise.json\")", "BbcuModel(\"denoise.json\")", fileName: "Model.cs");
    }

    // ------------------------------------------------------------------------------------------------------------
    // BBCU006: a project on C# older than 11
    // ------------------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(LanguageVersion.CSharp10, "10.0")]
    [InlineData(LanguageVersion.CSharp9, "9.0")]
    public void OldLanguageVersion_BBCU006(LanguageVersion language, string shown)
    {
        const string source = """
            using Bbcu;
            namespace TestModels
            {
                [BbcuModel("model.json", "model.safetensors")]
                public static partial class Model { }
            }
            """;
        GeneratorResult r = Check(GeneratorHarness.RunModel(TinyJson, TinyWeights(), source, language));
        Diagnostic d = AssertDiagnostic(r, "BBCU006", DiagnosticSeverity.Error, "'Model'", $"the project compiles C# {shown}",
            "remove <LangVersion> from the project file or set it to 11 or later");
        AssertErrors(r, "BBCU006");
        AssertAt(d, source, "BbcuModel(\"model.json\", \"model.safetensors\")", "BbcuModel(\"model.json\", \"model.safetensors\")", fileName: "Model.cs");
    }

    [Fact]
    public void CSharp11CompilesTheModel()
    {
        const string source = """
            using Bbcu;
            namespace TestModels
            {
                [BbcuModel("model.json", "model.safetensors")]
                public static partial class Model { }
            }
            """;
        GeneratorResult r = Check(GeneratorHarness.RunModel(TinyJson, TinyWeights(), source, LanguageVersion.CSharp11));
        Assert.DoesNotContain(r.GeneratorDiagnostics, d => d.Id == "BBCU006");
        Assert.DoesNotContain(r.CompilationDiagnostics, d => d.Severity == DiagnosticSeverity.Error);
    }

    // ------------------------------------------------------------------------------------------------------------
    // BBCU010: malformed JSON
    // ------------------------------------------------------------------------------------------------------------

    public static TheoryData<string, string, string, string, string, string> MalformedJsonCases => new()
    {
        // case, from, to, anchor (in the edited text), token (where the location points), message fragment
        { "missing comma", "\"version\": 1,", "\"version\": 1", "  \"name\": \"tiny\"", "\"name\"", "',' or '}' was expected" },
        { "duplicate key", "\"version\": 1,", "\"version\": 1, \"version\": 1,", "1, \"version\"", "\"version\"", "duplicate property \"version\"" },
        { "duplicate node key", "\"output\": \"r\"}", "\"output\": \"r\", \"output\": \"r2\"}", "\"output\": \"r2\"", "\"output\"", "duplicate property \"output\"" },
        { "single quotes", "\"name\": \"tiny\"", "'name': \"tiny\"", "'name'", "'", "a property name in double quotes was expected" },
        { "bad literal", "\"version\": 1,", "\"version\": tru,", "tru,", "tru", "did you mean true?" },
        { "trailing comma", "\"outputs\": [\"out\"],", "\"outputs\": [\"out\",],", "[\"out\",]", "]", "a value was expected" },
        { "bad escape", "\"name\": \"tiny\"", "\"name\": \"ti\\qny\"", "\\q", "\\q", "invalid escape sequence '\\q'" },
        { "leading zero", "\"version\": 1,", "\"version\": 01,", "01,", "1", "',' or '}' was expected" },
        { "number past a double", "\"version\": 1,", "\"version\": 1e400,", "1e400", "1e400", "the number 1e400 is out of range" },
    };

    [Theory]
    [MemberData(nameof(MalformedJsonCases))]
    public void MalformedJson_BBCU010(string name, string from, string to, string anchor, string token, string fragment)
    {
        string json = Edit(from, to);
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU010", DiagnosticSeverity.Error, "model.json: malformed JSON at line", fragment);
        AssertErrors(r, "BBCU010");
        AssertAt(d, json, anchor, token, length: 0);
        AssertMessagePositionMatchesLocation(d, name);
    }

    /// <summary>The "line L, column C" in the message is the location's start (1-based).</summary>
    private static void AssertMessagePositionMatchesLocation(Diagnostic d, string name)
    {
        Match m = Regex.Match(d.GetMessage(CultureInfo.InvariantCulture), @"at line (\d+), column (\d+)");
        Assert.True(m.Success, name);
        LinePosition start = d.Location.GetLineSpan().StartLinePosition;
        Assert.Equal(start.Line + 1, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.Equal(start.Character + 1, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    [Fact]
    public void TrailingGarbage_BBCU010()
    {
        string json = TinyJson + "\n}";
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU010", DiagnosticSeverity.Error, "unexpected text after the end of the JSON value");
        Assert.Equal(json.Length - 1, d.Location.SourceSpan.Start);
        var (line, column) = LineColumn(json, json.Length - 1);
        Assert.Contains($"at line {line}, column {column}", d.GetMessage(CultureInfo.InvariantCulture));
        Assert.Equal(1, column);
        AssertMessagePositionMatchesLocation(d, "trailing");
    }

    [Fact]
    public void EmptyAndTruncatedFiles_BBCU010()
    {
        GeneratorResult empty = Run("", TinyWeights());
        AssertDiagnostic(empty, "BBCU010", DiagnosticSeverity.Error, "at line 1, column 1", "unexpected end of text; a value was expected");

        string json = TinyJson.Substring(0, TinyJson.IndexOf("\"nodes\"", StringComparison.Ordinal) + 3);
        GeneratorResult truncated = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(truncated, "BBCU010", DiagnosticSeverity.Error, "unterminated string");
        AssertAt(d, json, "\"no", "\"", length: 0);
    }

    [Fact]
    public void CrLfLineEndings_MessageAndLocationAgree_BBCU010()
    {
        string json = Edit("\"version\": 1,", "\"version\": 1").Replace("\n", "\r\n", StringComparison.Ordinal);
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU010", DiagnosticSeverity.Error, "at line 4, column 3", "',' or '}' was expected");
        AssertMessagePositionMatchesLocation(d, "crlf");
    }

    [Theory]
    [InlineData(64, false)]
    [InlineData(65, true)]
    [InlineData(5000, true)]
    public void NestingDepthIsLimitedTo64_BBCU010(int arrays, bool error)
    {
        // "source" is free-form, so it may nest; the root object is level 0, so 64 arrays inside it are the most allowed.
        string nested = new string('[', arrays) + new string(']', arrays);
        string json = Edit("\"name\": \"tiny\",", "\"name\": \"tiny\",\n  \"source\": " + nested + ",");
        GeneratorResult r = Run(json, TinyWeights());
        if (!error)
        {
            Assert.Empty(r.GeneratorDiagnostics);
            return;
        }
        Diagnostic d = AssertDiagnostic(r, "BBCU010", DiagnosticSeverity.Error, "nesting deeper than 64 levels");
        AssertErrors(r, "BBCU010");
        int at = json.IndexOf("\"source\": ", StringComparison.Ordinal) + "\"source\": ".Length + 64; // the 65th '['
        Assert.Equal(at, d.Location.SourceSpan.Start);
        Assert.Contains($"at line 5, column {at - json.IndexOf("  \"source\"", StringComparison.Ordinal) + 1}", d.GetMessage(CultureInfo.InvariantCulture));
    }

    // ------------------------------------------------------------------------------------------------------------
    // BBCU011: invalid model structure
    // ------------------------------------------------------------------------------------------------------------

    public static TheoryData<string, string, string, string, string, string> InvalidModelCases => new()
    {
        // case, from, to, anchor (in the edited text), token (where the location points), message fragment
        { "wrong format", "\"bbcu-model\"", "\"bbcu-modle\"", "\"bbcu-modle\"", "\"bbcu-modle\"", "\"format\" is \"bbcu-modle\"; a BBCU model file has \"format\": \"bbcu-model\"" },
        { "version 2", "\"version\": 1", "\"version\": 2", "\"version\": 2", "2", "format version 2 is not supported by this compiler, which reads version 1; update the BbcuCompiler package" },
        { "version string", "\"version\": 1", "\"version\": \"1\"", "\"version\": \"1\"", "\"1\"", "\"version\" of the model must be a number, not a string" },
        { "missing format", "\"format\": \"bbcu-model\",\n  ", "", "{\n  \"version\"", "{", "the model has no \"format\" property; it is required" },
        { "unknown top-level", "\"name\": \"tiny\",", "\"name\": \"tiny\",\n  \"nmae\": \"x\",", "\"nmae\"", "\"nmae\"", "unknown top-level property \"nmae\"; allowed:" },
        { "name not string", "\"name\": \"tiny\"", "\"name\": 7", "\"name\": 7", "7", "must be a string" },
        { "name empty", "\"name\": \"tiny\"", "\"name\": \" \"", "\"name\": \" \"", "\" \"", "\"name\" must not be empty" },
        { "two inputs", "[{\"name\": \"x\", \"channels\": 1}]", "[{\"name\": \"x\", \"channels\": 1}, {\"name\": \"y\", \"channels\": 1}]", "[{\"name\": \"x\"", "[", "\"inputs\" must list exactly one input (format v1); it lists 2" },
        { "zero channels", "\"channels\": 1", "\"channels\": 0", "\"channels\": 0", "0", "input \"channels\" must be an integer from 1 to 4096" },
        { "fractional channels", "\"channels\": 1", "\"channels\": 1.5", "\"channels\": 1.5", "1.5", "input \"channels\" must be an integer from 1 to 4096" },
        { "unknown input property", "\"channels\": 1}", "\"channels\": 1, \"height\": 3}", "\"height\"", "\"height\"", "unknown input property \"height\"" },
        { "two outputs", "\"outputs\": [\"out\"]", "\"outputs\": [\"out\", \"h\"]", "[\"out\", \"h\"]", "[", "\"outputs\" must list exactly one value name (format v1)" },
        { "node not object", "{\"op\": \"relu\", \"name\": \"act\", \"inputs\": [\"h\"], \"output\": \"r\"}", "\"relu\"", "\"relu\",\n", "\"relu\"", "node #1 must be an object with \"op\", \"inputs\" and \"output\"" },
        { "node without op", "{\"op\": \"relu\", \"name\": \"act\", ", "{\"name\": \"act\", ", "{\"name\": \"act\"", "{", "node #1 has no \"op\" property; it is required" },
        { "inputs not array", "\"inputs\": [\"h\"]", "\"inputs\": \"h\"", "\"inputs\": \"h\"", "\"h\"", "\"inputs\" of node #1 must be an array, not a string" },
        { "input not string", "\"inputs\": [\"h\"]", "\"inputs\": [1]", "[1]", "1", "node 'act': \"inputs\" must be an array of value names (strings)" },
        { "empty output", "\"output\": \"r\"", "\"output\": \"\"", "\"output\": \"\"", "\"\"", "node #1: \"output\" must be a non-empty value name" },
        { "node name not string", "\"name\": \"act\"", "\"name\": 5", "\"name\": 5", "5", "node #1: \"name\" must be a string" },
        { "unknown node property", "\"weight\": \"head.weight\"}", "\"weight\": \"head.weight\", \"stride\": 1}", "\"stride\"", "\"stride\"", "node 'head': op 'conv2d' has no property \"stride\"; it takes weight, bias, padding" },
        { "property on relu", "\"output\": \"r\"}", "\"output\": \"r\", \"inplace\": true}", "\"inplace\"", "\"inplace\"", "node 'act': op 'relu' has no property \"inplace\"" },
        { "wrong arity", "\"inputs\": [\"h\"]", "\"inputs\": [\"h\", \"x\"]", "[\"h\", \"x\"]", "[\"h\", \"x\"]", "node 'act': op 'relu' takes 1 input(s) but 2 are listed" },
        { "tensor ref not string", "\"weight\": \"head.weight\"", "\"weight\": 3", "\"weight\": 3", "3", "node 'head': \"weight\" must name a tensor (a string), not a number" },
        { "required number missing", "\"op\": \"relu\"", "\"op\": \"leaky_relu\"", "{\"op\": \"leaky_relu\"", "{", "node 'act': op 'leaky_relu' needs a number \"negative_slope\"" },
        { "number not number", "\"op\": \"relu\", \"name\": \"act\", \"inputs\": [\"h\"], \"output\": \"r\"", "\"op\": \"leaky_relu\", \"name\": \"act\", \"inputs\": [\"h\"], \"output\": \"r\", \"negative_slope\": \"0.1\"", "\"0.1\"", "\"0.1\"", "node 'act': \"negative_slope\" must be a finite number" },
        { "div by zero", "\"output\": \"out\", \"weight\"", "\"output\": \"t\", \"weight\"", "\"t\"", "\"t\"", "UNUSED" },
        { "div by negative zero", "\"output\": \"out\", \"weight\"", "\"output\": \"t\", \"weight\"", "\"t\"", "\"t\"", "UNUSED" },
    };

    [Theory]
    [MemberData(nameof(InvalidModelCases))]
    public void InvalidModel_BBCU011(string name, string from, string to, string anchor, string token, string fragment)
    {
        string json = Edit(from, to);
        if (name.StartsWith("div by", StringComparison.Ordinal))
        {
            // Append a div node reading the tail's renamed output.
            string zero = name.Contains("negative", StringComparison.Ordinal) ? "-0.0" : "0";
            json = EditText(json, "\"bias\": \"tail.bias\"}", "\"bias\": \"tail.bias\"},\n    {\"op\": \"div\", \"name\": \"scale\", \"inputs\": [\"t\"], \"output\": \"out\", \"scalar\": " + zero + "}");
            anchor = "\"scalar\": " + zero;
            token = zero;
            fragment = "node 'scale': division by zero";
        }
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU011", DiagnosticSeverity.Error, "model.json: ", fragment);
        Assert.True(r.GeneratorDiagnostics.All(x => x.Id == "BBCU011" || x.Severity < DiagnosticSeverity.Error), name + ":\n" + Describe(r));
        AssertAt(d, json, anchor, token, length: token is "{" or "[" ? 1 : null);
    }

    [Fact]
    public void MissingRequiredTensor_BBCU011()
    {
        string json = Edit(", \"weight\": \"tail.weight\", \"bias\"", ", \"bias\"");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU011", DiagnosticSeverity.Error,
            "model.json: node 'tail': op 'conv2d' needs a \"weight\" tensor (a state_dict key)");
        AssertErrors(r, "BBCU011");
        AssertAt(d, json, "{\"op\": \"conv2d\", \"name\": \"tail\"", "{", length: 1);
        // The tensor it no longer references is reported as unused.
        AssertDiagnostic(r, "BBCU014", DiagnosticSeverity.Warning, "'tail.weight'");
    }

    [Fact]
    public void MissingNodes_BBCU011()
    {
        const string json = """
            {
              "format": "bbcu-model",
              "version": 1,
              "name": "tiny",
              "inputs": [{"name": "x", "channels": 1}],
              "outputs": ["out"]
            }
            """;
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU011", DiagnosticSeverity.Error, "model.json: the model has no \"nodes\" property; it is required");
        AssertErrors(r, "BBCU011");
        AssertAt(d, json, "{\n  \"format\"", "{", length: 1);
    }

    [Fact]
    public void RootNotAnObject_BBCU011()
    {
        const string json = "\n  [1, 2]";
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU011", DiagnosticSeverity.Error, "model.json: the model must be a JSON object, not an array");
        AssertAt(d, json, "[", "[", length: 1);
    }

    [Fact]
    public void EmptyInputName_BBCU011()
    {
        string json = Edit("\"name\": \"x\"", "\"name\": \"\"", "\"inputs\": [\"x\"]", "\"inputs\": [\"\"]");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU011", DiagnosticSeverity.Error, "model.json: the input's \"name\" must not be empty");
        AssertAt(d, json, "{\"name\": \"\"", "{", length: "{\"name\": \"\", \"channels\": 1}".Length);
    }

    [Fact]
    public void SeveralStructuralErrorsAreAllReported_BBCU011()
    {
        // The parser goes on after an error, so one build shows every problem.
        string json = Edit("\"version\": 1", "\"version\": 3", "\"bbcu-model\"", "\"bbcu\"", "\"name\": \"tiny\",", "\"name\": \"tiny\", \"extra\": 1,");
        GeneratorResult r = Run(json, TinyWeights());
        Assert.Equal(3, r.GeneratorDiagnostics.Count(d => d.Id == "BBCU011"));
        AssertErrors(r, "BBCU011", "BBCU011", "BBCU011");
    }

    // ------------------------------------------------------------------------------------------------------------
    // BBCU012–023: graph and weights validation
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void UnknownOp_BBCU012()
    {
        string json = Edit("\"op\": \"relu\"", "\"op\": \"gelu\"");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU012", DiagnosticSeverity.Error,
            "model.json: node 'act' uses the unknown op 'gelu'; supported ops are ", "conv2d", "binary_conv2d", "relu", "leaky_relu", "div");
        AssertErrors(r, "BBCU012");
        AssertAt(d, json, "\"gelu\"", "\"gelu\"");
    }

    [Fact]
    public void UnknownOpIsCaseSensitive_BBCU012()
    {
        string json = Edit("\"op\": \"binary_conv2d\"", "\"op\": \"BinaryConv2d\"");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU012", DiagnosticSeverity.Error, "node 'body' uses the unknown op 'BinaryConv2d'");
        AssertAt(d, json, "\"BinaryConv2d\"", "\"BinaryConv2d\"");
    }

    [Fact]
    public void TensorNotInWeights_BBCU013()
    {
        string json = Edit("\"weight\": \"body.weight\"", "\"weight\": \"body.wieght\"");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU013", DiagnosticSeverity.Error,
            "model.json: node 'body' references tensor 'body.wieght', which is not in the weights file 'model.safetensors'",
            "check the state_dict key or re-export the weights");
        AssertErrors(r, "BBCU013");
        AssertAt(d, json, "\"body.wieght\"", "\"body.wieght\"");
        // The tensor the typo missed is unused, and it is the only one reported (the tensors of the nodes downstream of
        // the failed one are not called unused: see NoSpuriousUnusedTensorWarningsAfterAnError_BBCU014).
        Diagnostic unused = Assert.Single(r.GeneratorDiagnostics, x => x.Id == "BBCU014");
        Assert.Contains("'body.weight'", unused.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void UnusedTensor_BBCU014()
    {
        var tensors = TinyTensors();
        tensors.Add(("extra.unused", new[] { 3 }, new[] { 1f, 2f, 3f }));
        GeneratorResult r = Run(TinyJson, SafetensorsIo.Write(tensors));
        Diagnostic d = AssertDiagnostic(r, "BBCU014", DiagnosticSeverity.Warning,
            "model.safetensors: 1 tensor(s) are never used by the model 'tiny': 'extra.unused'", "remove them from the weights file or reference them from a node");
        AssertAtWeightsFile(d);
        // A warning: the model is still compiled.
        Assert.Single(r.GeneratorDiagnostics);
        Assert.Contains("class Model", r.GeneratedSource);
    }

    /// <summary>A checkpoint with thousands of extra tensors (optimizer state, EMA copies) gives one warning, not thousands.</summary>
    [Fact]
    public void ManyUnusedTensorsGiveOneSummary_BBCU014()
    {
        var tensors = TinyTensors();
        for (int i = 0; i < 3000; i++) tensors.Add(($"ema.{i:D4}", new[] { 1 }, new[] { 1f }));
        GeneratorResult r = Run(TinyJson, SafetensorsIo.Write(tensors));
        Diagnostic d = AssertDiagnostic(r, "BBCU014", DiagnosticSeverity.Warning,
            "model.safetensors: 3000 tensor(s) are never used by the model 'tiny': 'ema.0000', 'ema.0001', 'ema.0002', 'ema.0003', 'ema.0004' and 2995 more;");
        Assert.Single(r.GeneratorDiagnostics, x => x.Id == "BBCU014");
        Assert.Contains("class Model", r.GeneratedSource);
    }

    /// <summary>At most ten diagnostics of one ID per model; one BBCU033 says how many more there were.</summary>
    [Fact]
    public void DiagnosticsOfOneIdAreCappedAndCounted_BBCU033()
    {
        string dead = string.Concat(Enumerable.Range(0, 13).Select(i => $"\n    {{\"op\": \"relu\", \"name\": \"dead{i}\", \"inputs\": [\"x\"], \"output\": \"d{i}\"}},"));
        string json = TinyJson.Replace("\"nodes\": [", "\"nodes\": [" + dead, StringComparison.Ordinal);
        GeneratorResult r = Run(json, TinyWeights());
        Assert.Equal(10, r.GeneratorDiagnostics.Count(x => x.Id == "BBCU021"));
        Diagnostic d = AssertDiagnostic(r, "BBCU033", DiagnosticSeverity.Warning,
            "'TestModels.Model': 3 more BBCU021 diagnostic(s) of this model are not shown (at most 10 of each ID are); fix the ones shown and rebuild to see the rest");
        AssertAt(d, GeneratorHarness.DefaultSource, "BbcuModel(\"model.json\", \"model.safetensors\")", "BbcuModel(\"model.json\", \"model.safetensors\")", fileName: "Model.cs");
        Assert.Contains("class Model", r.GeneratedSource); // warnings only: still compiled
    }

    [Fact]
    public void WrongPerChannelShape_BBCU015()
    {
        GeneratorResult r = Run(TinyJson, TinyWeightsWith("body.move", new[] { 1, 3, 1, 1 }, new[] { 0.1f, 0.2f, 0.3f }));
        Diagnostic d = AssertDiagnostic(r, "BBCU015", DiagnosticSeverity.Error,
            "model.json: node 'body' needs tensor 'body.move' of shape [1, 2, 1, 1] but the weights file holds [1, 3, 1, 1]");
        AssertErrors(r, "BBCU015");
        AssertAt(d, TinyJson, "\"body.move\"", "\"body.move\"");
    }

    [Fact]
    public void WrongWeightRank_BBCU015()
    {
        GeneratorResult r = Run(TinyJson, TinyWeightsWith("head.weight", new[] { 2, 9 }, Values(18)));
        Diagnostic d = AssertDiagnostic(r, "BBCU015", DiagnosticSeverity.Error,
            "node 'head' needs tensor 'head.weight' of shape [Cout, Cin, k, k] but the weights file holds [2, 9]");
        AssertAt(d, TinyJson, "\"head.weight\"", "\"head.weight\"");
    }

    [Fact]
    public void WrongBiasShape_BBCU015()
    {
        GeneratorResult r = Run(TinyJson, TinyWeightsWith("tail.bias", new[] { 2 }, new[] { 1f, 2f }));
        Diagnostic d = AssertDiagnostic(r, "BBCU015", DiagnosticSeverity.Error, "node 'tail' needs tensor 'tail.bias' of shape [1] but the weights file holds [2]");
        AssertAt(d, TinyJson, "\"tail.bias\"", "\"tail.bias\"");
    }

    [Theory]
    [InlineData("I64", 8)]
    [InlineData("F64", 8)]
    [InlineData("I32", 4)]
    [InlineData("U8", 1)]
    public void UnsupportedDtype_BBCU016(string dtype, int size)
    {
        var tensors = TinyTensors().Select(t => t.Name == "tail.bias"
            ? (t.Name, dtype, t.Shape, new byte[size])
            : (t.Name, "F32", t.Shape, F32Bytes(t.Data)));
        GeneratorResult r = Run(TinyJson, MixedWeights(tensors));
        Diagnostic d = AssertDiagnostic(r, "BBCU016", DiagnosticSeverity.Error,
            $"model.safetensors: tensor 'tail.bias' has dtype {dtype}", "export it as F32");
        AssertErrors(r, "BBCU016");
        AssertAt(d, TinyJson, "\"tail.bias\"", "\"tail.bias\"");
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void HalfPrecisionWeightsAreAccepted(string dtype)
    {
        GeneratorResult r = Run(TinyJson, SafetensorsIo.Write(TinyTensors(), dtype));
        Assert.Empty(r.GeneratorDiagnostics);
    }

    [Fact]
    public void ConvInputChannelMismatch_BBCU017()
    {
        // head.weight says 2 input channels, the model input has 1.
        GeneratorResult r = Run(TinyJson, TinyWeightsWith("head.weight", new[] { 2, 2, 3, 3 }, Values(36)));
        Diagnostic d = AssertDiagnostic(r, "BBCU017", DiagnosticSeverity.Error,
            "model.json: node 'head' expects 2 channels from value 'x', which has 1", "fix the tensor shapes or the node's inputs");
        AssertErrors(r, "BBCU017");
        // Where the node reads the value (the wiring), as for every BBCU017.
        AssertAt(d, TinyJson, "\"head\", \"inputs\": [\"x\"]", "\"x\"");
    }

    [Fact]
    public void AddChannelMismatch_BBCU017()
    {
        string json = Edit("\"output\": \"out\", \"weight\"", "\"output\": \"t\", \"weight\"",
            "\"bias\": \"tail.bias\"}", "\"bias\": \"tail.bias\"},\n    {\"op\": \"add\", \"name\": \"skip\", \"inputs\": [\"t\", \"h\"], \"output\": \"out\"}");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU017", DiagnosticSeverity.Error, "node 'skip' expects 1 channels from value 'h', which has 2");
        AssertErrors(r, "BBCU017");
        AssertAt(d, json, "[\"t\", \"h\"]", "\"h\"");
    }

    [Fact]
    public void UndefinedValue_BBCU018()
    {
        string json = Edit("\"inputs\": [\"h\"]", "\"inputs\": [\"hh\"]");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU018", DiagnosticSeverity.Error,
            "model.json: node 'act' reads value 'hh', which is neither the model input nor produced by any node");
        AssertErrors(r, "BBCU018");
        AssertAt(d, json, "\"hh\"", "\"hh\"");
    }

    [Fact]
    public void UndefinedModelOutput_BBCU011()
    {
        string json = Edit("\"outputs\": [\"out\"]", "\"outputs\": [\"result\"]");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU011", DiagnosticSeverity.Error, "model.json: ", "the model output 'result' is neither the model input nor produced by any node");
        AssertErrors(r, "BBCU011");
        AssertAt(d, json, "\"result\"", "\"result\"");
    }

    [Fact]
    public void DuplicateOutput_BBCU019()
    {
        string json = Edit("\"weight\": \"head.weight\"},", "\"weight\": \"head.weight\"},\n    {\"op\": \"relu\", \"name\": \"dup\", \"inputs\": [\"x\"], \"output\": \"h\"},");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU019", DiagnosticSeverity.Error,
            "model.json: value 'h' is produced by more than one node", "give every node a unique output name");
        AssertErrors(r, "BBCU019");
        AssertAt(d, json, "\"dup\", \"inputs\": [\"x\"], \"output\": \"h\"", "\"h\"");
    }

    [Fact]
    public void OutputShadowsModelInput_BBCU019()
    {
        string json = Edit("\"output\": \"r\"", "\"output\": \"x\"", "\"inputs\": [\"r\"]", "\"inputs\": [\"x\"]");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU019", DiagnosticSeverity.Error, "value 'x' is produced by more than one node (or shadows the model input)");
        AssertAt(d, json, "\"output\": \"x\"", "\"x\"");
    }

    [Fact]
    public void Cycle_BBCU020()
    {
        // relu reads the binary conv's output, which reads the relu's output.
        string json = Edit("\"inputs\": [\"h\"]", "\"inputs\": [\"b\"]");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU020", DiagnosticSeverity.Error, "model.json: the nodes ", "'act'", "'body'", "form a cycle; a model must be a directed acyclic graph");
        AssertErrors(r, "BBCU020");
        AssertAt(d, json, "{\"op\": \"relu\"", "{", length: 1);
    }

    [Fact]
    public void SelfLoop_BBCU020()
    {
        string json = Edit("\"inputs\": [\"h\"], \"output\": \"r\"", "\"inputs\": [\"r\"], \"output\": \"r\"");
        GeneratorResult r = Run(json, TinyWeights());
        AssertDiagnostic(r, "BBCU020", DiagnosticSeverity.Error, "'act'", "form a cycle");
    }

    [Fact]
    public void UnusedNode_BBCU021()
    {
        string json = Edit("\"output\": \"r\"},", "\"output\": \"r\"},\n    {\"op\": \"relu\", \"name\": \"dead\", \"inputs\": [\"h\"], \"output\": \"unused_v\"},");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU021", DiagnosticSeverity.Warning,
            "model.json: the output 'unused_v' of node 'dead' never reaches the model output; remove the node");
        AssertAt(d, json, "\"unused_v\"", "\"unused_v\"");
        Assert.Single(r.GeneratorDiagnostics);
        Assert.Contains("class Model", r.GeneratedSource);
    }

    public static TheoryData<string, int[], string> UnsupportedKernelCases => new()
    {
        { "body.weight", new[] { 2, 2, 5, 5 }, "node 'body': kernel 5×5 of 'body.weight' is not supported; binary convolutions must be 3×3" },
        { "body.weight", new[] { 2, 2, 1, 1 }, "node 'body': kernel 1×1 of 'body.weight' is not supported; binary convolutions must be 3×3" },
        { "head.weight", new[] { 2, 1, 2, 2 }, "node 'head': kernel 2×2 of 'head.weight' is not supported; full-precision convolutions need a square odd kernel up to 11×11" },
        { "head.weight", new[] { 2, 1, 3, 1 }, "node 'head': kernel 3×1 of 'head.weight' is not supported" },
        { "head.weight", new[] { 2, 1, 13, 13 }, "node 'head': kernel 13×13 of 'head.weight' is not supported" },
        { "head.weight", new[] { 0, 1, 3, 3 }, "node 'head': 'head.weight' has 0 output channels; 1 to 4096 are supported" },
    };

    [Theory]
    [MemberData(nameof(UnsupportedKernelCases))]
    public void UnsupportedKernel_BBCU022(string tensor, int[] shape, string fragment)
    {
        int count = shape.Aggregate(1, (a, b) => a * b);
        GeneratorResult r = Run(TinyJson, TinyWeightsWith(tensor, shape, Values(count)));
        Diagnostic d = AssertDiagnostic(r, "BBCU022", DiagnosticSeverity.Error, "model.json: " + fragment);
        AssertErrors(r, "BBCU022");
        AssertAt(d, TinyJson, $"\"{tensor}\"", $"\"{tensor}\"");
    }

    [Fact]
    public void WrongPadding_BBCU022()
    {
        string json = Edit("\"weight\": \"head.weight\"}", "\"weight\": \"head.weight\", \"padding\": 0}");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU022", DiagnosticSeverity.Error,
            "node 'head': padding 0 is not supported; a 3×3 convolution uses 'same' zero padding 1");
        AssertAt(d, json, "\"padding\": 0", "0");

        // The 'same' padding is accepted.
        Assert.Empty(Run(Edit("\"weight\": \"head.weight\"}", "\"weight\": \"head.weight\", \"padding\": 1}"), TinyWeights()).GeneratorDiagnostics);
    }

    [Fact]
    public void NonFiniteWeight_BBCU023()
    {
        float[] w = Values(36);
        w[5] = float.NaN;
        w[7] = float.PositiveInfinity;
        w[30] = float.NegativeInfinity;
        GeneratorResult r = Run(TinyJson, TinyWeightsWith("body.weight", new[] { 2, 2, 3, 3 }, w));
        Diagnostic d = AssertDiagnostic(r, "BBCU023", DiagnosticSeverity.Error,
            "model.safetensors: tensor 'body.weight' holds 3 NaN or infinite value(s), the first at flat index 5", "the checkpoint is corrupt or diverged");
        AssertErrors(r, "BBCU023");
        AssertAt(d, TinyJson, "\"body.weight\"", "\"body.weight\"");
    }

    [Fact]
    public void NonFiniteHalfWeight_BBCU023()
    {
        // F16 overflow to infinity is detected after widening.
        var tensors = TinyTensors();
        tensors[4] = ("tail.bias", new[] { 1 }, new[] { 1e6f });
        GeneratorResult r = Run(TinyJson, SafetensorsIo.Write(tensors, "F16"));
        AssertDiagnostic(r, "BBCU023", DiagnosticSeverity.Error, "tensor 'tail.bias' holds 1 NaN or infinite value(s), the first at flat index 0");
    }

    // ------------------------------------------------------------------------------------------------------------
    // A node wired to the wrong value: one BBCU017 that names the wiring, nothing else (issue 14, item 3)
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void BinaryConvReadingTheWrongValue_BBCU017()
    {
        // 'body' reads the 1-channel model input instead of the 2-channel 'r'. Before: BBCU017, a BBCU015 blaming the
        // correct body.move ("needs [1, 1, 1, 1]"), and a BBCU021 "remove the node" for each of 'head' and 'act'.
        string json = Edit("\"inputs\": [\"r\"]", "\"inputs\": [\"x\"]");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU017", DiagnosticSeverity.Error,
            "model.json: node 'body' expects 2 channels from value 'x', which has 1; fix the tensor shapes or the node's inputs");
        AssertAt(d, json, "\"body\", \"inputs\": [\"x\"]", "\"x\"");
        // Exactly this one: no BBCU015 for body.move or body.weight, no unused-node warnings for the nodes it no longer
        // reads, nothing from 'tail' downstream.
        Assert.Single(r.GeneratorDiagnostics);
    }

    /// <summary>The BBCU-M ×2 fixture, with the node that produces <paramref name="output"/> reading <paramref name="to"/> instead of <paramref name="from"/>.</summary>
    private static (string Json, byte[] Weights) RewiredBbcuM(string output, string from, string to)
    {
        string folder = Repo.Path("tests", "fixtures", "bbcum_x2");
        string json = File.ReadAllText(Path.Combine(folder, "model.json")).Replace("\r\n", "\n", StringComparison.Ordinal);
        json = EditText(json, $"\"inputs\": [\n        \"{from}\"\n      ],\n      \"output\": \"{output}\"",
                              $"\"inputs\": [\n        \"{to}\"\n      ],\n      \"output\": \"{output}\"");
        return (json, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
    }

    /// <summary>A unique anchor for <see cref="RewiredBbcuM"/>'s edit: the new input, in the rewired node.</summary>
    private static string RewiredAt(string output, string to) => $"\"{to}\"\n      ],\n      \"output\": \"{output}\"";

    /// <summary>
    /// In BBCU-M, a node reads the amplified 3-channel input instead of 16-channel features: the first binary conv (its
    /// input_bias, RPReLU, residual add and everything downstream would fail too), or an RPReLU (whose three per-channel
    /// tensors agree on 16: not a BBCU015 for each of bias0, slope and bias1). Only the wiring is reported.
    /// </summary>
    [Theory]
    [InlineData("body.0.body.0.conv", "h0", "body.0.body.0")]
    [InlineData("body.0.body.0.act", "body.0.body.0.conv", "body.0.body.0.relu")]
    public void WrongWiringInARealModelIsReportedOnce_BBCU017(string output, string from, string node)
    {
        var (json, weights) = RewiredBbcuM(output, from, "x_amp");
        GeneratorResult r = Run(json, weights);
        Diagnostic d = AssertDiagnostic(r, "BBCU017", DiagnosticSeverity.Error,
            $"model.json: node '{node}' expects 16 channels from value 'x_amp', which has 3; fix the tensor shapes or the node's inputs");
        AssertAt(d, json, RewiredAt(output, "x_amp"), "\"x_amp\"");
        Assert.Single(r.GeneratorDiagnostics);
    }

    [Fact]
    public void WrongWiringFoundDownstreamIsReportedOnce_BBCU017()
    {
        // A leaky ReLU has no per-channel tensors, so reading the 3-channel 'x_amp' instead of 'hr' surfaces at the
        // conv that reads its output. Before: that BBCU017, ten BBCU021 "remove the node" for the nodes the wrong
        // wire left unread and a BBCU033 for six more.
        var (json, weights) = RewiredBbcuM("hr_act", "hr", "x_amp");
        GeneratorResult r = Run(json, weights);
        AssertDiagnostic(r, "BBCU017", DiagnosticSeverity.Error, "model.json: node 'conv_last' expects 16 channels from value 'hr_act', which has 3");
        Assert.Single(r.GeneratorDiagnostics);
    }

    [Fact]
    public void BinaryConvWeightThatFitsNeitherItsInputNorItsInputBias_BBCU015()
    {
        // The input and body.move agree on 2 channels; body.weight says 3: the weight is wrong, not the wiring.
        GeneratorResult r = Run(TinyJson, TinyWeightsWith("body.weight", new[] { 2, 3, 3, 3 }, Values(54)));
        Diagnostic d = AssertDiagnostic(r, "BBCU015", DiagnosticSeverity.Error,
            "model.json: node 'body' needs tensor 'body.weight' of shape [2, 2, 3, 3] but the weights file holds [2, 3, 3, 3]");
        AssertAt(d, TinyJson, "\"body.weight\"", "\"body.weight\"");
        Assert.Single(r.GeneratorDiagnostics);
    }

    [Fact]
    public void PerChannelTensorsThatDisagree_BBCU015()
    {
        // The tensors do not agree among themselves: the odd one is a wrong tensor, reported as such.
        string json = WithNodes("{\"op\": \"rprelu\", \"name\": \"act2\", \"inputs\": [\"b\"], \"output\": \"a\", \"bias0\": \"act2.b0\", \"slope\": \"act2.slope\", \"bias1\": \"act2.b1\"}", "a");
        var tensors = TinyTensors();
        tensors.Add(("act2.b0", new[] { 1, 3, 1, 1 }, new[] { 0.1f, 0.2f, 0.3f }));
        tensors.Add(("act2.slope", new[] { 2 }, new[] { 0.25f, 0.25f }));
        tensors.Add(("act2.b1", new[] { 1, 2, 1, 1 }, new[] { 0.1f, 0.2f }));
        GeneratorResult r = Run(json, SafetensorsIo.Write(tensors));
        Diagnostic d = AssertDiagnostic(r, "BBCU015", DiagnosticSeverity.Error,
            "model.json: node 'act2' needs tensor 'act2.b0' of shape [1, 2, 1, 1] but the weights file holds [1, 3, 1, 1]");
        AssertAt(d, json, "\"act2.b0\"", "\"act2.b0\"");
        Assert.Single(r.GeneratorDiagnostics);

        // All three on 3 channels while 'b' has 2: the node reads the wrong value.
        tensors[^2] = ("act2.slope", new[] { 3 }, new[] { 0.25f, 0.25f, 0.25f });
        tensors[^1] = ("act2.b1", new[] { 3 }, new[] { 0.1f, 0.2f, 0.3f });
        GeneratorResult wired = Run(json, SafetensorsIo.Write(tensors));
        AssertDiagnostic(wired, "BBCU017", DiagnosticSeverity.Error, "model.json: node 'act2' expects 3 channels from value 'b', which has 2");
        Assert.Single(wired.GeneratorDiagnostics);
    }

    // ------------------------------------------------------------------------------------------------------------
    // BBCU024: malformed safetensors
    // ------------------------------------------------------------------------------------------------------------

    private const string OneTensor = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    private static byte[] MalformedWeights(string name) => name switch
    {
        "shorter than 8 bytes" => new byte[] { 1, 0, 0, 0, 0 },
        "empty file" => Array.Empty<byte>(),
        "header over 100 MB" => Raw(Encoding.UTF8.GetBytes("{}"), Array.Empty<byte>(), 100_000_001),
        "header length 2^64-1" => Raw(Encoding.UTF8.GetBytes("{}"), Array.Empty<byte>(), ulong.MaxValue),
        "header beyond file" => Raw(Encoding.UTF8.GetBytes("{" + OneTensor + "}"), new byte[8], 1000),
        "header length 0" => Raw(Array.Empty<byte>(), new byte[8]),
        "header is an array" => Raw("[1]", 8),
        "invalid UTF-8" => Raw(Encoding.UTF8.GetBytes("{\"a\":{}, \"").Concat(new byte[] { 0xff, 0xfe }).Concat(Encoding.UTF8.GetBytes("\":1}")).ToArray(), Array.Empty<byte>()),
        "invalid JSON" => Raw("{" + OneTensor + ",}", 8),
        "header JSON then garbage" => Raw("{" + OneTensor + "} x", 8),
        "entry not object" => Raw("{\"a\":[1]}", 0),
        "unknown dtype" => Raw("{\"a\":{\"dtype\":\"F99\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
        "repeated dtype field" => Raw("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
        "fractional shape" => Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8),
        "lone surrogate escape" => Raw("{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
        "negative shape" => Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8),
        "shape x size != span" => Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
        "end before begin" => Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8),
        "overlapping offsets" => Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
        "hole in offsets" => Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12),
        "trailing bytes" => Raw("{" + OneTensor + "}", 12),
        "truncated data" => Raw("{" + OneTensor + "}", 4),
        "duplicate tensor names" => Raw("{" + OneTensor + "," + OneTensor.Replace("[0,8]", "[8,16]", StringComparison.Ordinal) + "}", 16),
        "metadata not strings" => Raw("{\"__metadata__\":{\"format\":1}," + OneTensor + "}", 8),
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string, string> MalformedWeightsCases => new()
    {
        { "shorter than 8 bytes", "the file is 5 bytes long, shorter than the 8-byte header length" },
        { "empty file", "the file is 0 bytes long, shorter than the 8-byte header length" },
        { "header over 100 MB", "the header length field says 100000001 bytes, over the 100000000-byte limit" },
        { "header length 2^64-1", "the header length field says 18446744073709551615 bytes, over the 100000000-byte limit" },
        { "header beyond file", "the header length field says 1000 bytes but only " },
        { "header length 0", "the header is not valid JSON (the header ends where a value was expected at line 1, column 1)" },
        { "header is an array", "the header is an array, not a JSON object" },
        { "invalid UTF-8", "the header is not valid UTF-8" },
        { "invalid JSON", "the header is not valid JSON (a property name in double quotes was expected at line 1, column " },
        { "header JSON then garbage", "the header is not valid JSON (unexpected text after the end of the JSON value" },
        { "entry not object", "tensor 'a': its header entry is an array of 1; the array form is [dtype, shape, data_offsets]" },
        { "unknown dtype", "tensor 'a': unknown dtype \"F99\"" },
        { "repeated dtype field", "tensor 'a': the field \"dtype\" appears twice" },
        { "fractional shape", "tensor 'a': a shape entry is the number 2.0; sizes and offsets must be non-negative integers written without a sign, fraction or exponent" },
        { "lone surrogate escape", "the header is not valid JSON (a \\u escape of a high surrogate not followed by a \\u escape of a low one at line 1, column 9)" },
        { "negative shape", "tensor 'a': a shape entry is the integer -2; sizes and offsets must be non-negative integers written without a sign, fraction or exponent" },
        { "shape x size != span", "tensor 'a': shape [3] of F32 needs 12 bytes but data_offsets span 8" },
        { "end before begin", "tensor 'a': data_offsets end 0 is before begin 8" },
        { "overlapping offsets", "tensor 'b' (bytes 4..12) overlaps tensor 'a'" },
        { "hole in offsets", "there is a hole in the data between byte 4 and tensor 'b' at byte 8; offsets must be contiguous from 0" },
        { "trailing bytes", "the data section holds 12 bytes but the tensors cover only 8; the file has trailing bytes or a tensor is missing from the header" },
        { "truncated data", "the tensors need 8 bytes of data but the file holds only 4 (truncated?)" },
        { "duplicate tensor names", "there is a hole in the data between byte 0 and tensor 'a' at byte 8" }, // the last entry of a name wins
        { "metadata not strings", "__metadata__ value 'format' is the integer 1, not a string" },
    };

    [Theory]
    [MemberData(nameof(MalformedWeightsCases))]
    public void MalformedSafetensors_BBCU024(string name, string fragment)
    {
        GeneratorResult r = Run(TinyJson, MalformedWeights(name));
        Diagnostic d = AssertDiagnostic(r, "BBCU024", DiagnosticSeverity.Error, "model.safetensors: malformed safetensors file: " + fragment);
        AssertErrors(r, "BBCU024");
        AssertAtWeightsFile(d);
    }

    [Fact]
    public void PaddedHeaderAndMetadataAreAccepted()
    {
        // The reference writer pads the header with spaces to 8-byte alignment and may add __metadata__.
        var tensors = TinyTensors();
        var header = new StringBuilder("{\"__metadata__\":{\"format\":\"bbcu-weights\"}");
        var data = new MemoryStream();
        foreach (var (n, shape, values) in tensors)
        {
            header.Append($",\"{n}\":{{\"dtype\":\"F32\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{data.Length},{data.Length + 4 * values.Length}]}}");
            data.Write(F32Bytes(values));
        }
        header.Append('}');
        while (header.Length % 8 != 0) header.Append(' ');
        GeneratorResult r = Run(TinyJson, Raw(Encoding.UTF8.GetBytes(header.ToString()), data.ToArray()));
        Assert.Empty(r.GeneratorDiagnostics);
    }

    [Fact]
    public void WeightsFileMissingOnDisk_BBCU007()
    {
        // Listed as an AdditionalFiles item but not on disk: a wrong path, never "malformed".
        string dir = Repo.TempFolder("diag");
        File.WriteAllText(Path.Combine(dir, "model.json"), TinyJson);
        GeneratorResult r = Check(GeneratorHarness.RunFolder(dir));
        Diagnostic d = AssertDiagnostic(r, "BBCU007", DiagnosticSeverity.Error,
            "'model.safetensors' named by [BbcuModel] on 'TestModels.Model' is the AdditionalFiles item '", "model.safetensors', but there is no file at that path; fix the path in the project file or put the file there");
        AssertErrors(r, "BBCU007");
        AssertAt(d, GeneratorHarness.DefaultSource, "\"model.safetensors\"", "\"model.safetensors\"", fileName: "Model.cs");
    }

    [Fact]
    public void MalformedJsonAndWeightsAreBothReported()
    {
        GeneratorResult r = Run("{", MalformedWeights("truncated data"));
        AssertErrors(r, "BBCU010", "BBCU024");
    }

    // ------------------------------------------------------------------------------------------------------------
    // BBCU030–031: exact zeros (infos; the model is still compiled)
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void SignInputCanBeZeroAfterRelu_BBCU030()
    {
        GeneratorResult r = Run(TinyJson, TinyWeightsWith("body.move", new[] { 1, 2, 1, 1 }, new[] { 0f, -0.5f }));
        Diagnostic d = AssertDiagnostic(r, "BBCU030", DiagnosticSeverity.Info,
            "model.json: binary conv 'body' reads 'r', which can be exactly at the Sign threshold in channels 0 (threshold exactly 0 after ReLU)",
            "the compiled model reproduces it exactly with per-pixel zero masks");
        AssertAt(d, TinyJson, "\"binary_conv2d\"", "\"binary_conv2d\"");
        Assert.Single(r.GeneratorDiagnostics);
        Assert.Contains("class Model", r.GeneratedSource);
    }

    [Fact]
    public void SignInputCanBeZeroWithoutInputBias_BBCU030()
    {
        // No input_bias: every channel's threshold is 0 (negative zero counts too).
        string json = Edit("\"input_bias\": \"body.move\", ", "");
        var tensors = TinyTensors().Where(t => t.Name != "body.move").ToList();
        GeneratorResult r = Run(json, SafetensorsIo.Write(tensors));
        AssertDiagnostic(r, "BBCU030", DiagnosticSeverity.Info, "binary conv 'body' reads 'r'", "in channels 0-1 ");

        GeneratorResult negativeZero = Run(TinyJson, TinyWeightsWith("body.move", new[] { 1, 2, 1, 1 }, new[] { 0.5f, -0f }));
        AssertDiagnostic(negativeZero, "BBCU030", DiagnosticSeverity.Info, "in channels 1 ");
    }

    [Fact]
    public void ZeroBinaryWeights_BBCU031()
    {
        float[] w = Values(36);
        w[18] = 0f; // output channel 1
        w[20] = -0f;
        w[35] = 0f;
        GeneratorResult r = Run(TinyJson, TinyWeightsWith("body.weight", new[] { 2, 2, 3, 3 }, w));
        Diagnostic d = AssertDiagnostic(r, "BBCU031", DiagnosticSeverity.Info,
            "model.json: tensor 'body.weight' has 3 exactly-zero weight(s) in output channels 1;", "the compiled model reproduces exactly with weight masks");
        AssertAt(d, TinyJson, "\"body.weight\"", "\"body.weight\"");
        Assert.Single(r.GeneratorDiagnostics);
        Assert.Contains("class Model", r.GeneratedSource);
    }

    [Fact]
    public void ZeroBinaryWeightsInSeveralChannels_BBCU031()
    {
        float[] w = Values(36);
        w[0] = 0f;
        w[27] = 0f;
        GeneratorResult r = Run(TinyJson, TinyWeightsWith("body.weight", new[] { 2, 2, 3, 3 }, w));
        AssertDiagnostic(r, "BBCU031", DiagnosticSeverity.Info, "has 2 exactly-zero weight(s) in output channels 0-1;");
    }

    // ------------------------------------------------------------------------------------------------------------
    // BBCU099: internal error. No valid or invalid input should reach it; an AdditionalText that throws does.
    // ------------------------------------------------------------------------------------------------------------

    private sealed class ThrowingText : AdditionalText
    {
        public ThrowingText(string path) => Path = path;

        public override string Path { get; }

        public override SourceText? GetText(CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("simulated failure."); // ends with a period, as most exception messages do
    }

    [Fact]
    public void ExceptionInsideTheCompilerBecomesInternalError_BBCU099()
    {
        string dir = Repo.TempFolder("diag");
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), TinyWeights());
        var files = new AdditionalText[] { new ThrowingText(Path.Combine(dir, "model.json")), new FileText(Path.Combine(dir, "model.safetensors")) };
        GeneratorResult r = Check(GeneratorHarness.Run(GeneratorHarness.CreateCompilation(GeneratorHarness.DefaultSource), GeneratorHarness.CreateDriver(files)));
        Diagnostic d = AssertDiagnostic(r, "BBCU099", DiagnosticSeverity.Error,
            "BbcuCompiler failed while compiling 'TestModels.Model': InvalidOperationException: simulated failure. This is a bug in BbcuCompiler; please report it with the model file");
        Assert.DoesNotContain("..", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        AssertErrors(r, "BBCU099");
        // At the [BbcuModel(...)] attribute.
        AssertAt(d, GeneratorHarness.DefaultSource, "BbcuModel(\"model.json\", \"model.safetensors\")", "BbcuModel(\"model.json\", \"model.safetensors\")", fileName: "Model.cs");
    }

    [Fact]
    public void InternalErrorDescriptorFormat_BBCU099()
    {
        DiagnosticDescriptor d = BbcuDiagnostics.InternalError;
        Assert.Equal("BBCU099", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.DefaultSeverity);
        string message = Diagnostic.Create(d, Location.None, "Ns.Model", "NullReferenceException: x").GetMessage(CultureInfo.InvariantCulture);
        Assert.Equal("BbcuCompiler failed while compiling 'Ns.Model': NullReferenceException: x. This is a bug in BbcuCompiler; please report it with the model file", message);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Regressions: generator bugs that were found and fixed. Each test states the wanted behaviour.
    // ------------------------------------------------------------------------------------------------------------

    private static string WithScalarNode(string op, string scalar) =>
        Edit("\"output\": \"out\", \"weight\"", "\"output\": \"t\", \"weight\"",
            "\"bias\": \"tail.bias\"}", "\"bias\": \"tail.bias\"},\n    {\"op\": \"" + op + "\", \"name\": \"scale\", \"inputs\": [\"t\"], \"output\": \"out\", \"scalar\": " + scalar + "}");

    [Theory]
    [InlineData("div", "1e-50")]
    [InlineData("mul", "1e300")]
    public void ScalarsOutsideFloat32AreRejected_BBCU011(string op, string scalar)
    {
        string json = WithScalarNode(op, scalar);
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU011", DiagnosticSeverity.Error, "node 'scale'");
        AssertAt(d, json, "\"scalar\": " + scalar, scalar);
    }

    [Fact]
    public void CycleMessageNamesOnlyTheNodesOnTheCycle_BBCU020()
    {
        GeneratorResult r = Run(Edit("\"inputs\": [\"h\"]", "\"inputs\": [\"b\"]"), TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU020", DiagnosticSeverity.Error, "'act'", "'body'");
        Assert.DoesNotContain("'tail'", d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void NoSpuriousUnusedTensorWarningsAfterAnError_BBCU014()
    {
        GeneratorResult r = Run(Edit("\"weight\": \"body.weight\"", "\"weight\": \"body.wieght\""), TinyWeights());
        AssertDiagnostic(r, "BBCU014", DiagnosticSeverity.Warning, "'body.weight'");
    }

    // ------------------------------------------------------------------------------------------------------------
    // Ops that change size or layout
    // ------------------------------------------------------------------------------------------------------------

    private const string TailNode = "{\"op\": \"conv2d\", \"name\": \"tail\", \"inputs\": [\"b\"]";

    /// <summary>The tiny model with <paramref name="nodes"/> inserted before the tail, which then reads <paramref name="tailInput"/>.</summary>
    private static string WithNodes(string nodes, string tailInput) =>
        Edit(TailNode, nodes + ",\n    {\"op\": \"conv2d\", \"name\": \"tail\", \"inputs\": [\"" + tailInput + "\"]");

    [Fact]
    public void ElementwiseOpOnDifferentSizes_BBCU025()
    {
        string json = WithNodes("{\"op\": \"upsample\", \"name\": \"up\", \"inputs\": [\"b\"], \"output\": \"u\", \"mode\": \"nearest\", \"factor\": 2},\n" +
                                "    {\"op\": \"add\", \"name\": \"sum\", \"inputs\": [\"u\", \"b\"], \"output\": \"s\"}", "s");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU025", DiagnosticSeverity.Error, "model.json: ", "node 'sum'", "'u' at 2×", "'b' at 1×", "check the upsampling factors");
        AssertErrors(r, "BBCU025");
        AssertAt(d, json, "[\"u\", \"b\"]", "\"b\"");
    }

    [Fact]
    public void PixelShuffleOfIndivisibleChannels_BBCU017()
    {
        string json = WithNodes("{\"op\": \"pixel_shuffle\", \"name\": \"shuffle\", \"inputs\": [\"b\"], \"output\": \"p\", \"factor\": 2}", "p");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU017", DiagnosticSeverity.Error, "node 'shuffle' expects a multiple of 4 (factor²) channels from value 'b', which has 2");
        AssertErrors(r, "BBCU017");
    }

    [Fact]
    public void BilinearWithAlignCornersTrue_BBCU022()
    {
        string json = WithNodes("{\"op\": \"upsample\", \"name\": \"up\", \"inputs\": [\"b\"], \"output\": \"u\", \"mode\": \"bilinear\", \"factor\": 2, \"align_corners\": true}", "u");
        GeneratorResult r = Run(json, TinyWeights());
        Diagnostic d = AssertDiagnostic(r, "BBCU022", DiagnosticSeverity.Error, "node 'up'", "align_corners = true is not supported");
        AssertErrors(r, "BBCU022");
        AssertAt(d, json, "\"align_corners\": true", "true");
    }

    [Fact]
    public void ChannelExpandThatDoesNotTypeCheck_BBCU017()
    {
        // BBCU-H needs Cout = s·Cin + 1: 2 binary-conv channels cannot take the residual of a 1-channel input repeated twice (3 channels).
        string json = WithNodes("{\"op\": \"channel_expand\", \"name\": \"expand\", \"inputs\": [\"x\"], \"output\": \"e\", \"repeats\": 2},\n" +
                                "    {\"op\": \"add\", \"name\": \"head_residual\", \"inputs\": [\"b\", \"e\"], \"output\": \"s\"}", "s");
        GeneratorResult r = Run(json, TinyWeights());
        AssertDiagnostic(r, "BBCU017", DiagnosticSeverity.Error, "node 'head_residual' expects 2 channels from value 'e', which has 3");
        AssertErrors(r, "BBCU017");
    }

    [Fact]
    public void UpsampleWithoutAMode_BBCU011()
    {
        string json = WithNodes("{\"op\": \"upsample\", \"name\": \"up\", \"inputs\": [\"b\"], \"output\": \"u\", \"factor\": 2}", "u");
        GeneratorResult r = Run(json, TinyWeights());
        AssertDiagnostic(r, "BBCU011", DiagnosticSeverity.Error, "node 'up': upsample needs \"mode\": \"nearest\" or \"bilinear\"");
        AssertErrors(r, "BBCU011");
    }

    [Fact]
    public void EveryCompiledModelReportsItsCost_BBCU032()
    {
        GeneratorResult r = GeneratorHarness.RunModel(TinyJson, TinyWeights());
        // head 1→2 (18 MACs per pixel), body binary 2→2 (36/64), tail 2→1 (18), at 320×180 = 57 600 pixels.
        Diagnostic d = AssertDiagnostic(r, "BBCU032", DiagnosticSeverity.Info, "Model: model 'tiny' at 320×180: OPs 0.00 G",
            "Params 0.0 K (head 0.0, body 0.0, upsampling 0.0, tail 0.0)", "packed binary weights 288 B", "workspace");
        AssertAt(d, GeneratorHarness.DefaultSource, "BbcuModel(\"model.json\", \"model.safetensors\")", "BbcuModel(\"model.json\", \"model.safetensors\")", fileName: "Model.cs");
    }
}
