using Kiln.Cli.Cc;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cc;

public sealed class RemoteDirectHistoryTests : IDisposable
{
    private readonly TempDirectory _dir = new("kiln-history");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void LookupsAreSkippedAfterMissesInARowSampledAndAskedAgainOnceANodeKnewACompile()
    {
        var state = _dir.Path;
        static int Never(int bound) => bound - 1;
        static int Always(int bound) => 0;

        // Nothing known yet: ask.
        Assert.True(RemoteDirectHistory.Load(state).ShouldAsk(Never));
        for (var i = 0; i < RemoteDirectHistory.MissesBeforeSkipping - 1; i++)
        {
            RemoteDirectHistory.Load(state).Record(known: false);
            Assert.True(RemoteDirectHistory.Load(state).ShouldAsk(Never));
        }

        // Misses in a row: skipped, except the sampled one in SampleEvery.
        RemoteDirectHistory.Load(state).Record(known: false);
        Assert.False(RemoteDirectHistory.Load(state).ShouldAsk(Never));
        Assert.True(RemoteDirectHistory.Load(state).ShouldAsk(Always));
        for (var i = 0; i < 20; i++)
        {
            RemoteDirectHistory.Load(state).Record(known: false);
        }

        Assert.False(RemoteDirectHistory.Load(state).ShouldAsk(Never));
        Assert.True(File.ReadAllText(Path.Combine(state, "remote-direct-history")).Length <= 8);

        // One compile the node knew (a warm rebuild begins): every compile asks again.
        RemoteDirectHistory.Load(state).Record(known: true);
        Assert.True(RemoteDirectHistory.Load(state).ShouldAsk(Never));
        RemoteDirectHistory.Load(state).Record(known: false);
        Assert.True(RemoteDirectHistory.Load(state).ShouldAsk(Never));
    }

    [Fact]
    public async Task AColdBuildStopsAskingLookupsAndACompileTheNodeKnewStartsThemAgain()
    {
        await using var node = await TestNode.StartAsync();
        var state = _dir.Combine("state");
        var counter = 0;
        async Task<string> CompileAsync(int? again = null)
        {
            var n = again ?? ++counter;
            var name = $"n{n}.c";
            _dir.Write(name, $"int g{n}(int x) {{ return x + {n}; }}\n");
            var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-O2", "-c", name, "-o", $"n{n}.o"], _dir.Path, new Dictionary<string, string?>
            {
                ["KILN_HOSTS"] = node.KilnHost(),
                ["DISTCC_HOSTS"] = null,
                ["KILN_DIR"] = state,
                ["KILN_FALLBACK"] = "0",
                ["KILN_CACHE_SIZE"] = "0",
                ["KILN_REMOTE_DIRECT"] = null,
                ["KILN_TRACE"] = "1",
            }, TimeSpan.FromMinutes(2));
            Assert.True(run.ExitCode == 0, run.Stderr);
            return run.Stderr;
        }

        static bool Asked(string trace) => trace.Contains("cc remote-direct +", StringComparison.Ordinal);
        static bool Skipped(string trace) => trace.Contains("cc remote-direct-predicted-miss", StringComparison.Ordinal);

        // A cold build: the first compiles ask, and miss.
        for (var i = 0; i < RemoteDirectHistory.MissesBeforeSkipping; i++)
        {
            var trace = await CompileAsync();
            Assert.True(Asked(trace) && !Skipped(trace), trace);
        }

        // Then most compiles skip the LOOKUP's round trip (one in eight asks, at random).
        var later = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            later.Add(await CompileAsync());
        }

        Assert.Contains(later, Skipped);
        Assert.All(later, t => Assert.True(Asked(t) != Skipped(t), t));
        Assert.Equal(RemoteDirectHistory.MissesBeforeSkipping + 6, node.Node.Counters.CompilesOk);

        // A compile the node has the result of (its JOB answered from the cache, or its LOOKUP a hit)...
        await CompileAsync(again: 1);
        Assert.Equal(RemoteDirectHistory.MissesBeforeSkipping + 6, node.Node.Counters.CompilesOk);

        // ...and the next compile asks again.
        Assert.True(Asked(await CompileAsync()));
    }

    [Fact]
    public void AGarbledOrUnreadableHistoryMeansAsk()
    {
        var path = Path.Combine(_dir.Path, "remote-direct-history");
        File.WriteAllText(path, "mm\0xyz");
        Assert.True(RemoteDirectHistory.Load(_dir.Path).ShouldAsk(_ => 1));
        RemoteDirectHistory.Load(_dir.Path).Record(known: false);
        Assert.Equal("mmm", File.ReadAllText(path));

        Directory.CreateDirectory(Path.Combine(_dir.Path, "gone"));
        Assert.True(RemoteDirectHistory.Load(Path.Combine(_dir.Path, "gone", "deeper")).ShouldAsk(_ => 1));
    }
}
