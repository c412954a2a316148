using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Bbcu.Tests.Infrastructure;

/// <summary>
/// Buffers that sit flush against an inaccessible page (Linux: <c>mmap</c> + <c>mprotect(PROT_NONE)</c>), so
/// a kernel that reads or writes one element past the end — or, with <see cref="GuardSide.Start"/>, before
/// the start — faults at once instead of quietly touching a neighbouring array (a fault ends the test
/// process, which the run reports as a failure). Elsewhere the buffers are ordinary arrays and the tests
/// still check values. Dispose frees every buffer.
/// </summary>
public sealed unsafe class GuardedMemory : IDisposable
{
    private const int ProtNone = 0, ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20;
    private readonly List<(IntPtr Base, nuint Length)> _maps = new();
    private readonly GuardSide _side;

    public GuardedMemory(GuardSide side) => _side = side;

    public enum GuardSide { End, Start }

    public static bool Supported => OperatingSystem.IsLinux();

    /// <summary>A buffer of <paramref name="count"/> elements holding a copy of <paramref name="values"/> (or zeros).</summary>
    public Span<T> Alloc<T>(int count, ReadOnlySpan<T> values = default) where T : unmanaged
    {
        Span<T> span;
        if (!Supported || count == 0)
            span = new T[count];
        else
        {
            nuint page = (nuint)Environment.SystemPageSize;
            nuint bytes = (nuint)count * (nuint)sizeof(T);
            nuint dataPages = (bytes + page - 1) / page;
            nuint length = (dataPages + 1) * page;
            IntPtr mem = mmap(IntPtr.Zero, length, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, IntPtr.Zero);
            if (mem == new IntPtr(-1)) throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
            _maps.Add((mem, length));
            byte* start;
            if (_side == GuardSide.End)
            {
                Check(mprotect(mem + (nint)(dataPages * page), page, ProtNone));
                start = (byte*)mem + dataPages * page - bytes; // ends exactly at the guard page
            }
            else
            {
                Check(mprotect(mem, page, ProtNone));
                start = (byte*)mem + page; // starts exactly after the guard page
            }
            span = new Span<T>(start, count);
            span.Clear();
        }
        values.CopyTo(span);
        return span;
    }

    public void Dispose()
    {
        foreach (var (b, n) in _maps) munmap(b, n);
        _maps.Clear();
    }

    private static void Check(int rc)
    {
        if (rc != 0) throw new InvalidOperationException($"mprotect failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr mmap(IntPtr addr, nuint length, int prot, int flags, int fd, IntPtr offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int mprotect(IntPtr addr, nuint length, int prot);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(IntPtr addr, nuint length);
}
