using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Kiln.Core.Diagnostics;

/// <summary>
/// <c>KILN_TRACE=1</c>: one line per phase on standard error, so the time of a compile can be split
/// into start-up, preprocessing, network and node work. A <c>kiln cc</c> line reads
/// <c>kiln-trace cc PHASE +WALL ms cpu=CPU ms</c>: wall time since <c>main</c> and the process's
/// CPU time so far (the CPU time at <c>main</c> is what the runtime's start-up cost). A node line
/// carries the job's sequence number and the wall time since the connection was accepted. Off (the
/// default), a mark costs one field read.
/// </summary>
public static class PhaseTrace
{
    private static readonly long s_origin = Stopwatch.GetTimestamp();
    private static readonly Lock s_writeLock = new();
    private static Stream? s_stderr;

    /// <summary>True when KILN_TRACE is set to anything but "" or "0".</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("KILN_TRACE") is { Length: > 0 } v && v != "0";

    /// <summary>A timestamp to measure later marks from (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public static long Now() => Stopwatch.GetTimestamp();

    /// <summary>Marks a phase of this process, timed from the first mark (for <c>kiln cc</c>: <c>main</c>).</summary>
    public static void Mark(string scope, string phase)
    {
        if (!Enabled)
        {
            return;
        }

        var cpu = Environment.CpuUsage.TotalTime.TotalMilliseconds;
        Write(string.Create(CultureInfo.InvariantCulture,
            $"kiln-trace {scope} {phase} +{Stopwatch.GetElapsedTime(s_origin).TotalMilliseconds:0.00} ms cpu={cpu:0.00} ms\n"));
    }

    /// <summary>Marks a phase of one job, timed from <paramref name="since"/> (a <see cref="Now"/> value).</summary>
    public static void Mark(string scope, long job, string phase, long since)
    {
        if (!Enabled)
        {
            return;
        }

        Write(string.Create(CultureInfo.InvariantCulture,
            $"kiln-trace {scope} job={job} {phase} +{Stopwatch.GetElapsedTime(since).TotalMilliseconds:0.00} ms\n"));
    }

    private static void Write(string line)
    {
        // One write per line: concurrent jobs and processes do not interleave within a line.
        var bytes = Encoding.UTF8.GetBytes(line);
        lock (s_writeLock)
        {
            s_stderr ??= Console.OpenStandardError();
            s_stderr.Write(bytes);
            s_stderr.Flush();
        }
    }
}
