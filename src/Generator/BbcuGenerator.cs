using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Bbcu.Generator;

/// <summary>
/// Compiles each class annotated with <c>[Bbcu.BbcuModel(model, weights)]</c> into C#.
/// Pipeline: attribute → <see cref="ModelRequest"/> (tracked step "BbcuModelRequest"), combined with
/// the project's AdditionalFiles → <see cref="CompiledModel"/> ("BbcuCompiledModel") → source + diagnostics.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class BbcuGenerator : IIncrementalGenerator
{
    public const string AttributeName = "Bbcu.BbcuModelAttribute";
    public const string RequestStep = "BbcuModelRequest";
    public const string CompileStep = "BbcuCompiledModel";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<ModelRequest> requests = context.SyntaxProvider
            .ForAttributeWithMetadataName(AttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => CreateRequest(ctx, ct))
            .WithTrackingName(RequestStep);

        IncrementalValuesProvider<CompiledModel> compiled = requests
            .Combine(context.AdditionalTextsProvider.Collect())
            .Select(static (pair, _) => ModelCompiler.Compile(pair.Left, pair.Right))
            .WithTrackingName(CompileStep);

        context.RegisterSourceOutput(compiled, static (spc, model) =>
        {
            foreach (DiagnosticInfo d in model.Diagnostics)
                spc.ReportDiagnostic(d.ToDiagnostic());
            if (model.Source.Length > 0)
                spc.AddSource(model.HintName, model.Source);
            if (model.DataSource.Length > 0)
                spc.AddSource(model.DataHintName, model.DataSource);
        });
    }

    private static ModelRequest CreateRequest(GeneratorAttributeSyntaxContext ctx, CancellationToken ct)
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

        void Add(Microsoft.CodeAnalysis.DiagnosticDescriptor d, LocationInfo? at, params string[] args) =>
            diagnostics.Add(new DiagnosticInfo(d.Id, at, new EquatableArray<string>(args)));

        string modelPath = "", weightsPath = "";
        if (attribute.ConstructorArguments.Length == 2)
        {
            modelPath = attribute.ConstructorArguments[0].Value as string ?? "";
            weightsPath = attribute.ConstructorArguments[1].Value as string ?? "";
            if (modelPath.Trim().Length == 0)
                Add(BbcuDiagnostics.InvalidAttribute, Arg(0), name, "the model path is empty; name the model's .json AdditionalFiles item");
            if (weightsPath.Trim().Length == 0)
                Add(BbcuDiagnostics.InvalidAttribute, Arg(1), name, "the weights path is empty; name the model's .safetensors AdditionalFiles item");
        }
        else
        {
            Add(BbcuDiagnostics.InvalidAttribute, attributeLocation, name, "it takes two arguments: the model .json and the weights .safetensors");
        }

        // The generated code implements static abstract interface members (the binary layers' shape structs).
        if (syntax.SyntaxTree.Options is CSharpParseOptions { LanguageVersion: < LanguageVersion.CSharp11 } parseOptions)
            Add(BbcuDiagnostics.LanguageVersionTooOld, attributeLocation, name, parseOptions.LanguageVersion.ToDisplayString());

        LocationInfo? identifier = LocationInfo.From(syntax.Identifier.GetLocation());
        bool isPartial = syntax.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword));
        if (!symbol.IsStatic || !isPartial)
            Add(BbcuDiagnostics.ClassShape, identifier, name, !isPartial ? "add the 'partial' modifier" : "add the 'static' modifier");
        if (symbol.TypeParameters.Length > 0)
            Add(BbcuDiagnostics.ClassShape, identifier, name, "a generic class cannot hold a compiled model");

        var containing = new List<string>();
        for (INamedTypeSymbol? t = symbol.ContainingType; t is not null; t = t.ContainingType)
        {
            bool partial = t.DeclaringSyntaxReferences.Any(r => r.GetSyntax(ct) is TypeDeclarationSyntax tds && tds.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)));
            if (!partial || t.IsGenericType)
                Add(BbcuDiagnostics.ClassShape, identifier, name, $"its containing type '{t.Name}' must be a non-generic partial type");
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
        return new ModelRequest(ns, name, accessibility, new EquatableArray<string>(containing.ToArray()), modelPath, weightsPath,
            attributeLocation, Arg(0), Arg(1), new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()));
    }
}
