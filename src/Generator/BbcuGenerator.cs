using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Bbcu.Generator;

/// <summary>
/// Compiles each class annotated with <c>[Bbcu.BbcuModel(model)]</c> or <c>[Bbcu.BbcuModel(model, weights)]</c> into C#.
/// </summary>
/// <remarks>
/// The pipeline, with its tracked step names (each step's output is equatable and location-free, so the
/// driver stops at the first one that did not change):
/// <code>
/// [BbcuModel] class ──► AttributedModel ─┬─► ModelRequest ("BbcuModelRequest")
///                                        └─► ModelSite (C# positions; only the diagnostics output reads them)
/// ModelRequest × AdditionalFiles paths ──► ResolvedRequest ("BbcuResolvedRequest")
///   (with a <BbcuModel> item's weights path and hash, from MSBuild metadata)
/// AdditionalFiles item × wanted paths ───► FileContent, for a model's own files only ("BbcuModelFile")
/// <BbcuModel> item's weights × hash ─────► FileContent, read from disk when the hash changes ("BbcuModelFile")
/// ResolvedRequest × its FileContents ────► ModelInputs ("BbcuModelInputs")
///                                    ────► CompiledModel ("BbcuCompiledModel") ─┬─► sources (code, data)
///                                                                               └─► diagnostics × sites
/// </code>
/// A line typed above the class changes only its ModelSite; an edit of another AdditionalFiles item
/// stops at the file filter; a re-created <c>AdditionalText</c> with the same contents stops at
/// ModelInputs; a changed model or weights file re-compiles that model alone.
/// </remarks>
[Generator(LanguageNames.CSharp)]
public sealed class BbcuGenerator : IIncrementalGenerator
{
    public const string AttributeName = "Bbcu.BbcuModelAttribute";
    public const string RequestStep = "BbcuModelRequest";
    public const string ResolveStep = "BbcuResolvedRequest";
    public const string FileStep = "BbcuModelFile";
    public const string InputsStep = "BbcuModelInputs";
    public const string CompileStep = "BbcuCompiledModel";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<AttributedModel> attributed = context.SyntaxProvider
            .ForAttributeWithMetadataName(AttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => CreateRequest(ctx, ct));
        IncrementalValuesProvider<ModelRequest> requests = attributed
            .Select(static (a, _) => a.Request)
            .WithTrackingName(RequestStep);
        IncrementalValueProvider<ImmutableArray<ModelSite>> sites = attributed
            .Select(static (a, _) => a.Site)
            .Collect();

        // Paths (and a <BbcuModel> item's weights path and hash) only: an edit inside an AdditionalFiles item does not change this.
        IncrementalValueProvider<EquatableArray<ProjectFile>> files = context.AdditionalTextsProvider
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select(static (pair, _) => ModelFiles.Describe(pair.Left, pair.Right))
            .Collect()
            .Select(static (all, _) => new EquatableArray<ProjectFile>(all.ToArray()));
        IncrementalValuesProvider<ResolvedRequest> resolved = requests
            .Combine(files)
            .Select(static (pair, _) => ModelFiles.Resolve(pair.Left, pair.Right))
            .WithTrackingName(ResolveStep);

        IncrementalValueProvider<EquatableArray<WantedFile>> wanted = resolved
            .Collect()
            .Select(static (all, _) => ModelFiles.Wanted(all));
        IncrementalValuesProvider<FileContent> contents = context.AdditionalTextsProvider
            .Combine(wanted)
            .SelectMany(static (pair, ct) => ModelFiles.ReadIfWanted(pair.Left, pair.Right, ct))
            .WithTrackingName(FileStep);
        // The weights of <BbcuModel> items are no AdditionalFiles item: read from disk, again whenever their hash changes.
        IncrementalValuesProvider<FileContent> itemWeights = wanted
            .SelectMany(static (all, _) => ModelFiles.ItemWeights(all))
            .Select(static (file, _) => ModelFiles.ReadItemWeights(file))
            .WithTrackingName(FileStep);

        IncrementalValuesProvider<CompiledModel> compiled = resolved
            .Combine(contents.Collect())
            .Combine(itemWeights.Collect())
            .Select(static (pair, _) => ModelFiles.Inputs(pair.Left.Left, pair.Left.Right.Concat(pair.Right)))
            .WithTrackingName(InputsStep)
            .Select(static (inputs, ct) => ModelCompiler.Compile(inputs, ct))
            .WithTrackingName(CompileStep);

        context.RegisterSourceOutput(compiled.Select(static (m, _) => m.Files), static (spc, files) =>
        {
            if (files.Source.Length > 0)
                spc.AddSource(files.HintName, files.Source);
            if (files.DataSource.Length > 0)
                spc.AddSource(files.DataHintName, files.DataSource);
        });
        context.RegisterSourceOutput(compiled.Select(static (m, _) => m.Report).Combine(sites), static (spc, pair) =>
        {
            ModelSite? site = null;
            foreach (ModelSite s in pair.Right)
                if (s.FullName == pair.Left.FullName) { site = s; break; }
            foreach (DiagnosticInfo d in pair.Left.Diagnostics)
                spc.ReportDiagnostic(d.ToDiagnostic(site));
        });
    }

    private static AttributedModel CreateRequest(GeneratorAttributeSyntaxContext ctx, CancellationToken ct)
    {
        var symbol = (INamedTypeSymbol)ctx.TargetSymbol;
        var syntax = (ClassDeclarationSyntax)ctx.TargetNode;
        AttributeData attribute = ctx.Attributes[0];
        var diagnostics = new List<DiagnosticInfo>();
        string name = symbol.Name;
        var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(ct) as AttributeSyntax;
        LocationInfo? attributeLocation = LocationInfo.From(attributeSyntax?.GetLocation() ?? syntax.Identifier.GetLocation());
        LocationInfo? Arg(int i) => attributeSyntax?.ArgumentList is { } list && list.Arguments.Count > i
            ? LocationInfo.From(list.Arguments[i].GetLocation()) : attributeLocation;

        void Add(Microsoft.CodeAnalysis.DiagnosticDescriptor d, SiteAnchor at, params string[] args) =>
            diagnostics.Add(new DiagnosticInfo(d.Id, null, new EquatableArray<string>(args), at));

        string modelPath = "", weightsPath = "";
        if (attribute.ConstructorArguments.Length is 1 or 2)
        {
            modelPath = attribute.ConstructorArguments[0].Value as string ?? "";
            if (modelPath.Trim().Length == 0)
                Add(BbcuDiagnostics.InvalidAttribute, SiteAnchor.ModelArgument, name, "the model path is empty; name the model's .json file (its <BbcuModel> or AdditionalFiles item)");
        }
        if (attribute.ConstructorArguments.Length == 2)
        {
            weightsPath = attribute.ConstructorArguments[1].Value as string ?? "";
            if (weightsPath.Trim().Length == 0)
                Add(BbcuDiagnostics.InvalidAttribute, SiteAnchor.WeightsArgument, name, "the weights path is empty; name the model's .safetensors file, or leave the argument out to use the weights of the model's <BbcuModel> item");
        }
        else if (attribute.ConstructorArguments.Length != 1)
        {
            Add(BbcuDiagnostics.InvalidAttribute, SiteAnchor.Attribute, name, "it takes the model .json and, optionally, the weights .safetensors");
        }

        // The generated code implements static abstract interface members (the binary layers' shape structs).
        if (syntax.SyntaxTree.Options is CSharpParseOptions { LanguageVersion: < LanguageVersion.CSharp11 } parseOptions)
            Add(BbcuDiagnostics.LanguageVersionTooOld, SiteAnchor.Attribute, name, parseOptions.LanguageVersion.ToDisplayString());

        LocationInfo? identifier = LocationInfo.From(syntax.Identifier.GetLocation());
        bool isPartial = syntax.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword));
        if (!symbol.IsStatic || !isPartial)
            Add(BbcuDiagnostics.ClassShape, SiteAnchor.ClassName, name, !isPartial ? "add the 'partial' modifier" : "add the 'static' modifier");
        if (symbol.TypeParameters.Length > 0)
            Add(BbcuDiagnostics.ClassShape, SiteAnchor.ClassName, name, "a generic class cannot hold a compiled model");

        bool canHold = isPartial && symbol.TypeParameters.Length == 0;
        var containing = new List<string>();
        for (INamedTypeSymbol? t = symbol.ContainingType; t is not null; t = t.ContainingType)
        {
            bool partial = t.DeclaringSyntaxReferences.Any(r => r.GetSyntax(ct) is TypeDeclarationSyntax tds && tds.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)));
            if (!partial || t.IsGenericType)
            {
                Add(BbcuDiagnostics.ClassShape, SiteAnchor.ClassName, name, $"its containing type '{t.Name}' must be a non-generic partial type");
                canHold = false;
            }
            string keyword = t.IsRecord ? (t.TypeKind == TypeKind.Struct ? "record struct" : "record") : t.TypeKind == TypeKind.Struct ? "struct" : t.TypeKind == TypeKind.Interface ? "interface" : "class";
            containing.Insert(0, $"{(t.IsStatic ? "static " : "")}partial {keyword} {t.Name}");
        }

        string ns = symbol.ContainingNamespace.IsGlobalNamespace ? "" : symbol.ContainingNamespace.ToDisplayString();
        string accessibility = symbol.DeclaredAccessibility switch
        {
            Accessibility.Public => "public ",
            Accessibility.Internal => "internal ",
            Accessibility.Private => "private ",
            Accessibility.Protected => "protected ",
            Accessibility.ProtectedOrInternal => "protected internal ",
            Accessibility.ProtectedAndInternal => "private protected ",
            _ => "",
        };
        var request = new ModelRequest(ns, name, accessibility, new EquatableArray<string>(containing.ToArray()), modelPath, weightsPath,
            new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()), symbol.IsStatic, canHold);
        return new AttributedModel(request, new ModelSite(request.FullName, attributeLocation, Arg(0), Arg(1), identifier));
    }
}
