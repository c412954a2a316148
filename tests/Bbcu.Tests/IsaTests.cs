using System;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Xunit;
using Xunit.Abstractions;

namespace Bbcu.Tests;

/// <summary>
/// The forced-fallback runs of .ci/run set <c>BBCU_EXPECT_ISA</c> next to the runtime's switch
/// (<c>DOTNET_EnableAVX2=0</c>, <c>DOTNET_EnableHWIntrinsic=0</c>, <c>DOTNET_EnableAVX512=0</c>); this test
/// fails if the switch did not take effect, so a fallback run can never quietly test the fast path again.
/// Without <c>BBCU_EXPECT_ISA</c> it only reports what this process runs on.
/// </summary>
public sealed class IsaTests
{
    private readonly ITestOutputHelper _out;

    public IsaTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void TheRequestedIsaIsTheOneInEffect()
    {
        string? expect = Environment.GetEnvironmentVariable("BBCU_EXPECT_ISA");
        _out.WriteLine($"BBCU_EXPECT_ISA={expect ?? "(unset)"}: avx512f={Avx512F.IsSupported} avx2={Avx2.IsSupported} " +
                       $"sse2={Sse2.IsSupported} vector128={Vector128.IsHardwareAccelerated} Vector<float>.Count={Vector<float>.Count}");
        switch (expect)
        {
            case null or "":
                return;
            case "noavx512":
                Assert.False(Avx512F.IsSupported, "DOTNET_EnableAVX512=0 did not turn AVX-512 off");
                Assert.True(Avx2.IsSupported, "AVX-512 off should leave AVX2 on (does this host have AVX2?)");
                break;
            case "noavx2":
                Assert.False(Avx2.IsSupported, "DOTNET_EnableAVX2=0 did not turn AVX2 off");
                Assert.False(Avx512F.IsSupported, "AVX2 off should turn AVX-512 off too");
                Assert.True(Vector.IsHardwareAccelerated, "AVX2 off should leave SSE (128-bit vectors) on");
                break;
            case "nohwintr":
                Assert.False(Vector.IsHardwareAccelerated, "DOTNET_EnableHWIntrinsic=0 did not turn hardware intrinsics off");
                Assert.False(Sse2.IsSupported || Avx2.IsSupported, "DOTNET_EnableHWIntrinsic=0 left an x86 ISA on");
                break;
            default:
                Assert.Fail($"unknown BBCU_EXPECT_ISA '{expect}' (noavx512, noavx2 or nohwintr)");
                break;
        }
    }
}
