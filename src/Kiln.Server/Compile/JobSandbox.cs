using System.Globalization;
using System.Text;

namespace Kiln.Server.Compile;

/// <summary>
/// Builds the command line a compile runs with: the compiler under <c>prlimit</c> (CPU time, address
/// space, file size, no core files), and that under bubblewrap when the sandbox is on. Inside the
/// sandbox the job sees the system's programs and libraries read-only (<c>/usr</c> and the
/// <c>/bin</c>, <c>/lib</c> links), its own job directory read-write, a private <c>/tmp</c>, and
/// nothing else: no <c>/etc</c> beyond <c>alternatives</c> and <c>ld.so.cache</c>, no <c>/home</c>,
/// no node data, no network, no capabilities.
/// </summary>
public sealed class JobSandbox
{
    private static readonly string[] s_searchDirectories = ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"];

    /// <summary>The top-level system links (merged /usr) or directories the compiler needs.</summary>
    private static readonly string[] s_systemRoots = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

    private readonly JobLimits _limits;
    private readonly List<string> _bubblewrapPrefix = [];

    /// <summary>Finds bubblewrap and prlimit as <paramref name="limits"/> asks.</summary>
    public JobSandbox(JobLimits limits)
    {
        _limits = limits;
        PrlimitPath = Find("prlimit");
        if (limits.Sandbox != JobSandboxMode.Off)
        {
            BubblewrapPath = Find("bwrap");
            if (BubblewrapPath is null && limits.Sandbox == JobSandboxMode.Bubblewrap)
            {
                throw new InvalidOperationException("--sandbox bwrap: bubblewrap (bwrap) is not installed; install Debian's 'bubblewrap' or use --sandbox off");
            }
        }

        if (BubblewrapPath is not null)
        {
            _bubblewrapPrefix.AddRange(["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"]);
            foreach (var root in s_systemRoots)
            {
                var info = new FileInfo(root);
                if (info.LinkTarget is { } target)
                {
                    _bubblewrapPrefix.AddRange(["--symlink", target, root]);
                }
                else if (Directory.Exists(root))
                {
                    _bubblewrapPrefix.AddRange(["--ro-bind", root, root]);
                }
            }

            // gcc and cc resolve through /etc/alternatives; ld.so.cache only saves a search.
            _bubblewrapPrefix.AddRange(["--ro-bind-try", "/etc/alternatives", "/etc/alternatives", "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
        }
    }

    /// <summary>The bubblewrap program compiles run under, or null when they run without a sandbox.</summary>
    public string? BubblewrapPath { get; }

    /// <summary>The prlimit program that sets the limits, or null when it is missing (no limits then).</summary>
    public string? PrlimitPath { get; }

    /// <summary>The limits this sandbox applies.</summary>
    public JobLimits Limits => _limits;

    /// <summary>A line for the node's start-up message.</summary>
    public string Describe() =>
        (BubblewrapPath is null ? "no sandbox" : "bubblewrap (no network, read-only system, only the job directory writable)")
        + (PrlimitPath is null ? ", no limits (prlimit missing)" : $", limits: CPU {(_limits.CpuSeconds > 0 ? _limits.CpuSeconds + " s" : "none")}, memory {Size(_limits.MemoryBytes)}, output {Size(_limits.OutputBytes)}");

    /// <summary>
    /// The program and arguments that run <paramref name="compiler"/> with <paramref name="arguments"/>
    /// in <paramref name="workingDirectory"/>, which lies inside <paramref name="jobDirectory"/>, the
    /// only directory the job may write.
    /// </summary>
    public (string Program, List<string> Arguments) Command(string compiler, IReadOnlyList<string> arguments, string workingDirectory, string jobDirectory)
    {
        var result = new List<string>(_bubblewrapPrefix.Count + arguments.Count + 16);
        var program = compiler;
        if (BubblewrapPath is not null)
        {
            program = BubblewrapPath;
            result.AddRange(_bubblewrapPrefix);

            // An allowed compiler outside the system directories (--compiler-dir /opt/cross/bin, say)
            // is seen read-only where it lies, and nothing else beside it.
            if (Path.GetDirectoryName(compiler) is { Length: > 1 } compilerDirectory && !IsSystemPath(compilerDirectory))
            {
                result.AddRange(["--ro-bind", compilerDirectory, compilerDirectory]);
            }

            result.AddRange(["--bind", jobDirectory, jobDirectory, "--chdir", workingDirectory, "--"]);
        }

        if (PrlimitPath is not null)
        {
            if (BubblewrapPath is null)
            {
                program = PrlimitPath;
            }
            else
            {
                result.Add(PrlimitPath);
            }

            // The soft CPU limit sends SIGXCPU, which gcc reports by name; the hard one a second later is SIGKILL.
            if (_limits.CpuSeconds > 0)
            {
                result.Add(string.Create(CultureInfo.InvariantCulture, $"--cpu={_limits.CpuSeconds}:{_limits.CpuSeconds + 1}"));
            }

            if (_limits.MemoryBytes > 0)
            {
                result.Add(string.Create(CultureInfo.InvariantCulture, $"--as={_limits.MemoryBytes}"));
            }

            if (_limits.OutputBytes > 0)
            {
                result.Add(string.Create(CultureInfo.InvariantCulture, $"--fsize={_limits.OutputBytes}"));
            }

            result.Add("--core=0");
            result.Add("--");
            result.Add(compiler);
        }
        else if (BubblewrapPath is not null)
        {
            result.Add(compiler);
        }

        result.AddRange(arguments);
        return (program, result);
    }

    private static bool IsSystemPath(string directory) =>
        directory == "/usr" || directory.StartsWith("/usr/", StringComparison.Ordinal)
        || Array.Exists(s_systemRoots, root => directory == root || directory.StartsWith(root + "/", StringComparison.Ordinal));

    /// <summary>
    /// When a failed compile met one of the limits, or the sandbox itself could not start, a message
    /// that says which; else null (an ordinary compile error).
    /// </summary>
    public string? LimitMessage(int exitCode, ReadOnlySpan<byte> stderr)
    {
        if (exitCode == 0)
        {
            return null;
        }

        // 128 + SIGXCPU (24) or SIGXFSZ (25): the compiler driver itself met the limit.
        var text = Encoding.UTF8.GetString(stderr.Length > 16384 ? stderr[^16384..] : stderr);
        if (exitCode == 152 || text.Contains("CPU time limit exceeded", StringComparison.Ordinal)
            || _limits.CpuSeconds > 0 && text.Contains("Killed signal terminated program", StringComparison.Ordinal))
        {
            return $"the job exceeded this node's CPU time limit of {_limits.CpuSeconds} s per process (kiln serve --job-cpu)";
        }

        if (exitCode == 153 || text.Contains("File size limit exceeded", StringComparison.Ordinal))
        {
            return $"the job wrote a file larger than this node's output limit of {Size(_limits.OutputBytes)} (kiln serve --job-output)";
        }

        if (_limits.MemoryBytes > 0 && (text.Contains("memory exhausted", StringComparison.Ordinal) || text.Contains("out of memory", StringComparison.Ordinal)
            || text.Contains("Cannot allocate memory", StringComparison.Ordinal) || text.Contains("std::bad_alloc", StringComparison.Ordinal)))
        {
            return $"the job exceeded this node's memory limit of {Size(_limits.MemoryBytes)} per process (kiln serve --job-memory)";
        }

        if (BubblewrapPath is not null && text.StartsWith("bwrap: ", StringComparison.Ordinal))
        {
            return $"the sandbox could not start: {text.Trim()} (kiln serve --sandbox off runs jobs without it)";
        }

        return null;
    }

    private static string Size(long bytes) => bytes <= 0 ? "none"
        : bytes % (1L << 30) == 0 ? $"{bytes >> 30} GiB"
        : bytes % (1L << 20) == 0 ? $"{bytes >> 20} MiB"
        : $"{bytes} bytes";

    private static string? Find(string program)
    {
        foreach (var dir in s_searchDirectories)
        {
            var path = Path.Combine(dir, program);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }
}
