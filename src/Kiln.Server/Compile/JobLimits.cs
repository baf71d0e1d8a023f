namespace Kiln.Server.Compile;

/// <summary>
/// What one compile may use on the node: the sandbox, CPU time, address space and output size.
/// The limits are set with dash's <c>ulimit</c> (or <c>prlimit</c>) before the compiler runs, so they hold for the programs it runs
/// (cc1, as) too. A job that meets one is refused with a message that names the limit.
/// </summary>
public sealed class JobLimits
{
    /// <summary>Whether compiles run inside bubblewrap (<c>kiln serve --sandbox</c>).</summary>
    public JobSandboxMode Sandbox { get; set; } = JobSandboxMode.Auto;

    /// <summary>
    /// Keep jobs off the network with a network namespace of their own (up to a few ms a job) even where
    /// the seccomp filter would do it (<see cref="SeccompFilter"/>): for comparison in tests and benchmarks.
    /// </summary>
    public bool NetworkNamespace { get; set; }

    /// <summary>CPU seconds per process of a job (<c>--job-cpu</c>); 0 means no limit.</summary>
    public int CpuSeconds { get; set; } = 300;

    /// <summary>
    /// Address space per process of a job in bytes (<c>--job-memory</c>); 0 means no limit. The
    /// default 4 GiB is far above the ~150 MB cc1plus takes for a preprocessed &lt;bits/stdc++.h&gt;.
    /// </summary>
    public long MemoryBytes { get; set; } = 4L << 30;

    /// <summary>Largest file, object, stdout or stderr a job may write, in bytes (<c>--job-output</c>).</summary>
    public long OutputBytes { get; set; } = 256L << 20;
}
