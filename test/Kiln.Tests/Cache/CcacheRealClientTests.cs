using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cache;

/// <summary>
/// The real ccache (Debian's 4.7.5, built-in HTTP backend, 33-character keys) against a node: client
/// A with an empty cache compiles and uploads; client B with another empty cache must get every
/// object from the node, byte for byte, as its own counters show.
/// </summary>
public sealed class CcacheRealClientTests
{
    private static readonly string[] Sources = ["alpha", "beta", "gamma"];

    [Theory]
    [InlineData("")]
    [InlineData("|layout=subdirs")]
    [InlineData("|layout=flat")]
    [InlineData("|layout=bazel")]
    public async Task Second_client_gets_remote_hits_with_identical_objects(string attributes)
    {
        Assert.True(Tools.Exists("ccache"), "ccache is not installed (apt-get install -y ccache)");
        await using var node = await TestNode.StartAsync();
        using var work = new TempDirectory("kiln-ccache");
        foreach (var name in Sources)
        {
            work.Write($"src/{name}.c", $"#include <stdio.h>\nint {name}(int x) {{ printf(\"{name} %d\\n\", x); return x * {name.Length}; }}\n");
        }

        var remote = $"http://127.0.0.1:{node.Node.HttpEndPoint!.Port}/ccache{attributes}";
        var a = await CompileAllAsync(work, "a", remote);
        Assert.Equal(3, a["cache_miss"]);
        Assert.Equal(0, a["remote_storage_error"] + a["remote_storage_timeout"]);
        Assert.True(a["remote_storage_write"] >= 3, $"client A wrote {a["remote_storage_write"]} entries");

        var b = await CompileAllAsync(work, "b", remote);
        Assert.Equal(0, b["cache_miss"]);
        Assert.Equal(0, b["remote_storage_error"] + b["remote_storage_timeout"]);
        Assert.Equal(3, b["remote_storage_hit"]);
        Assert.Equal(3, b["direct_cache_hit"] + b["preprocessed_cache_hit"]);
        foreach (var name in Sources)
        {
            Assert.Equal(File.ReadAllBytes(work.Combine("a", name + ".o")), File.ReadAllBytes(work.Combine("b", name + ".o")));
        }
    }

    [Fact]
    public async Task Entries_written_with_one_layout_are_hits_with_another()
    {
        await using var node = await TestNode.StartAsync();
        using var work = new TempDirectory("kiln-ccache");
        work.Write("src/alpha.c", "int alpha(void) { return 42; }\n");
        var url = $"http://127.0.0.1:{node.Node.HttpEndPoint!.Port}/ccache";
        var a = await CompileAsync(work, "a", url + "|layout=subdirs", "alpha");
        Assert.Equal(1, a["cache_miss"]);

        var b = await CompileAsync(work, "b", url + "|layout=bazel", "alpha");
        Assert.Equal(1, b["remote_storage_hit"]);
        var c = await CompileAsync(work, "c", url + "|layout=flat", "alpha");
        Assert.Equal(1, c["remote_storage_hit"]);
        Assert.Equal(File.ReadAllBytes(work.Combine("a", "alpha.o")), File.ReadAllBytes(work.Combine("c", "alpha.o")));
    }

    private static async Task<Dictionary<string, long>> CompileAllAsync(TempDirectory work, string client, string remote)
    {
        Dictionary<string, long> stats = [];
        foreach (var name in Sources)
        {
            stats = await CompileAsync(work, client, remote, name);
        }

        return stats;
    }

    /// <summary>Compiles src/NAME.c into CLIENT/NAME.o with ccache directory CLIENT.ccache; returns that client's counters.</summary>
    private static async Task<Dictionary<string, long>> CompileAsync(TempDirectory work, string client, string remote, string name)
    {
        Directory.CreateDirectory(work.Combine(client));
        var config = work.Write(client + ".conf", "");
        var environment = new Dictionary<string, string?>
        {
            ["CCACHE_DIR"] = work.Combine(client + ".ccache"),
            ["CCACHE_CONFIGPATH"] = config,
            ["CCACHE_REMOTE_STORAGE"] = remote,
            ["CCACHE_LOGFILE"] = work.Combine(client + ".log"),
            ["CCACHE_DISABLE"] = null,
            ["CCACHE_RECACHE"] = null,
            ["CCACHE_READONLY"] = null,
            ["CCACHE_REMOTE_ONLY"] = null,
            ["CCACHE_PREFIX"] = null,
        };
        var run = await Tools.RunAsync("ccache", ["gcc", "-O2", "-c", $"src/{name}.c", "-o", $"{client}/{name}.o"], work.Path, environment,
            TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.Stderr);

        var stats = await Tools.RunAsync("ccache", ["--print-stats"], work.Path, environment, TimeSpan.FromMinutes(1));
        Assert.True(stats.ExitCode == 0, stats.Stderr);
        var counters = new Dictionary<string, long>();
        foreach (var line in stats.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split('\t');
            if (parts.Length == 2 && long.TryParse(parts[1], out var value))
            {
                counters[parts[0]] = value;
            }
        }

        return counters;
    }
}
