using Xunit;

namespace Bbcu.Tests.Infrastructure;

/// <summary>
/// Tests that measure something process-wide run alone, after the parallel ones: allocations counted
/// with <c>GC.GetTotalAllocatedBytes(true)</c> (every thread, the worker pool's included) and runs
/// that must prove they used more than one thread (the worker pool serves one call at a time, and a
/// call that finds it busy runs alone, which would make a thread-count test compare one thread with one).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class Serial
{
    public const string Name = "serial (process-wide measurements)";
}
