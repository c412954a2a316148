using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace Bbcu;

/// <summary>
/// Arm AdvSimd (NEON) version of the binary convolution's inner product:
/// <c>acc[g·4 + j] = Σ_{i&lt;n} popcount(x[i] ⊕ w_g[i·4 + j])</c> with <c>w_g = weights + g·n·4</c>
/// (the <c>[groups][n words][4 lanes]</c> layout of <see cref="BinaryKernels"/>). Integer results equal
/// the scalar path's exactly.
/// </summary>
/// <remarks>
/// Per group the four lanes are two <see cref="Vector128{T}"/> of <see cref="ulong"/> (lanes 0–1 and
/// 2–3). Each word is XORed with the broadcast <c>x[i]</c> and counted per byte (<c>CNT</c>); the byte
/// counts are summed for at most 31 words (8·31 = 248 &lt; 256, so no byte overflows), then widened
/// pairwise byte → ushort → uint (<c>UADDLP</c>) and added into 64-bit totals (<c>UADALP</c>), one per
/// lane. The caller checks <see cref="IsSupported"/>; there is no fallback inside. Allocation-free.
/// </remarks>
internal static unsafe class PopcountAdvSimd
{
    /// <summary>Whether the hardware (and the runtime) support AdvSimd.</summary>
    public static bool IsSupported => AdvSimd.IsSupported;

    /// <summary>Words whose byte counts are summed before widening: 8·31 = 248 fits a byte.</summary>
    private const int Flush = 31;

    /// <summary>
    /// <c>acc[g·4 + j] = Σ_{i&lt;n} popcount(x[i] ⊕ weights[g·n·4 + i·4 + j])</c> for every group
    /// <c>g &lt; groups</c> and lane <c>j &lt; 4</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void XorPopcount(ulong* x, int n, ulong* weights, int groups, int* acc)
    {
        ulong* w = weights;
        for (int g = 0; g < groups; g++)
        {
            Vector128<ulong> total01 = Vector128<ulong>.Zero, total23 = Vector128<ulong>.Zero;
            ulong* xi = x;
            int left = n;
            while (left > 0)
            {
                int chunk = left < Flush ? left : Flush;
                left -= chunk;
                Vector128<byte> bytes01 = Vector128<byte>.Zero, bytes23 = Vector128<byte>.Zero;
                for (ulong* end = xi + chunk; xi < end; xi++, w += 4)
                {
                    Vector128<ulong> b = Vector128.Create(*xi);
                    bytes01 = AdvSimd.Add(bytes01, AdvSimd.PopCount(AdvSimd.Xor(b, AdvSimd.LoadVector128(w)).AsByte()));
                    bytes23 = AdvSimd.Add(bytes23, AdvSimd.PopCount(AdvSimd.Xor(b, AdvSimd.LoadVector128(w + 2)).AsByte()));
                }
                // byte → ushort → uint (pairwise widening adds), then uint pairs added into the 64-bit totals.
                total01 = AdvSimd.AddPairwiseWideningAndAdd(total01, AdvSimd.AddPairwiseWidening(AdvSimd.AddPairwiseWidening(bytes01)));
                total23 = AdvSimd.AddPairwiseWideningAndAdd(total23, AdvSimd.AddPairwiseWidening(AdvSimd.AddPairwiseWidening(bytes23)));
            }
            int* a = acc + g * 4;
            a[0] = (int)total01.GetElement(0);
            a[1] = (int)total01.GetElement(1);
            a[2] = (int)total23.GetElement(0);
            a[3] = (int)total23.GetElement(1);
        }
    }
}
