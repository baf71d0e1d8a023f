using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
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
/// <remarks>
/// No network: where <see cref="SeccompFilter"/> has a program for the machine, the job shares the
/// node's network namespace but cannot open a socket (and sees no <c>/proc</c>, whose <c>net</c>
/// directory would list the host's connections); elsewhere it gets an empty network namespace of its
/// own, which costs up to a few milliseconds a job (bench/sandbox-cost.sh).
/// </remarks>
public sealed partial class JobSandbox : IDisposable
{
    private const int OpenReadOnly = 0;
    private const uint MemfdCloseOnExec = 1;

    /// <summary>
    /// The one thread that starts every job's process, for the life of the node. Spawns run one at a
    /// time, so no other child inherits a seccomp descriptor meant for one.
    /// </summary>
    private static readonly SpawnThread s_spawner = new();

    private static readonly string[] s_searchDirectories = ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"];

    /// <summary>The top-level system links (merged /usr) or directories the compiler needs.</summary>
    private static readonly string[] s_systemRoots = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

    private readonly JobLimits _limits;
    private readonly List<string> _bubblewrapPrefix = [];

    /// <summary>A memfd (close-on-exec) holding the seccomp program; -1 without one.</summary>
    private int _seccompMemfd = -1;

    /// <summary>Finds bubblewrap and prlimit as <paramref name="limits"/> asks.</summary>
    public JobSandbox(JobLimits limits)
    {
        _limits = limits;
        PrlimitPath = Find("prlimit");
        DashPath = Find("dash");
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
            _seccompMemfd = limits.NetworkNamespace ? -1 : LoadSeccompProgram();
            _bubblewrapPrefix.AddRange(_seccompMemfd >= 0
                ? ["--unshare-user-try", "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
                : ["--unshare-all"]);
            _bubblewrapPrefix.AddRange(["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"]);
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
                "--dev", "/dev", "--tmpfs", "/tmp"]);
            if (_seccompMemfd < 0)
            {
                _bubblewrapPrefix.AddRange(["--proc", "/proc"]);
            }
        }
    }

    /// <summary>True when jobs are kept off the network by seccomp rather than by a network namespace.</summary>
    public bool UsesSeccomp => _seccompMemfd >= 0;

    /// <summary>
    /// Starts the process <paramref name="info"/> describes for the command line from
    /// <see cref="Command"/>, on <see cref="s_spawner"/>'s thread: bubblewrap's
    /// <c>--die-with-parent</c> is a parent-death signal, which Linux sends when the forking
    /// <em>thread</em> ends, and a thread-pool thread may end in the middle of a long compile. With
    /// seccomp, a descriptor for the program is opened for the child alone (not close-on-exec, so
    /// bubblewrap inherits it) and closed again once it has started.
    /// </summary>
    public Task<Process> StartAsync(ProcessStartInfo info) => s_spawner.Run(() =>
    {
        if (_seccompMemfd < 0)
        {
            return Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}");
        }

        // A fresh open file description, so each bubblewrap reads the program from its start.
        var fd = open($"/proc/self/fd/{_seccompMemfd}", OpenReadOnly);
        if (fd < 0)
        {
            throw new IOException($"could not open the seccomp program for bubblewrap (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            var index = info.ArgumentList.IndexOf(SeccompDescriptorPlaceholder);
            if (index >= 0)
            {
                info.ArgumentList[index] = fd.ToString(CultureInfo.InvariantCulture);
            }

            return Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}");
        }
        finally
        {
            _ = close(fd);
        }
    });

    /// <summary>Where <see cref="Command"/> puts the seccomp descriptor's number, which <see cref="StartAsync"/> fills in.</summary>
    private const string SeccompDescriptorPlaceholder = "@seccomp-fd@";

    private static int LoadSeccompProgram()
    {
        if (!OperatingSystem.IsLinux() || SeccompFilter.ForThisMachine() is not { } program)
        {
            return -1;
        }

        var fd = memfd_create("kiln-seccomp", MemfdCloseOnExec);
        if (fd < 0)
        {
            return -1;
        }

        unsafe
        {
            fixed (byte* bytes = program)
            {
                if (write(fd, bytes, program.Length) != program.Length)
                {
                    _ = close(fd);
                    return -1;
                }
            }
        }

        return fd;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _seccompMemfd, -1);
        if (fd >= 0)
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int memfd_create(string name, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    /// <summary>The bubblewrap program compiles run under, or null when they run without a sandbox.</summary>
    public string? BubblewrapPath { get; }

    /// <summary>The prlimit program that sets the limits when dash is missing, or null when it is missing too (no limits then).</summary>
    public string? PrlimitPath { get; }

    /// <summary>
    /// dash, whose <c>ulimit</c> sets the limits and then execs the compiler: the same limits as
    /// prlimit's, without loading a second program (prlimit cost about 3 ms a job; dash about none,
    /// docs/benchmarks.md). Null when missing.
    /// </summary>
    public string? DashPath { get; }

    /// <summary>The program that applies the limits: dash, else prlimit, else none.</summary>
    private string? LimiterPath => DashPath ?? PrlimitPath;

    /// <summary>The limits this sandbox applies.</summary>
    public JobLimits Limits => _limits;

    /// <summary>A line for the node's start-up message.</summary>
    public string Describe() =>
        (BubblewrapPath is null ? "no sandbox"
            : $"bubblewrap (no network: {(UsesSeccomp ? "seccomp" : "network namespace")}, read-only system, only the job directory writable)")
        + (LimiterPath is null ? ", no limits (dash and prlimit missing)" : $", limits: CPU {(_limits.CpuSeconds > 0 ? _limits.CpuSeconds + " s" : "none")}, memory {Size(_limits.MemoryBytes)}, output {Size(_limits.OutputBytes)}");

    /// <summary>
    /// The program and arguments that run <paramref name="compiler"/> with <paramref name="arguments"/>
    /// in <paramref name="workingDirectory"/>, which lies inside <paramref name="jobDirectory"/>, the
    /// only directory the job may write. <paramref name="view"/> adds bubblewrap options that lay the
    /// client's own paths out inside the sandbox (remote preprocessing); <paramref name="workingDirectory"/>
    /// is then one of those paths.
    /// </summary>
    public (string Program, List<string> Arguments) Command(string compiler, IReadOnlyList<string> arguments, string workingDirectory, string jobDirectory,
        IReadOnlyList<string>? view = null)
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

            if (_seccompMemfd >= 0)
            {
                result.AddRange(["--seccomp", SeccompDescriptorPlaceholder]);
            }

            // A view first: the job directory stays visible even under a client directory above it.
            if (view is not null)
            {
                result.AddRange(view);
            }

            result.AddRange(["--bind", jobDirectory, jobDirectory, "--chdir", workingDirectory, "--"]);
        }

        if (DashPath is not null)
        {
            if (BubblewrapPath is null)
            {
                program = DashPath;
            }
            else
            {
                result.Add(DashPath);
            }

            // The compiler and its arguments are $0 and "$@": never parsed by the shell.
            result.Add("-c");
            result.Add(UlimitScript());
            result.Add(compiler);
        }
        else if (PrlimitPath is not null)
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

    /// <summary>True when a compile can start in a warm sandbox (<see cref="WarmCommand"/>): bubblewrap and dash are both here.</summary>
    public bool CanWarm => BubblewrapPath is not null && DashPath is not null;

    /// <summary>True when <paramref name="compiler"/> can run in a warm sandbox: it lies in a system directory, which every sandbox sees.</summary>
    public bool CanWarmFor(string compiler) =>
        CanWarm && (Path.GetDirectoryName(compiler) is not { Length: > 1 } directory || IsSystemPath(directory));

    /// <summary>The file in a warm sandbox's job directory that holds the command it runs (<see cref="RunFile"/>).</summary>
    public const string RunFileName = ".kiln-run";

    /// <summary>The file a warm sandbox's run file creates first: the job started.</summary>
    public const string StartedFileName = ".kiln-started";

    /// <summary>
    /// The program and arguments of a warm sandbox for <paramref name="jobDirectory"/>: the same
    /// bubblewrap confinement and limits as <see cref="Command"/> gives a compiler from a system
    /// directory, started before its job arrives. Inside, dash sets the limits, then waits for one
    /// line on its standard input; when it comes, dash reads <see cref="RunFileName"/> from the job
    /// directory (<see cref="RunFile"/>), which execs the compiler. If standard input closes without
    /// a line, it exits having run nothing. Namespace setup, the mounts and dash's start, several
    /// milliseconds of a small compile (docs/benchmarks.md), are then off the job's critical path.
    /// </summary>
    public (string Program, List<string> Arguments) WarmCommand(string jobDirectory)
    {
        if (!CanWarm)
        {
            throw new InvalidOperationException("a warm sandbox needs bubblewrap and dash");
        }

        var result = new List<string>(_bubblewrapPrefix.Count + 12);
        result.AddRange(_bubblewrapPrefix);
        if (_seccompMemfd >= 0)
        {
            result.AddRange(["--seccomp", SeccompDescriptorPlaceholder]);
        }

        result.AddRange(["--bind", jobDirectory, jobDirectory, "--chdir", jobDirectory, "--", DashPath!, "-c",
            UlimitScript("IFS= read -r go && . ./" + RunFileName)]);
        return (BubblewrapPath!, result);
    }

    /// <summary>
    /// What a warm sandbox runs: marks the job started (<see cref="StartedFileName"/>), exports <paramref name="environment"/> and execs
    /// <paramref name="compiler"/> with <paramref name="arguments"/>, every word single-quoted, so the
    /// shell reads each one literally (a quote inside a word is closed, escaped and reopened). Null
    /// when a word holds a NUL, which no argument can carry: the caller starts the job cold.
    /// </summary>
    public static string? RunFile(string compiler, IReadOnlyList<string> arguments, IEnumerable<KeyValuePair<string, string>> environment)
    {
        // A regular builtin, errors silenced first: a failed redirection of a special one (:) would end dash.
        var script = new StringBuilder(256).Append("true 2>/dev/null >").Append(StartedFileName).Append('\n');
        foreach (var (name, value) in environment)
        {
            if (!IsVariableName(name) || value.Contains('\0', StringComparison.Ordinal))
            {
                return null;
            }

            script.Append("export ").Append(name).Append('=');
            Quote(script, value);
            script.Append('\n');
        }

        script.Append("exec ");
        Quote(script, compiler);
        foreach (var argument in arguments)
        {
            if (argument.Contains('\0', StringComparison.Ordinal))
            {
                return null;
            }

            script.Append(' ');
            Quote(script, argument);
        }

        script.Append('\n');
        return script.ToString();

        static void Quote(StringBuilder script, string word) =>
            script.Append('\'').Append(word.Replace("'", "'\\''", StringComparison.Ordinal)).Append('\'');

        static bool IsVariableName(string name) =>
            name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
    }

    /// <summary>
    /// The dash script that sets the limits and then runs <paramref name="tail"/> (by default, execs
    /// the compiler): the soft CPU limit sends SIGXCPU, which gcc reports by name, and the hard one a
    /// second later is SIGKILL (set soft first, as the hard limit may not go below it); memory in KiB
    /// and output in 512-byte blocks, as dash counts.
    /// </summary>
    private string UlimitScript(string tail = "exec \"$0\" \"$@\"")
    {
        var script = new StringBuilder();
        if (_limits.CpuSeconds > 0)
        {
            script.Append(CultureInfo.InvariantCulture, $"ulimit -S -t {_limits.CpuSeconds} && ulimit -H -t {_limits.CpuSeconds + 1} && ");
        }

        if (_limits.MemoryBytes > 0)
        {
            script.Append(CultureInfo.InvariantCulture, $"ulimit -v {Math.Max(1, _limits.MemoryBytes / 1024)} && ");
        }

        if (_limits.OutputBytes > 0)
        {
            script.Append(CultureInfo.InvariantCulture, $"ulimit -f {Math.Max(1, _limits.OutputBytes / 512)} && ");
        }

        script.Append("ulimit -c 0 && ").Append(tail);
        return script.ToString();
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
