using System;
using System.Collections.Generic;
using System.Reflection;
using Microsoft.CodeAnalysis;

namespace Bbcu.Generator.Diagnostics;

/// <summary>Every diagnostic the generator reports, in one place. IDs are stable: never reuse one.</summary>
internal static class BbcuDiagnostics
{
    private const string Category = "BbcuCompiler";

    public static readonly DiagnosticDescriptor ModelFileNotFound = Error("BBCU001", "Model file not found",
        "The model file '{0}' named by [BbcuModel] on '{1}' is not an AdditionalFiles item of this project; {2}");

    public static readonly DiagnosticDescriptor WeightsFileNotFound = Error("BBCU002", "Weights file not found",
        "The weights file '{0}' named by [BbcuModel] on '{1}' is not an AdditionalFiles item of this project; {2}");

    public static readonly DiagnosticDescriptor AmbiguousFile = Error("BBCU003", "Ambiguous file name",
        "'{0}' named by [BbcuModel] on '{1}' matches several AdditionalFiles items ({2}); give a longer path suffix that matches one");

    public static readonly DiagnosticDescriptor ClassShape = Error("BBCU004", "Model class must be static partial",
        "'{0}' must be declared 'static partial' (and every containing type 'partial') to receive the compiled model; {1}");

    public static readonly DiagnosticDescriptor InvalidAttribute = Error("BBCU005", "Invalid [BbcuModel] arguments",
        "[BbcuModel] on '{0}': {1}");

    public static readonly DiagnosticDescriptor LanguageVersionTooOld = Error("BBCU006", "C# 11 or later needed",
        "'{0}': the project compiles C# {1}, and the code compiled from the model needs C# 11 or later (static abstract interface members); remove <LangVersion> from the project file or set it to 11 or later");

    public static readonly DiagnosticDescriptor FileMissingOnDisk = Error("BBCU007", "AdditionalFiles item missing on disk",
        "'{0}' named by [BbcuModel] on '{1}' is the AdditionalFiles item '{2}', but {3}; fix the path in the project file or put the file there");

    public static readonly DiagnosticDescriptor ItemWeightsMissing = Error("BBCU008", "Weights of a <BbcuModel> item not found",
        "The weights file '{0}' of the <BbcuModel> item '{1}' (named by [BbcuModel] on '{2}') does not exist; {3}");

    public static readonly DiagnosticDescriptor MalformedJson = Error("BBCU010", "Malformed model JSON",
        "{0}: malformed JSON at line {1}, column {2}: {3}");

    public static readonly DiagnosticDescriptor InvalidModel = Error("BBCU011", "Invalid model description",
        "{0}: {1}");

    public static readonly DiagnosticDescriptor UnknownOp = Error("BBCU012", "Unknown op",
        "{0}: node '{1}' uses the unknown op '{2}'; supported ops are {3}");

    public static readonly DiagnosticDescriptor TensorMissing = Error("BBCU013", "Tensor not in weights file",
        "{0}: node '{1}' references tensor '{2}', which is not in the weights file '{3}'; check the state_dict key or re-export the weights");

    public static readonly DiagnosticDescriptor TensorUnused = Warning("BBCU014", "Unused tensors",
        "{0}: {1} tensor(s) are never used by the model '{2}': {3}; remove them from the weights file or reference them from a node");

    public static readonly DiagnosticDescriptor TensorShape = Error("BBCU015", "Wrong tensor shape",
        "{0}: node '{1}' needs tensor '{2}' of shape [{3}] but the weights file holds [{4}]; fix the model file or re-export the checkpoint with tools/export_bbcu.py");

    public static readonly DiagnosticDescriptor TensorDtype = Error("BBCU016", "Unsupported tensor dtype",
        "{0}: tensor '{1}' has dtype {2}; the compiler reads F32, F16 and BF16 weights: export it as F32");

    public static readonly DiagnosticDescriptor ChannelMismatch = Error("BBCU017", "Channel mismatch",
        "{0}: node '{1}' expects {2} channels from value '{3}', which has {4}; fix the tensor shapes or the node's inputs");

    public static readonly DiagnosticDescriptor UndefinedValue = Error("BBCU018", "Undefined value",
        "{0}: node '{1}' reads value '{2}', which is neither the model input nor produced by any node; check the spelling or add the node that produces it");

    public static readonly DiagnosticDescriptor DuplicateValue = Error("BBCU019", "Value defined twice",
        "{0}: value '{1}' is produced by more than one node (or shadows the model input); give every node a unique output name");

    public static readonly DiagnosticDescriptor Cycle = Error("BBCU020", "Cycle in model graph",
        "{0}: the nodes {1} form a cycle; a model must be a directed acyclic graph");

    public static readonly DiagnosticDescriptor UnusedValue = Warning("BBCU021", "Unused node",
        "{0}: the output '{2}' of node '{1}' never reaches the model output; remove the node");

    public static readonly DiagnosticDescriptor Unsupported = Error("BBCU022", "Unsupported construct",
        "{0}: node '{1}': {2}");

    public static readonly DiagnosticDescriptor NonFiniteWeight = Error("BBCU023", "Non-finite weight",
        "{0}: tensor '{1}' holds {2} NaN or infinite value(s), the first at flat index {3}; the checkpoint is corrupt or diverged");

    public static readonly DiagnosticDescriptor MalformedWeights = Error("BBCU024", "Malformed safetensors file",
        "{0}: malformed safetensors file: {1}; re-export the weights (tools/export_bbcu.py) or replace the file");

    public static readonly DiagnosticDescriptor SizeMismatch = Error("BBCU025", "Spatial size mismatch",
        "{0}: node '{1}' combines '{2}' at {3}× the input size with '{4}' at {5}×; both inputs of an elementwise op must have the same size (check the upsampling factors)");

    public static readonly DiagnosticDescriptor SignZeroInput = Info("BBCU030", "Sign inputs can be exactly zero",
        "{0}: binary conv '{1}' reads '{2}', which can be exactly at the Sign threshold in channels {3} (threshold exactly 0 after ReLU); torch.sign gives 0 there and the compiled model reproduces it exactly with per-pixel zero masks");

    public static readonly DiagnosticDescriptor ZeroWeights = Info("BBCU031", "Exactly-zero binary weights",
        "{0}: tensor '{1}' has {2} exactly-zero weight(s) in output channels {3}; sign(0) = 0 for them, which the compiled model reproduces exactly with weight masks");

    public static readonly DiagnosticDescriptor CostReport = Info("BBCU032", "Model cost",
        "{0}: model '{1}' {2}");

    public static readonly DiagnosticDescriptor Truncated = Warning("BBCU033", "More diagnostics not shown",
        "'{0}': {1} more {2} diagnostic(s) of this model are not shown (at most {3} of each ID are); fix the ones shown and rebuild to see the rest");

    public static readonly DiagnosticDescriptor InternalError = Error("BBCU099", "Internal compiler error",
        "BbcuCompiler failed while compiling '{0}': {1}. This is a bug in BbcuCompiler; please report it with the model file");

    private static readonly Dictionary<string, DiagnosticDescriptor> ById = new();

    static BbcuDiagnostics()
    {
        foreach (DiagnosticDescriptor d in All)
            ById.Add(d.Id, d);
    }

    /// <summary>Every descriptor (tests check there is one test per descriptor).</summary>
    public static IReadOnlyList<DiagnosticDescriptor> All => new[]
    {
        ModelFileNotFound, WeightsFileNotFound, AmbiguousFile, ClassShape, InvalidAttribute, LanguageVersionTooOld, FileMissingOnDisk, ItemWeightsMissing, MalformedJson, InvalidModel,
        UnknownOp, TensorMissing, TensorUnused, TensorShape, TensorDtype, ChannelMismatch, UndefinedValue, DuplicateValue,
        Cycle, UnusedValue, Unsupported, NonFiniteWeight, MalformedWeights, SizeMismatch, SignZeroInput, ZeroWeights, CostReport, Truncated, InternalError,
    };

    public static DiagnosticDescriptor Get(string id) => ById[id];

    /// <summary>
    /// Where <paramref name="id"/> is explained (cause, example, fix): its section of docs/diagnostics.md in the
    /// project's repository, <c>{PackageProjectUrl}/blob/main/docs/diagnostics.md#bbcu0xx</c>; null when the
    /// build left the URL out of this assembly's metadata.
    /// </summary>
    public static string? HelpLink(string id) => Help.Base is null ? null : Help.Base + "#" + id.ToLowerInvariant();

    private static DiagnosticDescriptor Error(string id, string title, string format) =>
        new(id, title, format, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpLink(id));

    private static DiagnosticDescriptor Warning(string id, string title, string format) =>
        new(id, title, format, Category, DiagnosticSeverity.Warning, isEnabledByDefault: true, helpLinkUri: HelpLink(id));

    private static DiagnosticDescriptor Info(string id, string title, string format) =>
        new(id, title, format, Category, DiagnosticSeverity.Info, isEnabledByDefault: true, helpLinkUri: HelpLink(id));

    /// <summary>
    /// The project's URL from this assembly's <c>[AssemblyMetadata("BbcuProjectUrl", …)]</c>, which
    /// Bbcu.Generator.csproj writes from Directory.Build.props' PackageProjectUrl. A nested class, so that it is
    /// read before the first descriptor whatever the order of the fields above.
    /// </summary>
    private static class Help
    {
        public static readonly string? Base = Read();

        private static string? Read()
        {
            try
            {
                foreach (AssemblyMetadataAttribute a in typeof(BbcuDiagnostics).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>())
                    if (a.Key == "BbcuProjectUrl" && !string.IsNullOrWhiteSpace(a.Value))
                        return a.Value!.TrimEnd('/') + "/blob/main/docs/diagnostics.md";
            }
            catch (Exception)
            {
                // Never into the compiler: the descriptors then have no help link.
            }
            return null;
        }
    }
}
