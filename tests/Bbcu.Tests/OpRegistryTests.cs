using System;
using System.Linq;
using System.Text.Json.Nodes;
using Bbcu.Generator.Ops;
using Bbcu.Tests.Infrastructure;
using Xunit;

namespace Bbcu.Tests;

/// <summary>The ops the generator knows (Ops/, one file each) and the ones the published JSON schema describes are the same.</summary>
public sealed class OpRegistryTests
{
    private static readonly string[] Common = { "op", "name", "inputs", "output", "comment" };

    private static JsonObject Schema() => JsonNode.Parse(System.IO.File.ReadAllText(Repo.Path("docs", "bbcu-model.schema.json")))!.AsObject();

    [Fact]
    public void TheSchemaListsExactlyTheRegisteredOps()
    {
        JsonObject defs = Schema()["$defs"]!.AsObject();
        string[] listed = defs["node"]!["properties"]!["op"]!["enum"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray();
        Assert.Equal(OpRegistry.All.Select(o => o.Name).OrderBy(n => n, StringComparer.Ordinal), listed.OrderBy(n => n, StringComparer.Ordinal));
        string[] described = defs.Select(kv => kv.Key).Where(k => k.StartsWith("op_", StringComparison.Ordinal)).Select(k => k[3..]).ToArray();
        Assert.Equal(listed.OrderBy(n => n, StringComparer.Ordinal), described.OrderBy(n => n, StringComparer.Ordinal));
    }

    [Fact]
    public void EachOpTakesTheSchemasPropertiesAndRequiresTheSchemasRequiredOnes()
    {
        JsonObject defs = Schema()["$defs"]!.AsObject();
        foreach (OpDefinition op in OpRegistry.All)
        {
            JsonObject def = defs["op_" + op.Name]!.AsObject();
            string[] properties = def["properties"]!.AsObject().Select(kv => kv.Key).Except(Common).OrderBy(n => n, StringComparer.Ordinal).ToArray();
            Assert.True(properties.SequenceEqual(op.Properties.OrderBy(n => n, StringComparer.Ordinal)),
                $"{op.Name}: schema properties [{string.Join(", ", properties)}], op properties [{string.Join(", ", op.Properties)}]");
            string[] required = def["required"]!.AsArray().Select(n => n!.GetValue<string>()).Except(Common).OrderBy(n => n, StringComparer.Ordinal).ToArray();
            string[] opRequired = op.RequiredTensors.Concat(op.RequiredNumbers).Concat(op.RequiredOther).OrderBy(n => n, StringComparer.Ordinal).ToArray();
            Assert.True(required.SequenceEqual(opRequired), $"{op.Name}: schema requires [{string.Join(", ", required)}], the op [{string.Join(", ", opRequired)}]");
            JsonObject inputs = def["properties"]!["inputs"]!.AsObject();
            Assert.Equal((op.Arity, op.Arity), (inputs["minItems"]!.GetValue<int>(), inputs["maxItems"]!.GetValue<int>()));
            Assert.False(def["additionalProperties"]!.GetValue<bool>(), $"{op.Name}: the schema must refuse unknown properties, as the generator does");
            Assert.True(def["properties"]!["op"]!["const"]!.GetValue<string>() == op.Name);
        }
    }

    /// <summary>Each op lives in its own file under src/Generator/Ops, named after its class.</summary>
    [Fact]
    public void EachOpHasItsOwnFile()
    {
        foreach (OpDefinition op in OpRegistry.All)
        {
            string file = Repo.Path("src", "Generator", "Ops", op.GetType().Name + ".cs");
            Assert.True(System.IO.File.Exists(file), $"{op.Name}: expected {file}");
            Assert.Contains($"\"{op.Name}\"", System.IO.File.ReadAllText(file), StringComparison.Ordinal);
        }
        Assert.Equal(OpRegistry.All.Count, OpRegistry.All.Select(o => o.Name).Distinct().Count());
    }
}
