using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using Bbcu.Generator;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Util;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Bbcu.Tests.Fuzzing;

/// <summary>What the generator did with one fuzz case.</summary>
/// <param name="Ids">Diagnostic ids reported, in order.</param>
/// <param name="ErrorIds">Ids of the error diagnostics.</param>
/// <param name="Source">The generated source ("" or the throwing stand-in when the model failed).</param>
/// <param name="Data">The generated data file (the constants), or empty.</param>
/// <param name="Escaped">An exception that escaped <c>ModelCompiler.Compile</c> (must never happen), or null.</param>
/// <param name="TimedOut">The case ran past its deadline.</param>
/// <param name="Elapsed">Wall time of the compile.</param>
/// <param name="AllocatedBytes">Bytes allocated by the compiling thread.</param>
internal sealed record FuzzOutcome(string[] Ids, string[] ErrorIds, string Source, string Data, Exception? Escaped, bool TimedOut, TimeSpan Elapsed, long AllocatedBytes)
{
    public bool Rejected => ErrorIds.Length > 0;
}

/// <summary>
/// Runs the generator's model pipeline (<c>ModelCompiler.Compile</c>, exactly what the incremental
/// generator calls per <c>[BbcuModel]</c>) on a model text and weights bytes, on its own thread with a
/// 1 MiB stack (a compiler thread's worst case), with a deadline, measuring the bytes it allocates.
/// </summary>
internal sealed class FuzzHarness : IDisposable
{
    private readonly string _dir = Repo.TempFolder("fuzz");

    /// <summary>The request the generator would make for <c>[BbcuModel("model.json", "model.safetensors")] class Model</c>.</summary>
    private static readonly ModelRequest Request = new("TestModels", "Model", "public ", new EquatableArray<string>(Array.Empty<string>()),
        "model.json", "model.safetensors", new EquatableArray<DiagnosticInfo>(Array.Empty<DiagnosticInfo>()));

    public FuzzOutcome Run(string json, byte[] weights, TimeSpan deadline)
    {
        string weightsPath = Path.Combine(_dir, "model.safetensors");
        File.WriteAllBytes(weightsPath, weights);
        var files = ImmutableArray.Create<AdditionalText>(new MemoryText(Path.Combine(_dir, "model.json"), json), new FileText(weightsPath));
        CompiledModel? result = null;
        Exception? escaped = null;
        long allocated = 0;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var thread = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                // The generator's per-model steps, in its order: resolve, read the wanted files, compile.
                ResolvedRequest resolved = Bbcu.Generator.ModelFiles.Resolve(Request, new EquatableArray<ProjectFile>(files.Select(f => new ProjectFile(f.Path)).ToArray()));
                EquatableArray<WantedFile> wanted = Bbcu.Generator.ModelFiles.Wanted(new[] { resolved });
                FileContent[] contents = files.SelectMany(f => Bbcu.Generator.ModelFiles.ReadIfWanted(f, wanted, CancellationToken.None)).ToArray();
                result = ModelCompiler.Compile(Bbcu.Generator.ModelFiles.Inputs(resolved, contents), CancellationToken.None);
            }
            catch (Exception e)
            {
                escaped = e;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }, maxStackSize: 1 << 20) { IsBackground = true, Name = "fuzz case" };
        thread.Start();
        bool finished = thread.Join(deadline);
        TimeSpan elapsed = started.Elapsed;
        if (!finished) return new FuzzOutcome(Array.Empty<string>(), Array.Empty<string>(), "", "", null, true, elapsed, 0);
        string[] ids = result?.Diagnostics.Select(d => d.Id).ToArray() ?? Array.Empty<string>();
        string[] errors = result?.Diagnostics.Where(d => BbcuDiagnostics.Get(d.Id).DefaultSeverity == DiagnosticSeverity.Error).Select(d => d.Id).ToArray()
            ?? Array.Empty<string>();
        return new FuzzOutcome(ids, errors, result?.Source ?? "", result?.DataSource ?? "", escaped, false, elapsed, allocated);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>A model file held in memory, as the IDE gives an unsaved AdditionalFiles item.</summary>
    private sealed class MemoryText : AdditionalText
    {
        private readonly string _text;

        public MemoryText(string path, string text)
        {
            Path = path;
            _text = text;
        }

        public override string Path { get; }

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(_text, Encoding.UTF8);
    }
}
