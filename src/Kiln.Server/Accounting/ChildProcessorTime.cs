using System.Runtime.InteropServices;

namespace Kiln.Server.Accounting;

/// <summary>
/// CPU time of the node's finished child processes, from <c>getrusage(RUSAGE_CHILDREN)</c>. .NET reaps
/// a compiler before <c>WaitForExitAsync</c> returns and gives no rusage for it, so each finished job is
/// charged the children's CPU time since the previous charge: exact when jobs do not overlap, and the
/// charges of all jobs always add up to the node's whole child CPU time.
/// </summary>
internal static partial class ChildProcessorTime
{
    private const int RusageChildren = -1;
    private static readonly Lock s_gate = new();
    private static long s_lastMicroseconds = -1;

    /// <summary>
    /// Sets the baseline once per process (later calls keep it), so that children that ended before the
    /// node started (a test host's tools, say) are charged to no job.
    /// </summary>
    public static void Start()
    {
        var now = ReadMicroseconds();
        lock (s_gate)
        {
            if (s_lastMicroseconds < 0 && now >= 0)
            {
                s_lastMicroseconds = now;
            }
        }
    }

    /// <summary>Milliseconds of child CPU time since the previous call (or since <see cref="Start"/>).</summary>
    public static long Charge()
    {
        var now = ReadMicroseconds();
        if (now < 0)
        {
            return 0;
        }

        lock (s_gate)
        {
            var last = s_lastMicroseconds < 0 ? 0 : s_lastMicroseconds;
            var delta = Math.Max(0, now - last);
            // Only whole milliseconds are charged; the remainder stays for the next job.
            var ms = delta / 1000;
            s_lastMicroseconds = last + ms * 1000;
            return ms;
        }
    }

    private static long ReadMicroseconds()
    {
        if (!OperatingSystem.IsLinux() || getrusage(RusageChildren, out var usage) != 0)
        {
            return -1;
        }

        return usage.UserSeconds * 1_000_000 + usage.UserMicroseconds + usage.SystemSeconds * 1_000_000 + usage.SystemMicroseconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrusage(int who, out Rusage usage);

    /// <summary>struct rusage on 64-bit Linux: two timevals, then fourteen longs.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        public long MaxRss;
        public long Ixrss;
        public long Idrss;
        public long Isrss;
        public long Minflt;
        public long Majflt;
        public long Nswap;
        public long Inblock;
        public long Oublock;
        public long Msgsnd;
        public long Msgrcv;
        public long Nsignals;
        public long Nvcsw;
        public long Nivcsw;
    }
}
