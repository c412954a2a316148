using System.ComponentModel;

namespace Bbcu;

/// <summary>
/// What the generator knows about a binary 3×3 layer at build time, as constants (generated code only).
/// The generator emits one struct per distinct shape and epilogue in a model; the JIT (or, under Native
/// AOT, ILC) compiles <see cref="BinaryKernels.Conv3x3{TLayer}"/> once per such struct with these as
/// constants: the channel counts and the output-channel group loop are fixed, and the PReLU, bias1,
/// residual and next-layer-pack steps a layer does not have are not in its code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IBinaryConvLayer
{
    /// <summary>Input channels (at least 1).</summary>
    static abstract int Cin { get; }

    /// <summary>Output channels (at least 1).</summary>
    static abstract int Cout { get; }

    /// <summary>Whether the epilogue has a PReLU (per-channel slopes).</summary>
    static abstract bool PRelu { get; }

    /// <summary>Whether the epilogue adds a per-channel bias after the PReLU.</summary>
    static abstract bool Bias1 { get; }

    /// <summary>Whether the epilogue adds a residual map.</summary>
    static abstract bool Residual { get; }

    /// <summary>Whether each finished row is signed and packed for the next binary layer.</summary>
    static abstract bool PacksNext { get; }
}

/// <summary>
/// The unspecialised instantiation of the kernels (<see cref="BinaryKernels.Conv3x3"/>): every fact is read
/// from the call's arguments (<c>Cout</c> 0 says so).
/// </summary>
internal readonly struct AnyBinaryConvLayer : IBinaryConvLayer
{
    public static int Cin => 0;
    public static int Cout => 0;
    public static bool PRelu => false;
    public static bool Bias1 => false;
    public static bool Residual => false;
    public static bool PacksNext => false;
}
