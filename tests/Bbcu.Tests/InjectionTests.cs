using System;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Bbcu.Tests;

/// <summary>
/// Text from a model file (node, value and model names, the description) reaches the generated source
/// only inside comments and string literals. C# ends a <c>//</c> comment at any of its new-line
/// characters — CR, LF, U+0085, U+2028, U+2029 — so each of them in a name must be neutralised, or a
/// downloaded model could inject members into the user's assembly.
/// </summary>
public sealed class InjectionTests
{
    [Theory]
    [InlineData("\n")]
    [InlineData("\r")]
    [InlineData("\u0085")]
    [InlineData("\u2028")]
    [InlineData("\u2029")]
    public void NewLinesInNamesCannotInjectCode(string newLine)
    {
        string dir = Repo.Path("tests", "fixtures", "dncnn_c3_nc16_nb6");
        var doc = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "model.json")))!.AsObject();
        string payload = newLine + "public static int Injected = 1; /*" + newLine + "*/ public static int Injected2 = 2;" + newLine + "//";
        // A node name (its label), a value name (renamed everywhere it is used), the model name and the description.
        var nodes = doc["nodes"]!.AsArray();
        string oldValue = nodes[1]!["output"]!.GetValue<string>(), newValue = oldValue + payload;
        foreach (JsonNode? n in nodes)
        {
            if (n!["output"]!.GetValue<string>() == oldValue) n["output"] = newValue;
            if (n["inputs"] is JsonArray ins)
                for (int i = 0; i < ins.Count; i++)
                    if (ins[i]!.GetValue<string>() == oldValue) ins[i] = newValue;
        }
        nodes[2]!["name"] = "label" + payload;
        doc["name"] = "model" + payload;
        doc["description"] = "description" + payload;

        GeneratorResult r = GeneratorHarness.RunModel(doc.ToJsonString(), File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
        Assert.DoesNotContain(r.GeneratorDiagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Empty(r.CompilationDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
        Type model = r.LoadModel();
        Assert.Null(model.GetField("Injected"));
        Assert.Null(model.GetField("Injected2"));
        // Still the same model: the names only changed.
        Assert.Equal("model" + payload, (string)model.GetField("ModelName")!.GetRawConstantValue()!);
        string source = r.AllGenerated;
        foreach (char c in "\u0085\u2028\u2029") Assert.DoesNotContain(c, source);
    }
}
