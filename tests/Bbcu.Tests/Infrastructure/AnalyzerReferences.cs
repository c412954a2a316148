using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Xunit;

namespace Bbcu.Tests.Infrastructure;

/// <summary>
/// Reads an analyzer assembly's references from its metadata (nothing is loaded) and checks them
/// against what the oldest supported compiler, Roslyn 5.0 (.NET SDK 10.0.1xx), ships.
/// </summary>
public static class AnalyzerReferences
{
    /// <summary>
    /// What the analyzer may reference, and the newest version of each: the assemblies that Roslyn 5.0.0's
    /// netstandard2.0 Microsoft.CodeAnalysis(.CSharp).dll reference themselves (read from the 5.0.0
    /// packages' metadata), so a compiler host that runs Roslyn 5.0 has loaded or can load them.
    /// Raising a Microsoft.CodeAnalysis entry drops support for the SDKs below it: change README's
    /// supported range with it. Anything not listed here (System.Text.Json, say) is refused.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, Version> Allowed = new Dictionary<string, Version>(StringComparer.Ordinal)
    {
        ["netstandard"] = new(2, 0, 0, 0),
        ["Microsoft.CodeAnalysis"] = new(5, 0, 0, 0),
        ["Microsoft.CodeAnalysis.CSharp"] = new(5, 0, 0, 0),
        ["System.Collections.Immutable"] = new(9, 0, 0, 0),
        ["System.Reflection.Metadata"] = new(9, 0, 0, 0),
        ["System.Memory"] = new(4, 0, 2, 0),
        ["System.Buffers"] = new(4, 0, 2, 0),
        ["System.Threading.Tasks.Extensions"] = new(4, 2, 1, 0),
        ["System.Runtime.CompilerServices.Unsafe"] = new(6, 0, 0, 0),
        ["System.Text.Encoding.CodePages"] = new(8, 0, 0, 0),
    };

    /// <summary>The assembly references recorded in a PE file's metadata, without loading it.</summary>
    public static IReadOnlyList<AssemblyName> Read(Stream assembly)
    {
        using var pe = new PEReader(assembly);
        MetadataReader md = pe.GetMetadataReader();
        return md.AssemblyReferences.Select(h =>
        {
            AssemblyReference r = md.GetAssemblyReference(h);
            return new AssemblyName(md.GetString(r.Name)) { Version = r.Version };
        }).ToList();
    }

    /// <summary>One line per reference the oldest supported compiler may not be able to load; empty when all is well.</summary>
    public static IReadOnlyList<string> AboveTheFloor(IEnumerable<AssemblyName> references) =>
        references.Select(r =>
            !Allowed.TryGetValue(r.Name!, out Version? max)
                ? $"{r.Name} {r.Version}: not shipped with Roslyn 5.0 (SDK 10.0.1xx), so a compiler host may not load it; bundle it or drop it"
                : r.Version! > max
                    ? $"{r.Name} {r.Version}: newer than {max}, what Roslyn 5.0 (SDK 10.0.1xx) ships; the generator would be skipped there (CS9057) or fail to load"
                    : null)
            .OfType<string>().ToList();

    /// <summary>Checks an analyzer assembly and fails with every offending reference named.</summary>
    public static void AssertLoadsInRoslynFloor(Stream analyzer, string what)
    {
        IReadOnlyList<AssemblyName> refs = Read(analyzer);
        Assert.Contains(refs, r => r.Name == "Microsoft.CodeAnalysis"); // read the right file
        IReadOnlyList<string> bad = AboveTheFloor(refs);
        Assert.True(bad.Count == 0, $"{what} references assemblies newer than the oldest supported compiler:\n  " + string.Join("\n  ", bad));
    }
}
