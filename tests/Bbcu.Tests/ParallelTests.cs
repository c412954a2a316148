using System;
using System.Threading;
using Xunit;

namespace Bbcu.Tests;

/// <summary>The worker pool: every index exactly once for any degree, and a throwing chunk surfaces after all threads stop.</summary>
public sealed unsafe class ParallelTests
{
    private struct Counts
    {
        public int* Hits;
        public int ThrowAt;
    }

    private static void Count(void* state, int start, int end)
    {
        var s = (Counts*)state;
        for (int i = start; i < end; i++)
        {
            if (i == s->ThrowAt) throw new InvalidOperationException($"chunk with {i}");
            Interlocked.Increment(ref s->Hits[i]);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(2, 7)]
    [InlineData(3, 100)]
    [InlineData(16, 1001)]
    public void EveryIndexRunsExactlyOnce(int degree, int count)
    {
        var hits = new int[count];
        fixed (int* h = hits)
        {
            var s = new Counts { Hits = h, ThrowAt = -1 };
            BbcuParallel.For(degree, count, &Count, &s);
        }
        Assert.All(hits, n => Assert.Equal(1, n));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(57)]
    [InlineData(99)]
    public void AThrowingChunkSurfacesAndThePoolStaysUsable(int throwAt)
    {
        var hits = new int[100];
        fixed (int* h = hits)
        {
            var s = new Counts { Hits = h, ThrowAt = throwAt };
            Exception? e = null;
            try
            {
                BbcuParallel.For(2, 100, &Count, &s);
            }
            catch (Exception caught)
            {
                e = caught;
            }
            Assert.IsType<InvalidOperationException>(e);
            Assert.Contains($"chunk with {throwAt}", e!.Message);
            Array.Clear(hits);
            s.ThrowAt = -1;
            BbcuParallel.For(2, 100, &Count, &s);
        }
        Assert.All(hits, n => Assert.Equal(1, n));
    }
}
