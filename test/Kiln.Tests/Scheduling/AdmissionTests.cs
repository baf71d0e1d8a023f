using System.Text;
using Kiln.Core.Compile;
using Kiln.Server.Compile;
using Kiln.Server.Scheduling;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Scheduling;

/// <summary>
/// Node admission: BUSY for Kiln protocol jobs when load from other work, memory or disk say no (the
/// client can go elsewhere), queueing for distcc jobs (whose clients cannot), and the nice level.
/// </summary>
public sealed class AdmissionTests : IDisposable
{
    private readonly TempDirectory _jobs = new("kiln-admission");

    public void Dispose() => _jobs.Dispose();

    private (CompileExecutor Executor, FakeReadings Readings) Executor(Action<CompileExecutorOptions>? configure = null)
    {
        var options = new CompileExecutorOptions { Slots = 1, JobRoot = _jobs.Combine("jobs"), WarmSandboxes = false };
        options.Admission.ReadingLifetime = TimeSpan.Zero;
        configure?.Invoke(options);
        var readings = new FakeReadings();
        return (new CompileExecutor(options, new NodeCounters(), readings), readings);
    }

    private static CompileJob Job(string frontEnd, string compiler = "gcc") => new()
    {
        Compiler = compiler,
        Arguments = ["-O2"],
        Language = SourceLanguage.PreprocessedC,
        Input = Encoding.UTF8.GetBytes("int f(int x) { return x * 7; }\n"),
        Client = "127.0.0.1:4000",
        FrontEnd = frontEnd,
    };

    [Fact]
    public async Task Load_from_other_work_memory_and_disk_each_give_busy_with_a_reason()
    {
        var (executor, readings) = Executor(o => o.Admission.MaxOtherLoad = 2);

        readings.Reading = new HostReading(LoadAverage: 5.5, 8L << 30, 100L << 30);
        var load = await executor.ExecuteAsync(Job("kiln"), CancellationToken.None);
        Assert.Equal(RefusalKind.Busy, load.Refusal);
        Assert.Contains("load average 5.5", load.Message);

        readings.Reading = new HostReading(0.2, AvailableMemoryBytes: 10L << 20, 100L << 30);
        var memory = await executor.ExecuteAsync(Job("kiln"), CancellationToken.None);
        Assert.Equal(RefusalKind.Busy, memory.Refusal);
        Assert.Contains("10 MiB available", memory.Message);

        readings.Reading = new HostReading(0.2, 8L << 30, FreeDiskBytes: 5L << 20);
        var disk = await executor.ExecuteAsync(Job("kiln"), CancellationToken.None);
        Assert.Equal(RefusalKind.Busy, disk.Refusal);
        Assert.Contains("short of disk", disk.Message);
        Assert.Equal((1, 1, 1), (executor.Admission.RefusedForLoad, executor.Admission.RefusedForMemory, executor.Admission.RefusedForDisk));

        // The same machine takes a distcc job: stock distcc cannot try elsewhere, so it waits its turn.
        var distcc = await executor.ExecuteAsync(Job("distcc"), CancellationToken.None);
        Assert.True(distcc.Ran, distcc.Message);

        readings.Reading = new HostReading(0.2, 8L << 30, 100L << 30);
        var fine = await executor.ExecuteAsync(Job("kiln"), CancellationToken.None);
        Assert.True(fine.Ran, fine.Message);
        Assert.Equal(0, fine.Outcome!.ExitCode);
        Assert.Equal(3, executor.Counters.Busy);
    }

    [Fact]
    public void Own_compiles_do_not_count_as_other_work()
    {
        var (executor, readings) = Executor(o => o.Admission.MaxOtherLoad = 1.5);
        readings.Reading = new HostReading(2.0, 8L << 30, 100L << 30);
        Assert.Equal("node busy with other work: load average 2 minus 0 own compiles exceeds 1.5", executor.Admission.Refusal(running: 0));
        Assert.Null(executor.Admission.Refusal(running: 1));
    }

    [Fact]
    public async Task Compilers_run_at_the_nodes_nice_level()
    {
        // An allowed "gcc" that reports its own niceness (coreutils' nice with no command prints it; the
        // sandbox has no /proc) and writes no object.
        var bin = Directory.CreateDirectory(_jobs.Combine("bin")).FullName;
        var shim = Path.Combine(bin, "gcc");
        await File.WriteAllTextAsync(shim, "#!/bin/sh\necho \"nice=$(nice)\" >&2\n");
        File.SetUnixFileMode(shim, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var (niced, _) = Executor(o =>
        {
            o.Nice = 7;
            o.CompilerDirectories = [bin];
        });
        var result = await niced.ExecuteAsync(Job("kiln"), CancellationToken.None);
        Assert.True(result.Ran, result.Message);
        Assert.Equal("nice=7\n", Encoding.UTF8.GetString(result.Outcome!.Stderr.Span));

        var (plain, _) = Executor(o => o.CompilerDirectories = [bin]);
        var normal = await plain.ExecuteAsync(Job("kiln"), CancellationToken.None);
        Assert.True(normal.Ran, normal.Message);
        Assert.Equal("nice=0\n", Encoding.UTF8.GetString(normal.Outcome!.Stderr.Span));
    }

    [Fact]
    public async Task A_full_queue_gives_kiln_jobs_busy_and_distcc_jobs_a_place()
    {
        var (executor, _) = Executor(o => o.Admission.MaxWaiting = 0);
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => executor.ExecuteAsync(Job("kiln"), CancellationToken.None)));
        Assert.Contains(results, r => r.Ran);
        Assert.All(results, r => Assert.True(r.Ran || r.Refusal == RefusalKind.Busy, r.Message));
        Assert.Equal(1, executor.Counters.MaxRunning);

        var distcc = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => executor.ExecuteAsync(Job("distcc"), CancellationToken.None)));
        Assert.All(distcc, r => Assert.True(r.Ran, r.Message));
        Assert.Equal(1, executor.Counters.MaxRunning);
    }
}
