using System.Diagnostics;

namespace Kiln.Server.Accounting;

/// <summary>A job the ledger is timing: created when it arrives, finished once with its answer.</summary>
public sealed class LiveJob
{
    private long _runningTimestamp;
    private long _cpuMs;

    internal LiveJob(long id, string identity, string address, string frontEnd, string compiler, string source, string actionKey, long bytesIn)
    {
        Id = id;
        Identity = identity;
        Address = address;
        FrontEnd = frontEnd;
        Compiler = compiler;
        Source = source;
        ActionKey = actionKey;
        BytesIn = bytesIn;
        StartedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        StartedTimestamp = Stopwatch.GetTimestamp();
    }

    /// <summary>The job's number on this node.</summary>
    public long Id { get; }

    internal string Identity { get; }

    internal string Address { get; }

    internal string FrontEnd { get; }

    internal string Compiler { get; }

    internal string Source { get; }

    internal string ActionKey { get; }

    /// <summary>Input bytes: known when the job arrives, or when its input ends for a job sent ahead of it.</summary>
    internal long BytesIn { get; set; }

    internal long StartedMs { get; }

    internal long StartedTimestamp { get; }

    internal long RunningTimestamp => Interlocked.Read(ref _runningTimestamp);

    internal long CpuMs => Interlocked.Read(ref _cpuMs);

    /// <summary>Marks the end of the job's wait for a slot: its compiler starts now.</summary>
    public void Started() => Interlocked.CompareExchange(ref _runningTimestamp, Stopwatch.GetTimestamp(), 0);

    /// <summary>Charges the job the CPU time of the compiler that just exited.</summary>
    public void CompilerExited() => Interlocked.Add(ref _cpuMs, ChildProcessorTime.Charge());

    internal RunningJob View() =>
        new(Id, Identity, Address, FrontEnd, Compiler, Source, StartedMs, RunningTimestamp == 0);
}
