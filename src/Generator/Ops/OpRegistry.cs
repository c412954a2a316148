using System.Collections.Generic;
using System.Linq;

namespace Bbcu.Generator.Ops;

/// <summary>Every op of the model format. docs/bbcu-model.schema.json must list the same ops with the same properties (a test checks).</summary>
internal static class OpRegistry
{
    public static readonly IReadOnlyList<OpDefinition> All = new OpDefinition[]
    {
        new Conv2dOp(), new BinaryConv2dOp(), new RPReluOp(), new PReluOp(), new ReluOp(), new LeakyReluOp(),
        new AddOp(), new SubOp(), new MulOp(), new DivOp(), new PixelShuffleOp(), new UpsampleOp(), new BatchNormOp(), new ChannelExpandOp(),
    };

    private static readonly Dictionary<string, OpDefinition> ByName = All.ToDictionary(o => o.Name);

    public static bool TryGet(string name, out OpDefinition op) => ByName.TryGetValue(name, out op!);

    /// <summary>The ops' names, for messages.</summary>
    public static string Names => string.Join(", ", All.Select(o => o.Name));
}
