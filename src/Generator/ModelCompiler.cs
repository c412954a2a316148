using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Bbcu.Generator.Analysis;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Emission;
using Bbcu.Generator.Lowering;
using Bbcu.Generator.Optimization;
using Bbcu.Generator.Parsing;
using Bbcu.Generator.Util;
using Bbcu.Generator.Validation;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Bbcu.Generator;

/// <summary>
/// Runs the pipeline for one model: resolve files → parse → validate and infer shapes → lower →
/// fold and fuse → plan buffers → emit. Never throws: an unexpected exception becomes BBCU099.
/// </summary>
internal static class ModelCompiler
{
    public static CompiledModel Compile(ModelRequest request, ImmutableArray<AdditionalText> files)
    {
        var diagnostics = new DiagnosticBag();
        string source = "", data = "";
        try
        {
            (source, data) = CompileCore(request, files, diagnostics) ?? ("", "");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            diagnostics.Add(BbcuDiagnostics.InternalError, request.AttributeLocation, request.FullName, $"{e.GetType().Name}: {e.Message}");
            source = data = "";
        }
        var all = request.Diagnostics.Concat(diagnostics.Items).ToArray();
        bool failed = diagnostics.HasErrors || source.Length == 0;
        // A model that fails still gets its class's members (throwing) when the class itself is sound,
        // so that the BBCU errors are the only errors of the build.
        if (failed)
        {
            source = request.Diagnostics.Any(d => d.Id == BbcuDiagnostics.ClassShape.Id) ? "" : SafeFallback(request);
            data = "";
        }
        return new CompiledModel(request.HintName, source, request.DataHintName, data, new EquatableArray<DiagnosticInfo>(all));
    }

    private static string SafeFallback(ModelRequest request)
    {
        try
        {
            return ModelEmitter.EmitFallback(request);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return "";
        }
    }

    private static (string Code, string Data)? CompileCore(ModelRequest request, ImmutableArray<AdditionalText> files, DiagnosticBag diagnostics)
    {
        if (request.Diagnostics.Any(d => BbcuDiagnostics.Get(d.Id).DefaultSeverity == DiagnosticSeverity.Error))
            return null;
        AdditionalText? modelFile = Resolve(request.ModelPath, files, request, BbcuDiagnostics.ModelFileNotFound, request.ModelArgumentLocation, diagnostics);
        AdditionalText? weightsFile = Resolve(request.WeightsPath, files, request, BbcuDiagnostics.WeightsFileNotFound, request.WeightsArgumentLocation, diagnostics);
        if (modelFile is null || weightsFile is null) return null;

        SourceText? text = modelFile.GetText();
        if (text is null)
        {
            diagnostics.Add(BbcuDiagnostics.ModelFileNotFound, request.ModelArgumentLocation, request.ModelPath, request.FullName);
            return null;
        }
        var map = new SourceMap(modelFile.Path, text);
        ModelDocument? doc = ModelParser.Parse(text.ToString(), map, diagnostics);

        SafetensorsFile? weights = null;
        string weightsName = System.IO.Path.GetFileName(weightsFile.Path);
        try
        {
            weights = SafetensorsFile.Read(WeightsFile.ReadAllBytes(weightsFile));
        }
        catch (SafetensorsException e)
        {
            diagnostics.Add(BbcuDiagnostics.MalformedWeights, LocationInfo.FileStart(weightsFile.Path), weightsName, e.Message);
        }
        catch (System.IO.IOException e)
        {
            diagnostics.Add(BbcuDiagnostics.MalformedWeights, LocationInfo.FileStart(weightsFile.Path), weightsName, "it cannot be read: " + e.Message);
        }
        if (doc is null || weights is null) return null;

        ValidatedModel? model = ModelValidator.Validate(doc, map, weights, weightsFile.Path, diagnostics);
        if (model is null || diagnostics.HasErrors) return null;

        LayerProgram program = Lowerer.Lower(model, diagnostics);
        ConstantFolder.Run(program);
        EpilogueFuser.Run(program);
        SignPackFuser.Run(program);
        BufferPlan plan = BufferPlanner.Plan(program);
        CostReport cost = CostReport.Compute(model, program, plan);
        diagnostics.Add(BbcuDiagnostics.CostReport, request.AttributeLocation, request.FullName, model.Name, cost.Summary);
        return ModelEmitter.Emit(request, program, plan, cost);
    }

    /// <summary>Finds the one additional file whose path ends with <paramref name="suffix"/> (on a path-segment boundary).</summary>
    private static AdditionalText? Resolve(string suffix, ImmutableArray<AdditionalText> files, ModelRequest request,
        DiagnosticDescriptor notFound, LocationInfo? location, DiagnosticBag diagnostics)
    {
        string wanted = Normalize(suffix).TrimStart('/');
        if (wanted.StartsWith("./", StringComparison.Ordinal)) wanted = wanted.Substring(2);
        var matches = new List<AdditionalText>();
        foreach (AdditionalText file in files)
        {
            string path = Normalize(file.Path);
            if (path == wanted || path.EndsWith("/" + wanted, StringComparison.Ordinal))
                matches.Add(file);
        }
        if (matches.Count == 1) return matches[0];
        if (matches.Count == 0)
            diagnostics.Add(notFound, location, suffix, request.FullName);
        else
            diagnostics.Add(BbcuDiagnostics.AmbiguousFile, location, suffix, request.FullName, string.Join(", ", matches.Select(m => m.Path).OrderBy(p => p, StringComparer.Ordinal)));
        return null;
    }

    private static string Normalize(string path) => path.Replace('\\', '/');
}
