using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Bbcu.Tests.Fuzzing;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// Mutation fuzzing of the model-file readers through the generator's own pipeline
/// (<c>ModelCompiler.Compile</c>): valid fixture pairs mutated by <see cref="Mutators"/> (1–3 mutations per
/// case). Every case must: return (no exception escapes), within its deadline, allocating at most a small
/// multiple of its input size, with no BBCU099 (an internal error is a crash the pipeline caught);
/// a rejected case carries BBCU0xx errors and no model (only the throwing stand-in), an accepted one a
/// model. CI runs a fixed-seed few hundred; <c>Category=LongRun</c> runs 10 000 (or BBCU_FUZZ_CASES).
/// A failing case is written to a folder (printed) to be added under tests/fuzz-regressions/, which
/// <see cref="RegressionCasesStayFixed"/> replays on every run.
/// </summary>
public sealed class FuzzTests
{
    /// <summary>The names the generator gives the binary layers' shape structs (<c>IBinaryConvLayer</c>).</summary>
    private static readonly System.Text.RegularExpressions.Regex LayerStructName =
        new(@"^Binary[0-9]+To[0-9]+(_PRelu)?(_Bias1)?(_Residual)?(_PacksNext)?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>Seed models: small fixtures covering every op kind.</summary>
    private static readonly string[] Seeds =
    {
        "dncnn_c3_nc16_nb6", "dncnn3_g1_nc16_nb4", "dncnn_zero_weights", "bbcum_x3", "bbcul_x2", "unit_h", "unit_t", "unit_u2", "unit_v1", "unit_v3",
    };

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly ITestOutputHelper _out;

    public FuzzTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void FixedSeedCampaign() => Campaign(seed: 20261126, cases: 300);

    [Fact]
    [Trait("Category", "LongRun")]
    public void LongCampaign()
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("BBCU_FUZZ_CASES"), out int n) && n > 0 ? n : 10_000;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("BBCU_FUZZ_SEED"), out int s) ? s : 1;
        Campaign(seed, cases);
    }

    [Fact]
    public void RegressionCasesStayFixed()
    {
        string root = Repo.Path("tests", "fuzz-regressions");
        string[] dirs = Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(dirs);
        using var harness = new FuzzHarness();
        foreach (string dir in dirs)
        {
            string json = File.ReadAllText(Path.Combine(dir, "model.json"));
            byte[] weights = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));
            FuzzOutcome o = harness.Run(json, weights, Deadline);
            string? problem = Check(o, Encoding.UTF8.GetByteCount(json) + weights.Length);
            _out.WriteLine($"{Path.GetFileName(dir)}: {(problem ?? "ok")} [{string.Join(", ", o.Ids.Distinct())}]");
            Assert.True(problem is null, $"{Path.GetFileName(dir)}: {problem}");
            // about.txt says what must happen: "expect: BBCU0xx" (rejected with that error) or "expect: compiles".
            string? expect = File.ReadAllLines(Path.Combine(dir, "about.txt")).FirstOrDefault(l => l.StartsWith("expect: ", StringComparison.Ordinal))?[8..].Trim();
            Assert.False(expect is null, $"{Path.GetFileName(dir)}/about.txt has no 'expect: BBCU0xx' or 'expect: compiles' line");
            if (expect == "compiles") Assert.False(o.Rejected, $"{Path.GetFileName(dir)} must compile; it was rejected with {string.Join(", ", o.ErrorIds)}");
            else Assert.Contains(expect, o.ErrorIds);
        }
    }

    private void Campaign(int seed, int cases)
    {
        var seeds = Seeds.Select(f => (Name: f, Case: new FuzzCase(File.ReadAllBytes(Repo.Path("tests", "fixtures", f, "model.json")),
            File.ReadAllBytes(Repo.Path("tests", "fixtures", f, "model.safetensors"))))).ToArray();
        var stats = Mutators.All.ToDictionary(m => m.Name, _ => (Rejected: 0, Accepted: 0));
        var ids = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var failures = new List<string>();
        string failDir = Path.Combine(Path.GetTempPath(), "bbcu-fuzz-failures");
        long maxAllocated = 0;
        double maxRatio = 0;
        TimeSpan slowest = TimeSpan.Zero;
        using var harness = new FuzzHarness();
        for (int i = 0; i < cases; i++)
        {
            var rng = new Random(unchecked(seed * 1_000_003 + i));
            var (seedName, original) = seeds[rng.Next(seeds.Length)];
            FuzzCase c = original.Clone();
            var applied = new List<string>();
            int count = 1 + (rng.Next(4) == 0 ? rng.Next(3) : 0);
            for (int k = 0; k < count; k++)
            {
                var (name, apply) = Mutators.All[rng.Next(Mutators.All.Length)];
                apply(rng, c);
                applied.Add(name);
            }
            string json = c.JsonText;
            FuzzOutcome o = harness.Run(json, c.Weights, Deadline);
            long size = c.Json.Length + c.Weights.Length;
            string? problem = Check(o, size);
            foreach (string m in applied)
            {
                var s = stats[m];
                stats[m] = o.Rejected ? (s.Rejected + 1, s.Accepted) : (s.Rejected, s.Accepted + 1);
            }
            foreach (string id in o.Ids.Distinct()) ids[id] = ids.GetValueOrDefault(id) + 1;
            maxAllocated = Math.Max(maxAllocated, o.AllocatedBytes);
            maxRatio = Math.Max(maxRatio, o.AllocatedBytes / (double)Math.Max(1, size));
            if (o.Elapsed > slowest) slowest = o.Elapsed;
            if (problem is not null)
            {
                string dir = Path.Combine(failDir, $"seed{seed}-case{i}");
                Directory.CreateDirectory(dir);
                File.WriteAllBytes(Path.Combine(dir, "model.json"), c.Json);
                File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), c.Weights);
                File.WriteAllText(Path.Combine(dir, "about.txt"), $"fixture {seedName}, mutators {string.Join(" + ", applied)}\n{problem}\n");
                failures.Add($"case {i} ({seedName}: {string.Join(" + ", applied)}): {problem} -> {dir}");
            }
        }
        int rejected = stats.Values.Sum(s => s.Rejected), accepted = stats.Values.Sum(s => s.Accepted);
        _out.WriteLine($"{cases} cases, seed {seed}: {failures.Count} failures; slowest {slowest.TotalMilliseconds:F0} ms; " +
            $"most allocated {maxAllocated / 1048576.0:F1} MiB; worst allocated/input ratio {maxRatio:F1}");
        _out.WriteLine("mutator: rejected / accepted (a case with several mutators counts for each)");
        foreach (var (name, s) in stats) _out.WriteLine($"  {name,-22} {s.Rejected,6} / {s.Accepted,-6}");
        _out.WriteLine("diagnostics (cases reporting each id): " + string.Join(", ", ids.Select(p => $"{p.Key} {p.Value}")));
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases} fuzz cases failed:\n" + string.Join("\n", failures.Take(20)));
        // The campaign must exercise both sides: cases the readers reject and mutated cases that still compile.
        Assert.True(rejected > 0 && accepted > 0, $"degenerate campaign: {rejected} rejected, {accepted} accepted");
    }

    /// <summary>The invariants of one case; null when they hold.</summary>
    private static string? Check(FuzzOutcome o, long inputBytes)
    {
        if (o.TimedOut) return $"ran past the {Deadline.TotalSeconds:F0} s deadline (a hang?)";
        if (o.Escaped is not null) return $"an exception escaped the generator: {o.Escaped}";
        if (o.Ids.Contains("BBCU099")) return "BBCU099: the pipeline hit an internal error (a crash it caught)";
        // Memory: the generated source for a valid model is a few times its weights as text; 64 bytes per input byte plus 32 MiB of slack.
        long limit = 64 * inputBytes + (32L << 20);
        if (o.AllocatedBytes > limit) return $"allocated {o.AllocatedBytes:N0} bytes for {inputBytes:N0} bytes of input (limit {limit:N0})";
        if (o.Rejected)
        {
            if (o.ErrorIds.Any(id => !id.StartsWith("BBCU0", StringComparison.Ordinal))) return "an error without a BBCU0xx id: " + string.Join(", ", o.ErrorIds);
            if (o.Source.Length > 0 && !o.Source.Contains("did not compile", StringComparison.Ordinal)) return "a rejected model still produced a model";
            if (o.Data.Length > 0) return "a rejected model still produced a data file";
        }
        else if (!o.Source.Contains("static partial class Model", StringComparison.Ordinal))
        {
            return "no error was reported, but no model was generated";
        }
        else
        {
            // Text from the model file must stay inside comments and literals: the generated file parses cleanly and
            // declares exactly the model class, its BbcuModel struct (sizes for the runtime), its Cost class and the binary
            // layers' shape structs, whose names the
            // generator makes from numbers (an injected member or type would show here).
            SyntaxTree tree = CSharpSyntaxTree.ParseText(o.Source);
            var errors = tree.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Take(3).ToList();
            if (errors.Count > 0) return "the generated source does not parse: " + string.Join("; ", errors);
            string[] types = tree.GetCompilationUnitRoot().DescendantNodes().OfType<BaseTypeDeclarationSyntax>().Select(t => t.Identifier.Text).ToArray();
            if (types.Length < 3 || types[0] != "Model" || types[1] != "BbcuModel" || types[2] != "Cost" || !types.Skip(3).All(t => LayerStructName.IsMatch(t)))
                return "the generated source declares unexpected types: " + string.Join(", ", types);
            if (o.Source.Contains("Injected", StringComparison.Ordinal) &&
                tree.GetCompilationUnitRoot().DescendantNodes().OfType<VariableDeclaratorSyntax>().Any(v => v.Identifier.Text.StartsWith("Injected", StringComparison.Ordinal)))
                return "a name from the model file became a member of the generated class";
            SyntaxTree data = CSharpSyntaxTree.ParseText(o.Data);
            errors = data.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Take(3).ToList();
            if (errors.Count > 0) return "the generated data file does not parse: " + string.Join("; ", errors);
            string[] dataTypes = data.GetCompilationUnitRoot().DescendantNodes().OfType<BaseTypeDeclarationSyntax>().Select(t => t.Identifier.Text).ToArray();
            if (!dataTypes.SequenceEqual(new[] { "Model", "BbcuData" }))
                return "the generated data file declares unexpected types: " + string.Join(", ", dataTypes);
        }
        return null;
    }
}
