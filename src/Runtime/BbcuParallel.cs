using System;
using System.ComponentModel;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Bbcu;

/// <summary>
/// Splits a kernel's work into contiguous chunks run on a small pool of worker threads, without
/// allocating per call (generated code and kernels only). Threads take chunks (four per thread) from a
/// shared counter, so a core that is slower at the moment does less. Chunks never change a result:
/// every kernel that uses it computes each output element independently of the split.
/// </summary>
/// <remarks>
/// The pool has <c>ProcessorCount − 1</c> background threads, created on first use. One call uses it at
/// a time; a call that finds it busy (another thread is running a model) runs its work on its own
/// thread instead, which gives the same bits.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
internal static unsafe class BbcuParallel
{
    private static readonly object Gate = new();
    private static Worker[]? _workers;
    private static int _busy;

    /// <summary>Chunks per thread: threads take chunks from a shared counter, so a thread that runs slower (a busy core) takes fewer.</summary>
    private const int ChunksPerThread = 4;

    /// <summary>One parallel call: the body, its state and the next chunk to take (on the caller's stack).</summary>
    private struct Job
    {
        public delegate*<void*, int, int, void> Body;
        public void* State;
        public int Count, Chunks, Next;
    }

    /// <summary>Runs <c>body(state, start, end)</c> over <c>[0, count)</c> in chunks on up to <paramref name="degree"/> threads.</summary>
    public static void For(int degree, int count, delegate*<void*, int, int, void> body, void* state)
    {
        if (degree <= 1 || count <= 1 || Environment.ProcessorCount <= 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            body(state, 0, count);
            return;
        }
        try
        {
            Worker[] workers = _workers ?? CreateWorkers();
            int threads = Math.Min(Math.Min(degree, workers.Length + 1), count);
            var job = new Job { Body = body, State = state, Count = count, Chunks = Math.Min(count, threads * ChunksPerThread) };
            for (int i = 1; i < threads; i++)
                workers[i - 1].Start(&job);
            Exception? error = null;
            try
            {
                RunChunks(&job);
            }
            catch (Exception e)
            {
                error = e;
            }
            // Every worker must be done with the job (and the caller's state) before this frame returns.
            for (int i = 1; i < threads; i++)
                error ??= workers[i - 1].Wait();
            if (error is not null) ExceptionDispatchInfo.Capture(error).Throw();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static int RunChunks(Job* job)
    {
        int i, ran = 0;
        while ((i = Interlocked.Increment(ref job->Next) - 1) < job->Chunks)
        {
            job->Body(job->State, (int)((long)job->Count * i / job->Chunks), (int)((long)job->Count * (i + 1) / job->Chunks));
            ran++;
        }
        return ran;
    }

    private static long _workerChunks;

    /// <summary>
    /// Chunks run on worker threads since the process started (one atomic add per worker per call), so
    /// that tests can tell a multi-threaded run from one that quietly ran on the caller's thread alone.
    /// </summary>
    internal static long WorkerChunks => Volatile.Read(ref _workerChunks);

    private static long _workerAllocated;

    /// <summary>
    /// Bytes the worker threads have allocated since they started (everything, their waits included),
    /// so that a test can count exactly what a call allocates on the caller's and the workers' threads,
    /// whatever other threads of the process do at the same time.
    /// </summary>
    internal static long WorkerAllocatedBytes => Volatile.Read(ref _workerAllocated);

    /// <summary>
    /// Starts the worker threads now rather than on the first parallel call, so that every call after
    /// it allocates nothing even when the first one found the pool busy and ran alone. A workspace
    /// that may use more than one thread calls this when it is created.
    /// </summary>
    public static void EnsureStarted()
    {
        if (Environment.ProcessorCount > 1 && Volatile.Read(ref _workers) is null) CreateWorkers();
    }

    private static Worker[] CreateWorkers()
    {
        lock (Gate)
        {
            if (_workers is null)
            {
                var workers = new Worker[Math.Max(1, Environment.ProcessorCount - 1)];
                for (int i = 0; i < workers.Length; i++) workers[i] = new Worker(i);
                Volatile.Write(ref _workers, workers);
            }
            return _workers;
        }
    }

    private sealed class Worker
    {
        // Kernel events and a flag rather than ManualResetEventSlim: its lock object is created lazily on
        // the first wait that blocks, which would be an allocation in some later call.
        private readonly AutoResetEvent _go = new(false);
        private readonly AutoResetEvent _finished = new(false);
        private Job* _job;
        private int _done;
        private Exception? _error;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"Bbcu worker {index}" };
            thread.Start();
        }

        public void Start(Job* job)
        {
            _job = job; _error = null;
            Volatile.Write(ref _done, 0);
            _go.Set();
        }

        public Exception? Wait()
        {
            // Chunks are shared out to the end, so a short spin usually sees the flag; a stale signal left
            // by an earlier spin-completed call only costs one more turn of the loop.
            for (int spin = 0; spin < 2000 && Volatile.Read(ref _done) == 0; spin++) Thread.SpinWait(8);
            while (Volatile.Read(ref _done) == 0) _finished.WaitOne();
            return _error;
        }

        private void Loop()
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            while (true)
            {
                _go.WaitOne();
                try
                {
                    int ran = RunChunks(_job);
                    if (ran > 0) Interlocked.Add(ref _workerChunks, ran);
                }
                catch (Exception e)
                {
                    _error = e;
                }
                // Everything this thread allocated since the last job ended, the wait included (one read of
                // a thread-local counter; an add only when it moved).
                long now = GC.GetAllocatedBytesForCurrentThread();
                if (now != allocated) Interlocked.Add(ref _workerAllocated, now - allocated);
                allocated = now;
                Volatile.Write(ref _done, 1);
                _finished.Set();
            }
        }
    }
}
