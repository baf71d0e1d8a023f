using System.Collections.Concurrent;
using System.Diagnostics;
using Kiln.Server.Accounting;

namespace Kiln.Server.Compile;

/// <summary>
/// Warm sandboxes: one per slot, each a bubblewrap sandbox already set up around a job directory of
/// its own, with dash inside waiting for its command (<see cref="JobSandbox.WarmCommand"/>). A job
/// that takes one pays none of the sandbox's start-up, several milliseconds of namespace setup and
/// mounts on a small compile's critical path (bench/sandbox-cost.sh); a new one starts beside the
/// job. Only the ordinary path takes them (preprocessed input, a compiler in a system directory):
/// remote preprocessing lays the client's paths out per job, and pump mode works in a tree of its own.
/// </summary>
public sealed partial class CompileExecutor : IDisposable
{
    private readonly ConcurrentQueue<WarmSandbox> _warm = new();
    private int _warmStarting;
    private long _warmStarts;
    private volatile bool _disposed;

    /// <summary>Set when a warm sandbox could not start: from then on every job starts cold, as before.</summary>
    private volatile bool _warmBroken;

    private sealed record WarmSandbox(Process Process, string Directory);

    /// <summary>Jobs that ran in a warm sandbox (the rest started their sandbox when they arrived).</summary>
    public long WarmStarts => Interlocked.Read(ref _warmStarts);

    /// <summary>Warm sandboxes waiting for a job now.</summary>
    public int WarmReady => _warm.Count;

    private bool WarmEnabled => _options.WarmSandboxes && !_warmBroken && !_disposed && _sandbox.CanWarm;

    /// <summary>Ends every warm sandbox (each exits without running anything) and removes its directory.</summary>
    public void Dispose()
    {
        _disposed = true;
        while (_warm.TryDequeue(out var warm))
        {
            Discard(warm);
        }

        _sandbox.Dispose();
    }

    /// <summary>
    /// A warm sandbox for a job with <paramref name="compiler"/>, or null when none is ready (or the
    /// job cannot use one); either way, starts new ones until every slot has one.
    /// </summary>
    private WarmSandbox? TakeWarm(string compiler)
    {
        if (!WarmEnabled || !_sandbox.CanWarmFor(compiler))
        {
            return null;
        }

        WarmSandbox? taken = null;
        while (_warm.TryDequeue(out var warm))
        {
            if (!HasExited(warm.Process))
            {
                taken = warm;
                break;
            }

            Discard(warm);
        }

        // A new sandbox's setup (bubblewrap's namespaces and mounts, about 4 ms of CPU) slowed a compile
        // running beside it by as much on this 2-core machine (gcc -c alone 18.8 ms, with a bubblewrap
        // starting beside it 22.5-22.9). So while this is the node's only job, the next sandbox is set
        // up once its compiler has exited (CompileExecutor calls Refill then); with other jobs running,
        // or waiting, it is set up now, so the next queued job finds it ready.
        if (_options.Slots - _slots.Free > 1 || _slots.Waiting > 0)
        {
            Refill();
        }

        return taken;
    }

    /// <summary>Starts warm sandboxes until every slot has one (ready or being set up).</summary>
    private void Refill()
    {
        while (WarmEnabled)
        {
            // Counted high, never low, while one moves from starting to ready: never more than one per slot.
            var starting = Volatile.Read(ref _warmStarting);
            if (_warm.Count + starting >= _options.Slots)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _warmStarting, starting + 1, starting) == starting)
            {
                _ = StartWarmAsync();
            }
        }
    }

    private async Task StartWarmAsync()
    {
        var directory = NewJobDirectory();
        try
        {
            Directory.CreateDirectory(directory);
            var (program, commandLine) = _sandbox.WarmCommand(directory);
            var process = await _sandbox.StartAsync(StartInfo(program, commandLine, directory, directory)).ConfigureAwait(false);
            var warm = new WarmSandbox(process, directory);
            _warm.Enqueue(warm);
            if (_disposed && _warm.TryDequeue(out var late))
            {
                Discard(late);
            }
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            // The cold path reports the same failure on the job itself, with its own message.
            _warmBroken = true;
            TryDelete(directory);
        }
        finally
        {
            Interlocked.Decrement(ref _warmStarting);
        }
    }

    /// <summary>
    /// Runs <paramref name="compiler"/> in <paramref name="warm"/>: writes the command where the
    /// sandbox reads it, then sends the line it waits for. Null when the sandbox had died before it
    /// was told to go, so nothing ran and the caller starts the job cold in the same directory.
    /// </summary>
    private async Task<ProcessRun?> RunWarmAsync(WarmSandbox warm, string compiler, List<string> arguments, IReadOnlyDictionary<string, string> locale,
        LiveJob? live, CancellationToken cancellationToken, AheadCompile? ahead = null)
    {
        var script = JobSandbox.RunFile(compiler, arguments, LocaleOf(locale));
        if (script is null)
        {
            Discard(warm, keepDirectory: true);
            return null;
        }

        var process = warm.Process;
        try
        {
            File.WriteAllText(Path.Combine(warm.Directory, JobSandbox.RunFileName), script);
            live?.Started();
            var input = process.StandardInput.BaseStream;
            input.Write("\n"u8);
            input.Flush();
            if (ahead is null)
            {
                input.Close();
            }
            else
            {
                // dash read its line a byte at a time, so the compiler it execs reads the rest: the input.
                _ = FeedAsync(input, ahead);
            }
        }
        catch (IOException)
        {
            // The sandbox is gone (EPIPE): it read no line, so it ran nothing. The job, its input
            // already in the directory, starts cold there.
            Discard(warm, keepDirectory: true);
            return null;
        }

        ProcessRun run;
        using (process)
        {
            run = await WaitAsync(process, live, cancellationToken).ConfigureAwait(false);
        }

        // The run file's first line leaves a mark: without it, the sandbox died before it read its
        // line (bubblewrap, which holds the pipe too, can outlive dash for a moment, so the write
        // above need not fail), nothing of the job ran, and it starts cold in the same directory.
        if (!File.Exists(Path.Combine(warm.Directory, JobSandbox.StartedFileName)))
        {
            return null;
        }

        Interlocked.Increment(ref _warmStarts);
        return run;
    }

    /// <summary>
    /// Ends a warm sandbox that will run no job: its standard input closes, so dash exits having run
    /// nothing. Its directory goes too, unless a job taken with it goes on there (<paramref name="keepDirectory"/>).
    /// </summary>
    private static void Discard(WarmSandbox warm, bool keepDirectory = false)
    {
        try
        {
            warm.Process.StandardInput.Close();
        }
        catch (IOException)
        {
        }

        _ = Task.Run(async () =>
        {
            using var process = warm.Process;
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
            }

            if (!keepDirectory)
            {
                TryDelete(warm.Directory);
            }
        });
    }

    private static bool HasExited(Process process)
    {
        try
        {
            return process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }
}
