using Bbcu.Generator.Lowering;

namespace Bbcu.Generator.Optimization;

/// <summary>
/// Stage 4c: when a binary conv's output is the input of the binary conv that runs right after it (the
/// body of every BBCU network), the first one also thresholds, signs and packs that output for the
/// second, row by row while the row is still in cache; the second skips its own SignPack pass. The
/// two packed buffers alternate: a layer reads one and packs the next layer's input into the other.
/// The float output is still written (it is the residual stream), and the packed bits are the ones a
/// separate SignPack would give, so the result does not change.
/// </summary>
internal static class SignPackFuser
{
    public static void Run(LayerProgram p)
    {
        BinaryConvLayer? previous = null;
        foreach (Layer layer in p.Layers)
        {
            if (layer is BinaryConvLayer b)
            {
                if (previous is not null && b.Inputs[0] == previous.Output)
                {
                    previous.PacksFor = b;
                    b.InputPrepacked = true;
                    b.PackedBuffer = 1 - previous.PackedBuffer;
                    b.Notes.Add("input signed and packed by the previous layer as it wrote each row");
                }
                previous = b;
            }
            else
            {
                previous = null;
            }
        }
    }

}
