using System.Text;
using Kiln.Core.Compile;
using Kiln.Core.Remote;
using Kiln.Server.Compile;
using Kiln.Tests.Accounting;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Sandbox;

/// <summary>
/// Warm sandboxes (CompileExecutor.Warm.cs): after its first job, an executor keeps a bubblewrap
/// sandbox ready per slot, and a job that takes one gives exactly what a job in a sandbox started
/// for it gives: the same object, stdout, stderr and exit code, every argument passed literally
/// (the command goes through a shell script inside the sandbox), the same limits. A warm sandbox
/// that died is never used, and disposing the executor ends them all.
/// </summary>
public sealed class WarmSandboxTests : IDisposable
{
    private static readonly Dictionary<string, string> s_cLocale = new() { ["LC_ALL"] = "C" };

    private readonly TempDirectory _root = new("kiln-warm");

    public void Dispose() => _root.Dispose();

    private CompileExecutor NewExecutor(bool warm, string name, JobLimits? limits = null) =>
        new(new CompileExecutorOptions
        {
            Slots = 1,
            JobRoot = _root.Combine(name),
            WarmSandboxes = warm,
            Limits = limits ?? new JobLimits { Sandbox = JobSandboxMode.Bubblewrap },
        }, new NodeCounters());

    private static CompileJob Job(string source, params string[] arguments) => new()
    {
        Compiler = "gcc",
        Arguments = arguments,
        Language = SourceLanguage.PreprocessedC,
        Input = Encoding.UTF8.GetBytes(source),
        SourceName = "warm.c",
        Locale = s_cLocale,
    };

    private static async Task<CompileResult> RunAsync(CompileExecutor executor, CompileJob job)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        return await executor.ExecuteAsync(job, cts.Token);
    }

    /// <summary>Runs a first job (which starts cold and leaves a warm sandbox behind), then waits for that sandbox.</summary>
    private static async Task WarmUpAsync(CompileExecutor executor)
    {
        Assert.True(executor.Sandbox.CanWarm, "bubblewrap or dash is missing (scripts/setup installs both)");
        var first = await RunAsync(executor, Job("int first;\n"));
        Assert.True(first.Outcome is { ExitCode: 0 }, first.Message);
        await WaitUntilAsync(() => executor.WarmReady == 1, "no warm sandbox became ready after the first job");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string message)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Live processes whose command line names <paramref name="root"/> (the warm sandboxes under it),
    /// and their descendants (dash inside each): zombies count as gone.
    /// </summary>
    private static List<int> ProcessesUnder(string root)
    {
        var parents = new Dictionary<int, int>();
        var found = new HashSet<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                // "pid (comm) state ppid ...": comm may hold spaces, so read after its closing parenthesis.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] == "Z")
                {
                    continue;
                }

                parents[pid] = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Contains(root, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (pid, parent) in parents)
            {
                if (found.Contains(parent) && found.Add(pid))
                {
                    grew = true;
                }
            }
        }

        return [.. found];
    }

    private static void AssertSame(CompileResult cold, CompileResult warm)
    {
        Assert.True(cold.Outcome is not null, cold.Message);
        Assert.True(warm.Outcome is not null, warm.Message);
        Assert.Equal(cold.Outcome.ExitCode, warm.Outcome.ExitCode);
        Assert.Equal(Encoding.UTF8.GetString(cold.Outcome.Stderr.Span), Encoding.UTF8.GetString(warm.Outcome.Stderr.Span));
        Assert.Equal(cold.Outcome.Stdout.ToArray(), warm.Outcome.Stdout.ToArray());
        Assert.Equal(cold.Outcome.Object.ToArray(), warm.Outcome.Object.ToArray());
    }

    [Fact]
    public async Task A_job_in_a_warm_sandbox_gives_what_a_cold_sandbox_gives_with_every_argument_taken_literally()
    {
        using var warm = NewExecutor(warm: true, "warm");
        using var cold = NewExecutor(warm: false, "cold");
        await WarmUpAsync(warm);

        // Quotes, a command substitution, backticks, a backslash, a glob and a newline: each must reach
        // gcc as the one word it is, and none may be run by the shell that execs gcc.
        const string Tricky = "a'b \"$(touch pwned)\" `touch pwned2` \\ * ;exit 3";
        // The input is preprocessed, so gcc takes the -D and ignores it: the shell must too (no file
        // made, no exit 3). The failing job below shows gcc gets such a word intact.
        var source = "int unused(int x) { int y; return x; }\n";
        var job = Job(source, "-O2", "-Wall", "-DMSG=" + Tricky);
        var fromCold = await RunAsync(cold, job);
        var fromWarm = await RunAsync(warm, job);

        Assert.Equal(1, warm.WarmStarts);
        Assert.Equal(0, cold.WarmStarts);
        AssertSame(fromCold, fromWarm);
        Assert.Equal(0, fromWarm.Outcome!.ExitCode);
        Assert.Contains("unused variable 'y'", Encoding.UTF8.GetString(fromWarm.Outcome.Stderr.Span));
        Assert.False(fromWarm.Outcome.Object.IsEmpty);

        // A compile error, with an option gcc does not know spelled with a quote and a newline in it.
        await WaitUntilAsync(() => warm.WarmReady == 1, "no warm sandbox after the second job");
        var failing = Job("int ok;\n", "-Wbogus'$(id)\nnext");
        var failCold = await RunAsync(cold, failing);
        var failWarm = await RunAsync(warm, failing);
        Assert.Equal(2, warm.WarmStarts);
        AssertSame(failCold, failWarm);
        Assert.NotEqual(0, failWarm.Outcome!.ExitCode);
        Assert.Contains("-Wbogus'$(id)\nnext", Encoding.UTF8.GetString(failWarm.Outcome.Stderr.Span));
        Assert.Empty(Directory.EnumerateFiles(_root.Path, "pwned*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_warm_sandbox_keeps_the_cpu_limit()
    {
        using var executor = NewExecutor(warm: true, "limit", new JobLimits { Sandbox = JobSandboxMode.Bubblewrap, CpuSeconds = 1 });
        await WarmUpAsync(executor);

        var spin = new CompileJob
        {
            Compiler = "g++",
            Arguments = ["-fconstexpr-loop-limit=2147483647", "-fconstexpr-ops-limit=9223372036854775807"],
            Language = SourceLanguage.PreprocessedCxx,
            Input = "constexpr long spin() { long s = 0; for (long i = 0; i < 2000000000L; i++) s += i & 7; return s; }\nstatic_assert(spin() > 0);\nint y;\n"u8.ToArray(),
            SourceName = "spin.cc",
            Locale = s_cLocale,
        };
        var result = await RunAsync(executor, spin);

        Assert.Equal(1, executor.WarmStarts);
        Assert.Equal(RefusalKind.TooLarge, result.Refusal);
        Assert.Contains("exceeded this node's CPU time limit of 1 s per process", result.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_warm_sandbox_that_died_runs_nothing_and_the_job_starts_cold(bool wholeSandbox)
    {
        var name = wholeSandbox ? "died-all" : "died-dash";
        using var executor = NewExecutor(warm: true, name);
        await WarmUpAsync(executor);
        var processes = ProcessesUnder(_root.Combine(name));
        Assert.NotEmpty(processes);

        // Either the whole sandbox, waited for until gone; or only dash, which was to read the job's
        // line, with no wait: bubblewrap, which holds the same pipe, may still be there when the job
        // comes, so writing the line succeeds, yet nothing reads it.
        // A sandbox counts as warm once bubblewrap started; dash comes a moment later (under load, after this looked).
        if (!wholeSandbox)
        {
            await WaitUntilAsync(() => ProcessesUnder(_root.Combine(name)).Any(pid => ReadComm(pid) == "dash"), "no warm sandbox got as far as dash");
            processes = ProcessesUnder(_root.Combine(name));
        }

        var victims = wholeSandbox ? processes : processes.Where(pid => ReadComm(pid) == "dash").ToList();
        Assert.NotEmpty(victims);
        foreach (var pid in victims)
        {
            try
            {
                System.Diagnostics.Process.GetProcessById(pid).Kill();
            }
            catch (ArgumentException)
            {
            }
        }

        if (wholeSandbox)
        {
            await WaitUntilAsync(() => ProcessesUnder(_root.Combine(name)).Count == 0, "the killed warm sandbox did not end");
        }

        var result = await RunAsync(executor, Job("int after;\n", "-O2"));

        Assert.True(result.Outcome is { ExitCode: 0 }, result.Message);
        Assert.False(result.Outcome.Object.IsEmpty);
        Assert.Empty(result.Outcome.Stderr.ToArray());
        Assert.Equal(0, executor.WarmStarts);
    }

    private static string ReadComm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    [Fact]
    public async Task Disposing_the_executor_ends_its_warm_sandboxes_and_removes_their_directories()
    {
        var root = _root.Combine("disposed");
        var executor = NewExecutor(warm: true, "disposed");
        await WarmUpAsync(executor);
        Assert.NotEmpty(ProcessesUnder(root));

        executor.Dispose();

        await WaitUntilAsync(() => ProcessesUnder(root).Count == 0, "a warm sandbox outlived its executor");
        await WaitUntilAsync(() => !Directory.EnumerateFileSystemEntries(root).Any(), "a warm sandbox's job directory was left behind");
    }

    [Fact]
    public async Task Kiln_serve_counts_warm_starts_and_turns_them_off_on_request()
    {
        var bad = await Tools.RunAsync(Tools.KilnBinary, ["serve", "--warm-sandboxes", "maybe"]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--warm-sandboxes maybe: expected on or off", bad.Stderr, StringComparison.Ordinal);

        await using var on = await NodeProcess.StartAsync(slots: 1);
        await using var off = await NodeProcess.StartAsync(slots: 1, distcc: false, "--warm-sandboxes", "off");
        foreach (var node in new[] { on, off })
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(RemoteStatus.Completed, (await AccountingApi.CompileAsync(node, "warm", $"int f{i}(int x) {{ return x + {i}; }}\n")).Status);
                await Task.Delay(300);
            }
        }

        Assert.Equal(3, await on.StatAsync("compilesOk"));
        // The first job starts cold; the others find a warm sandbox unless the machine was too slow to set one up in time.
        Assert.InRange(await on.StatAsync("warmStarts"), 1, 2);
        Assert.Equal(3, await off.StatAsync("compilesOk"));
        Assert.Equal(0, await off.StatAsync("warmStarts"));
        using var http = new HttpClient();
        Assert.Contains("kiln_jobs_warm_sandbox_total{node=", await http.GetStringAsync($"http://{on.HttpEndPoint}/metrics"), StringComparison.Ordinal);
    }
    [Fact]
    public async Task ACompilerWritingPastTheOutputCapIsStoppedAtOnce()
    {
        // 3000 warnings (about 300 KB of stderr, far past a pipe's 64 KiB) against a 16 KiB cap: the
        // compiler would block on the full pipe until the job's lifetime ran out; it is stopped as soon
        // as the cap is passed, and the job says why.
        using var executor = new CompileExecutor(new CompileExecutorOptions
        {
            Slots = 1,
            JobRoot = _root.Combine("capped"),
            MaxOutputBytes = 16 << 10,
            JobLifetime = TimeSpan.FromSeconds(60),
            Limits = new JobLimits { Sandbox = JobSandboxMode.Bubblewrap },
        }, new NodeCounters());
        var source = new StringBuilder();
        for (var i = 0; i < 3000; i++)
        {
            source.Append("int f").Append(i).Append("(void) { }\n");
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = await RunAsync(executor, Job(source.ToString(), "-Wall"));
        Assert.Null(result.Outcome);
        Assert.Equal(RefusalKind.TooLarge, result.Refusal);
        Assert.Contains("compiler output exceeds the node's limit of 16384 bytes", result.Message, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"the capped job took {started.Elapsed.TotalSeconds:0.#} s");
    }
}
