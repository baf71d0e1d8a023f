using Kiln.Cli.Cc;
using Kiln.Core.Hosts;
using Kiln.Core.Remote;
using Kiln.Tests.Cc;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Scheduling;

/// <summary>
/// A remote compile that does not answer is raced here once KILN_RACE_AFTER passes and a local slot is
/// idle; the first result wins, the object is what plain gcc gives, and the remote job is cancelled.
/// </summary>
public sealed class StragglerRaceTests : IDisposable
{
    private readonly TempDirectory _plain = new("kiln-race-plain");
    private readonly TempDirectory _kiln = new("kiln-race-kiln");
    private readonly TempDirectory _state = new("kiln-race-state");

    public StragglerRaceTests()
    {
        CcHarness.WriteProject(_plain.Path);
        CcHarness.WriteProject(_kiln.Path);
    }

    public void Dispose()
    {
        _plain.Dispose();
        _kiln.Dispose();
        _state.Dispose();
    }

    /// <summary>A node that takes the job and never answers until cancelled.</summary>
    private sealed class StallingClient : IRemoteCompileClient
    {
        public int Calls;
        public int Cancelled;

        public async Task<RemoteCompileReply> CompileAsync(HostSpec host, RemoteCompileRequest request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            try
            {
                await Task.Delay(TimeSpan.FromMinutes(5), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref Cancelled);
                throw;
            }

            return RemoteCompileReply.Fail("never");
        }
    }

    private CcSettings Settings(TimeSpan raceAfter, bool fallback = true)
    {
        var basis = CcHarness.Settings(_kiln.Path, _state.Path, "127.0.0.1:7009/2", fallback, seed: 3, verbose: true);
        return new CcSettings
        {
            WorkingDirectory = basis.WorkingDirectory,
            StateDirectory = basis.StateDirectory,
            HostsText = basis.HostsText,
            HostsSource = basis.HostsSource,
            Fallback = basis.Fallback,
            Seed = basis.Seed,
            Verbose = true,
            SlotPoll = basis.SlotPoll,
            Locale = basis.Locale,
            RaceAfter = raceAfter,
            RemoteTimeout = TimeSpan.FromSeconds(30),
        };
    }

    private static async Task<CcHarness.Result> RunAsync(CcSettings settings, IRemoteCompileClient client, params string[] args)
    {
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        var driver = new CompileDriver(settings, _ => client, new CompilerConsole(stdout, stderr, isProcessConsole: false));
        var exit = await driver.RunAsync("gcc", Masquerade.FindRealCompiler("gcc")!, args, CancellationToken.None);
        return new CcHarness.Result(exit, System.Text.Encoding.UTF8.GetString(stdout.ToArray()), System.Text.Encoding.UTF8.GetString(stderr.ToArray()));
    }

    [Fact]
    public async Task A_stalled_node_is_raced_locally_and_the_first_result_wins()
    {
        var client = new StallingClient();
        var args = "-MD -O2 -c src/a.c -Iinclude -o obj/a.o".Split(' ');
        await CcHarness.PlainAsync(_plain.Path, "gcc", args);

        var kiln = await RunAsync(Settings(TimeSpan.FromMilliseconds(300)), client, args).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(kiln.ExitCode == 0, kiln.Stderr);
        Assert.Contains("has waited 0.3 s for 127.0.0.1:7009 and a local slot is idle; compiling it here too", kiln.Stderr);
        Assert.Contains("compiled on localhost (raced against 127.0.0.1:7009", kiln.Stderr);
        Assert.Equal(1, client.Calls);
        Assert.Equal(1, client.Cancelled);
        CcHarness.AssertSameFiles(_plain.Path, _kiln.Path);
    }

    [Fact]
    public async Task No_race_while_every_local_slot_is_busy()
    {
        var client = new StallingClient();
        var slots = new HostSlots(_state.Path);
        var local = new HostSpec { Text = "localhost", Kind = HostKind.Local };
        using var first = FileLock.TryTake(slots.LockPath(local, 0));
        using var second = FileLock.TryTake(slots.LockPath(local, 1));
        Assert.NotNull(first);
        Assert.NotNull(second);

        var settings = Settings(TimeSpan.FromMilliseconds(200));
        var compile = RunAsync(new CcSettings
        {
            WorkingDirectory = settings.WorkingDirectory,
            StateDirectory = settings.StateDirectory,
            HostsText = settings.HostsText,
            HostsSource = settings.HostsSource,
            Seed = settings.Seed,
            Verbose = true,
            SlotPoll = settings.SlotPoll,
            RaceAfter = settings.RaceAfter,
            RemoteTimeout = TimeSpan.FromSeconds(2),
        }, client, "-c", "src/a.c", "-Iinclude");
        var result = await compile.WaitAsync(TimeSpan.FromMinutes(1));

        // The node timed out instead; the fallback compiled here, but no race ran.
        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain("compiling it here too", result.Stderr);
        Assert.Contains("no reply within 2 s", result.Stderr);
    }
}
