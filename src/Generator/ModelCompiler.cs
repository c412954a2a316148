using System;
using System.Collections.Generic;
using System.Threading;
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
    public static CompiledModel Compile(ModelInputs inputs, CancellationToken ct)
    {
        ModelRequest request = inputs.Request;
        var diagnostics = new DiagnosticBag();
        diagnostics.AddRange(inputs.Diagnostics);
        string source = "", data = "";
        try
        {
            (source, data) = CompileCore(inputs, diagnostics, ct) ?? ("", "");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            diagnostics.Add(BbcuDiagnostics.InternalError, SiteAnchor.Attribute, request.FullName, $"{e.GetType().Name}: {e.Message}".TrimEnd('.'));
            source = data = "";
        }
        var all = request.Diagnostics.Concat(diagnostics.Items).Concat(diagnostics.Truncation(request.FullName)).ToArray();
        bool failed = diagnostics.HasErrors || source.Length == 0;
        // A model that fails still gets its class's members (throwing) whenever the class can take them
        // (a non-static partial class too), so that the BBCU errors are the only errors of the build.
        if (failed)
        {
            source = request.CanHoldStandIn ? SafeFallback(request) : "";
            data = "";
        }
        return new CompiledModel(request.FullName, request.HintName, source, request.DataHintName, data, new EquatableArray<DiagnosticInfo>(all));
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

    private static (string Code, string Data)? CompileCore(ModelInputs inputs, DiagnosticBag diagnostics, CancellationToken ct)
    {
        ModelRequest request = inputs.Request;
        if (request.Diagnostics.Any(d => BbcuDiagnostics.Get(d.Id).DefaultSeverity == DiagnosticSeverity.Error) || diagnostics.HasErrors)
            return null;
        FileContent? modelFile = inputs.Model, weightsFile = inputs.Weights;
        if (modelFile is null || weightsFile is null) return null;
        if ((modelFile.Crash ?? weightsFile.Crash) is string crash)
        {
            diagnostics.Add(BbcuDiagnostics.InternalError, SiteAnchor.Attribute, request.FullName, crash.TrimEnd('.')); // the message adds its own period
            return null;
        }
        // A listed file that is not there is a wrong path, not a malformed file.
        if (modelFile.Missing)
            diagnostics.Add(BbcuDiagnostics.FileMissingOnDisk, SiteAnchor.ModelArgument, request.ModelPath, request.FullName, modelFile.Path, "there is no file at that path");
        if (weightsFile.Missing && inputs.WeightsItem is string item)
            diagnostics.Add(BbcuDiagnostics.ItemWeightsMissing, SiteAnchor.WeightsArgument, weightsFile.Path, item, request.FullName,
                "export the weights there (the same folder and stem as the model, by default), or set Weights=\"…\" on the item to the weights file's path relative to the project");
        else if (weightsFile.Missing)
            diagnostics.Add(BbcuDiagnostics.FileMissingOnDisk, SiteAnchor.WeightsArgument, request.WeightsName, request.FullName, weightsFile.Path, "there is no file at that path");
        if (modelFile.Missing || weightsFile.Missing) return null;

        if (modelFile.Text is null)
        {
            diagnostics.Add(BbcuDiagnostics.FileMissingOnDisk, SiteAnchor.ModelArgument, request.ModelPath, request.FullName, modelFile.Path, "the compiler could not read its text");
            return null;
        }
        SourceText text = SourceText.From(modelFile.Text);
        var map = new SourceMap(modelFile.Path, text);
        ModelDocument? doc = ModelParser.Parse(modelFile.Text, map, diagnostics);

        SafetensorsFile? weights = null;
        string weightsName = System.IO.Path.GetFileName(weightsFile.Path);
        if (weightsFile.Bytes is null)
            diagnostics.Add(BbcuDiagnostics.MalformedWeights, LocationInfo.FileStart(weightsFile.Path), weightsName, weightsFile.Error ?? "it cannot be read");
        else
        {
            try
            {
                weights = SafetensorsFile.Read(weightsFile.Bytes);
            }
            catch (SafetensorsException e)
            {
                diagnostics.Add(BbcuDiagnostics.MalformedWeights, LocationInfo.FileStart(weightsFile.Path), weightsName, e.Message);
            }
        }
        if (doc is null || weights is null) return null;
        ct.ThrowIfCancellationRequested();

        ValidatedModel? model = ModelValidator.Validate(doc, map, weights, weightsFile.Path, diagnostics);
        if (model is null || diagnostics.HasErrors) return null;
        ct.ThrowIfCancellationRequested();

        LayerProgram program = Lowerer.Lower(model, diagnostics);
        ConstantFolder.Run(program);
        EpilogueFuser.Run(program);
        SignPackFuser.Run(program);
        BufferPlan plan = BufferPlanner.Plan(program);
        CostReport cost = CostReport.Compute(model, program, plan);
        diagnostics.Add(BbcuDiagnostics.CostReport, SiteAnchor.Attribute, request.FullName, model.Name, cost.Summary);
        ct.ThrowIfCancellationRequested();
        return ModelEmitter.Emit(request, System.IO.Path.GetFileName(weightsFile.Path), program, plan, cost);
    }
}
