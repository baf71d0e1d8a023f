namespace Kiln.Server.Compile;

/// <summary>How a node runs compiles.</summary>
public sealed class CompileExecutorOptions
{
    /// <summary>Compiles that run at once (default: the number of cores).</summary>
    public int Slots { get; set; } = Environment.ProcessorCount;

    /// <summary>Directory under which each job gets a directory of its own.</summary>
    public string JobRoot { get; set; } = Path.Combine(Path.GetTempPath(), "kiln-jobs");

    /// <summary>Largest object, stdout or stderr a job may produce, in bytes.</summary>
    public long MaxOutputBytes { get; set; } = 256L << 20;

    /// <summary>Longest a compile may run before it is killed.</summary>
    public TimeSpan JobLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Most jobs that may wait for a slot; beyond it the node answers BUSY.</summary>
    public int MaxQueued { get; set; } = 64;

    /// <summary>When Kiln protocol jobs get BUSY (queue depth, load, memory, disk).</summary>
    public Scheduling.AdmissionOptions Admission { get; set; } = new();

    /// <summary>Niceness compilers run at (0: normal; a workstation lending its cores sets 10 or more).</summary>
    public int Nice { get; set; }

    /// <summary>The sandbox and the per-job limits (CPU time, memory, output size).</summary>
    public JobLimits Limits { get; set; } = new();

    /// <summary>
    /// Keeps a sandbox ready for each slot before its job arrives (<see cref="CompileExecutor"/>'s warm
    /// sandboxes); on by default, used only when bubblewrap and dash are both installed.
    /// </summary>
    public bool WarmSandboxes { get; set; } = true;

    /// <summary>Directories searched for allowed compilers.</summary>
    public IReadOnlyList<string> CompilerDirectories { get; set; } = ["/usr/local/bin", "/usr/bin"];
}
