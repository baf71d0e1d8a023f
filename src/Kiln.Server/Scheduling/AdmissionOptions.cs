namespace Kiln.Server.Scheduling;

/// <summary>
/// When a node says BUSY rather than take a Kiln protocol job, so the client tries another node. Load
/// from other work is the load average minus the node's own running compiles, so a node is not
/// refused by its own work (icecream's rule).
/// </summary>
public sealed class AdmissionOptions
{
    /// <summary>
    /// Kiln protocol jobs that may wait for a slot beyond the running ones; one more gets BUSY.
    /// Null: as many as there are slots. stock distcc clients cannot retry elsewhere, so their jobs
    /// always queue (up to <c>CompileExecutorOptions.MaxQueued</c>).
    /// </summary>
    public int? MaxWaiting { get; set; }

    /// <summary>BUSY when the load average from other work exceeds this (null: no limit; workstations set it).</summary>
    public double? MaxOtherLoad { get; set; }

    /// <summary>BUSY when the memory available to new processes is below this, in bytes.</summary>
    public long MinFreeMemoryBytes { get; set; } = 128L << 20;

    /// <summary>BUSY when free disk space where jobs run is below this many bytes per slot in use plus one (icecream uses 25 MiB).</summary>
    public long MinFreeDiskBytesPerJob { get; set; } = 25L << 20;

    /// <summary>How long a reading of the machine is reused; /proc is cheap but not free at hundreds of jobs a second.</summary>
    public TimeSpan ReadingLifetime { get; set; } = TimeSpan.FromMilliseconds(500);
}
