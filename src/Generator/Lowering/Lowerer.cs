using System;
using System.Collections.Generic;
using System.Linq;
using Bbcu.Generator.Diagnostics;
using Bbcu.Generator.Ops;
using Bbcu.Generator.Validation;

namespace Bbcu.Generator.Lowering;

/// <summary>
/// Stage 3: validated graph → layer IR, each node by its op's <see cref="OpDefinition.Lower"/> (Ops/).
/// </summary>
internal static class Lowerer
{
    public static LayerProgram Lower(ValidatedModel model, DiagnosticBag diagnostics)
    {
        var layers = new List<Layer>();
        var producers = new Dictionary<Value, GraphNode>();
        var context = new LowerContext(model, producers, diagnostics);
        foreach (GraphNode n in model.Nodes)
        {
            producers[n.Output] = n;
            Layer layer = n.Op.Lower(n, context);
            layer.Source = n.Op;
            layers.Add(layer);
        }
        return new LayerProgram(model.Name, model.Input, model.Output, layers);
    }

    /// <summary>Formats channel indices compactly: "0-3, 7, 9-10".</summary>
    public static string Ranges(List<int> items)
    {
        var parts = new List<string>();
        for (int i = 0; i < items.Count;)
        {
            int j = i;
            while (j + 1 < items.Count && items[j + 1] == items[j] + 1) j++;
            parts.Add(i == j ? items[i].ToString() : $"{items[i]}-{items[j]}");
            i = j + 1;
        }
        return string.Join(", ", parts);
    }
}
