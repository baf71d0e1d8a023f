using Kiln.Cli.LocalCache;
using Kiln.Core.Hashing;
using Kiln.Server.Cache;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.CompileCache;

/// <summary>
/// The local cache of the kiln program: an identical rebuild is a direct-mode hit that never runs the
/// preprocessor, a changed header is a miss, a node's answer fills the cache, and the cap holds.
/// The compiler is a wrapper around gcc that logs every preprocessor run (-E).
/// </summary>
public sealed class LocalCacheTests : IDisposable
{
    private readonly TempDirectory _dir = new("kiln-local-cache");

    public LocalCacheTests()
    {
        _dir.Write("include/h.h", "#define WIDTH 7\nstatic inline int twice(int x) { return 2 * x; }\n");
        _dir.Write("s.c", "#include <stdio.h>\n#include \"h.h\"\nint s(void) { int unused; printf(\"%d\\n\", twice(WIDTH)); return WIDTH; }\n");
        var wrapper = _dir.Write("bin/gcc", $"#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = \"-E\" ] && echo \"$*\" >> {_dir.Combine("cpp.log")}; done\nexec /usr/bin/gcc \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Age("include/h.h", "s.c");
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Dates files an hour back, so no test depends on how soon after a write a compile may record a file's digest.</summary>
    private void Age(params string[] names)
    {
        foreach (var name in names)
        {
            File.SetLastWriteTimeUtc(_dir.Combine(name), DateTime.UtcNow.AddHours(-1));
        }
    }

    private int PreprocessorRuns => File.Exists(_dir.Combine("cpp.log")) ? File.ReadAllLines(_dir.Combine("cpp.log")).Length : 0;

    private long Counter(string state, string name) => new FileInfo(Path.Combine(state, "cache", "stats", name)) is { Exists: true } f ? f.Length : 0;

    private async Task<Tools.Run> KilnCcAsync(string hosts, string state, string output, Dictionary<string, string?>? extra = null, bool dependencyFile = true)
    {
        var environment = new Dictionary<string, string?>
        {
            ["KILN_HOSTS"] = hosts,
            ["DISTCC_HOSTS"] = null,
            ["KILN_DIR"] = state,
            ["KILN_FALLBACK"] = null,
            ["KILN_VERBOSE"] = null,
            ["KILN_CACHE_SIZE"] = null,
            ["KILN_REMOTE_DIRECT"] = null,
            ["KILN_REMOTE_PREPROCESS"] = null,
            ["KILN_USER"] = null,
            ["LC_ALL"] = "C",
        };
        foreach (var (name, value) in extra ?? [])
        {
            environment[name] = value;
        }
        var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", _dir.Combine("bin/gcc"), "-Iinclude", "-O2", "-Wall", .. (dependencyFile ? (string[])["-MD"] : []), "-c", "s.c", "-o", output],
            _dir.Path, environment, TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.Stderr);
        return run;
    }

    private async Task<(byte[] Object, string Dependencies, string Stderr)> LocalGccAsync()
    {
        var run = await Tools.RunAsync("gcc", ["-Iinclude", "-O2", "-Wall", "-MD", "-c", "s.c", "-o", "ref.o"], _dir.Path, new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.True(run.ExitCode == 0, run.Stderr);
        return (await File.ReadAllBytesAsync(_dir.Combine("ref.o")), await File.ReadAllTextAsync(_dir.Combine("ref.d")), run.Stderr);
    }

    [Fact]
    public async Task IdenticalRebuildIsADirectHitThatNeverRunsThePreprocessor()
    {
        var state = _dir.Combine("state");
        var reference = await LocalGccAsync();
        var first = await KilnCcAsync("localhost", state, "out.o");
        Assert.Equal(1, PreprocessorRuns);
        Assert.Equal(1, Counter(state, "miss"));
        var dependencies = await File.ReadAllTextAsync(_dir.Combine("out.d"));
        Assert.Equal(reference.Dependencies.Replace("ref.o", "out.o", StringComparison.Ordinal), dependencies);

        File.Delete(_dir.Combine("out.o"));
        File.Delete(_dir.Combine("out.d"));
        var second = await KilnCcAsync("localhost", state, "out.o");

        Assert.Equal(1, PreprocessorRuns);
        Assert.Equal(1, Counter(state, "direct-hit"));
        Assert.Equal(reference.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));
        Assert.Equal(dependencies, await File.ReadAllTextAsync(_dir.Combine("out.d")));
        Assert.Contains("unused variable 'unused'", second.Stderr);
        Assert.Equal(first.Stderr, second.Stderr);
        Assert.Equal(reference.Stderr, second.Stderr);
    }

    [Fact]
    public async Task AChangedHeaderIsAMissAndChangingItBackIsAHitAgain()
    {
        var state = _dir.Combine("state");
        var original = await File.ReadAllTextAsync(_dir.Combine("include/h.h"));
        var before = await LocalGccAsync();
        await KilnCcAsync("localhost", state, "out.o");

        _dir.Write("include/h.h", original.Replace("7", "9", StringComparison.Ordinal));
        Age("include/h.h");
        var changed = await LocalGccAsync();
        Assert.NotEqual(before.Object, changed.Object);
        await KilnCcAsync("localhost", state, "out.o");
        Assert.Equal(2, PreprocessorRuns);
        Assert.Equal(2, Counter(state, "miss"));
        Assert.Equal(changed.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));

        // The manifest keeps both versions: the old header's result comes back without the preprocessor.
        _dir.Write("include/h.h", original);
        Age("include/h.h");
        await KilnCcAsync("localhost", state, "out.o");
        Assert.Equal(2, PreprocessorRuns);
        Assert.Equal(1, Counter(state, "direct-hit"));
        Assert.Equal(before.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));
    }

    [Fact]
    public async Task ANodesAnswerFillsTheLocalCacheAndTheNextCompileStaysHere()
    {
        await using var node = await TestNode.StartAsync();
        var hosts = node.Node.KilnEndPoint.ToString();
        var reference = await LocalGccAsync();

        // A first client warms the node; a second one (its own KILN_DIR) gets the node's cached result.
        await KilnCcAsync(hosts, _dir.Combine("state-1"), "one.o");
        await KilnCcAsync(hosts, _dir.Combine("state-2"), "two.o");
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(1, node.Node.Services.GetRequiredService<CacheCounters>().Kiln.Hits);
        var jobs = node.Node.Counters.KilnJobs;

        // That answer is now in the second client's local cache: no job reaches the node.
        File.Delete(_dir.Combine("two.o"));
        await KilnCcAsync(hosts, _dir.Combine("state-2"), "two.o");
        Assert.Equal(jobs, node.Node.Counters.KilnJobs);
        Assert.Equal(1, Counter(_dir.Combine("state-2"), "direct-hit"));
        Assert.Equal(reference.Object, await File.ReadAllBytesAsync(_dir.Combine("two.o")));
    }

    [Fact]
    public async Task ASecondClientWithNoLocalCacheSkipsThePreprocessorThroughTheNodesManifest()
    {
        await using var node = await TestNode.StartAsync();
        // Pinned, so no client prints a first-use notice and their stderr can be compared.
        var hosts = node.KilnHost();
        var original = await File.ReadAllTextAsync(_dir.Combine("include/h.h"));
        var reference = await LocalGccAsync();
        var first = await KilnCcAsync(hosts, _dir.Combine("state-1"), "out.o");
        Assert.Equal(1, PreprocessorRuns);
        var dependencies = await File.ReadAllTextAsync(_dir.Combine("out.d"));

        // Another machine of the same user, with no local cache: the node's manifest answers it.
        File.Delete(_dir.Combine("out.o"));
        File.Delete(_dir.Combine("out.d"));
        var second = await KilnCcAsync(hosts, _dir.Combine("state-2"), "out.o", new() { ["KILN_CACHE_SIZE"] = "0" });
        Assert.Equal(1, PreprocessorRuns);
        Assert.Equal(reference.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));
        Assert.Equal(dependencies, await File.ReadAllTextAsync(_dir.Combine("out.d")));
        Assert.Contains("unused variable 'unused'", second.Stderr);
        Assert.Equal(first.Stderr, second.Stderr);
        Assert.Equal(1, node.Node.Counters.CompilesOk);

        // Another user's manifests are not this one's: it preprocesses (and still gets the node's result).
        await KilnCcAsync(hosts, _dir.Combine("state-3"), "out.o", new() { ["KILN_USER"] = "mallory" });
        Assert.Equal(2, PreprocessorRuns);
        Assert.Equal(1, node.Node.Counters.CompilesOk);

        // Turned off, it preprocesses too.
        await KilnCcAsync(hosts, _dir.Combine("state-4"), "out.o", new() { ["KILN_REMOTE_DIRECT"] = "0" });
        Assert.Equal(3, PreprocessorRuns);

        // A changed header: no entry matches any more, so the compile preprocesses and gets the new object.
        _dir.Write("include/h.h", original.Replace("7", "9", StringComparison.Ordinal));
        Age("include/h.h");
        var changed = await LocalGccAsync();
        await KilnCcAsync(hosts, _dir.Combine("state-5"), "out.o", new() { ["KILN_CACHE_SIZE"] = "0", ["KILN_REMOTE_PREPROCESS"] = "0" });
        Assert.Equal(4, PreprocessorRuns);
        Assert.Equal(changed.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));
        Assert.Equal(2, node.Node.Counters.CompilesOk);

        // Changed back: the manifest keeps both entries, and the old one answers without the preprocessor.
        _dir.Write("include/h.h", original);
        Age("include/h.h");
        await KilnCcAsync(hosts, _dir.Combine("state-6"), "out.o", new() { ["KILN_CACHE_SIZE"] = "0" });
        Assert.Equal(4, PreprocessorRuns);
        Assert.Equal(reference.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));
    }

    [Fact]
    public async Task OverPlaintextTheSynchronousWayCompilesAndAnswersFromTheNodesManifest()
    {
        // A ,plain host: kiln cc talks to it with blocking calls on raw sockets (no socket-engine threads).
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var hosts = node.Node.KilnEndPoint + ",plain";
        var reference = await LocalGccAsync();
        var noCache = new Dictionary<string, string?> { ["KILN_CACHE_SIZE"] = "0" };
        var first = await KilnCcAsync(hosts, _dir.Combine("state-1"), "out.o", noCache);
        Assert.Equal(1, PreprocessorRuns);
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(reference.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));

        // Another client: the node's manifest answers it without the preprocessor, the same object.
        File.Delete(_dir.Combine("out.o"));
        var second = await KilnCcAsync(hosts, _dir.Combine("state-2"), "out.o", noCache);
        Assert.Equal(1, PreprocessorRuns);
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(reference.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));
        Assert.Equal(first.Stderr, second.Stderr);
        Assert.Contains("unused variable 'unused'", second.Stderr);
    }

    [Fact]
    public async Task ANodeWithoutAResultCacheIsAskedForNoManifestOnceItsWelcomeSaysSo()
    {
        await using var node = await TestNode.StartAsync(configure: o => o.ResultCache = false);
        var hosts = node.KilnHost();
        var state = _dir.Combine("state");
        var reference = await LocalGccAsync();
        var noCache = new Dictionary<string, string?> { ["KILN_CACHE_SIZE"] = "0" };

        // The first compile knows nothing of the node, so it shakes hands to learn its compilers, and
        // WELCOME says the node keeps no manifests: no compile asks for one (each would be refused,
        // a round trip before the preprocessor), and each compiles on the node.
        for (var i = 0; i < 3; i++)
        {
            File.Delete(_dir.Combine("out.o"));
            await KilnCcAsync(hosts, state, "out.o", noCache);
            Assert.Equal(reference.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));
        }

        Assert.Equal(3, node.Node.Counters.CompilesOk);
        var audit = Kiln.Tests.Security.SecuredNode.AuditLines(node.DataDirectory);
        var refusals = audit.Count(e => e.GetProperty("action").GetString() == "cache" && e.ToString().Contains("NotCached", StringComparison.Ordinal));
        Assert.True(refusals == 0, string.Join("\n", audit));
        Assert.Equal(3, audit.Count(e => e.GetProperty("action").GetString() == "job"));
        var facts = Directory.GetFiles(Path.Combine(state, "nodes"), "kiln_*").Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)).ToArray();
        Assert.Contains("cache=0", File.ReadAllLines(Assert.Single(facts)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AChangedHeaderIsPreprocessedOnTheNodeFromTheFilesTheManifestNames(bool plaintext)
    {
        // Over plaintext kiln cc goes the synchronous way (raw sockets); over TLS the asynchronous one.
        await using var node = await TestNode.StartAsync(plaintextLoopback: plaintext);
        var hosts = plaintext ? node.Node.KilnEndPoint + ",plain" : node.KilnHost();
        var noCache = new Dictionary<string, string?> { ["KILN_CACHE_SIZE"] = "0" };
        var original = await File.ReadAllTextAsync(_dir.Combine("include/h.h"));
        await KilnCcAsync(hosts, _dir.Combine("state-1"), "out.o", noCache);
        Assert.Equal(1, PreprocessorRuns);

        // Edited: the node preprocesses the new header itself, at this checkout's own paths, and the
        // outputs are a local compile's.
        _dir.Write("include/h.h", original.Replace("7", "9", StringComparison.Ordinal));
        var changed = await LocalGccAsync();
        var run = await KilnCcAsync(hosts, _dir.Combine("state-2"), "out.o", noCache);
        Assert.Equal(1, PreprocessorRuns);
        Assert.Equal(2, node.Node.Counters.CompilesOk);
        Assert.Equal(1, node.Node.Counters.PreprocessedHere);
        Assert.Equal(changed.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));
        Assert.Equal(changed.Dependencies.Replace("ref.o", "out.o", StringComparison.Ordinal), await File.ReadAllTextAsync(_dir.Combine("out.d")));
        Assert.Equal(changed.Stderr, run.Stderr);

        // The node recorded what it compiled: the same compile again is a hit, compiled nowhere.
        File.Delete(_dir.Combine("out.o"));
        await KilnCcAsync(hosts, _dir.Combine("state-3"), "out.o", noCache);
        Assert.Equal(1, PreprocessorRuns);
        Assert.Equal(2, node.Node.Counters.CompilesOk);
        Assert.Equal(changed.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));

        // With the local cache on, the node's answer fills it: the next compile is a local direct hit.
        _dir.Write("include/h.h", original.Replace("7", "5", StringComparison.Ordinal));
        var fifth = await LocalGccAsync();
        await KilnCcAsync(hosts, _dir.Combine("state-4"), "out.o");
        Assert.Equal(1, PreprocessorRuns);
        File.Delete(_dir.Combine("out.o"));
        await KilnCcAsync(hosts, _dir.Combine("state-4"), "out.o");
        Assert.Equal(1, Counter(_dir.Combine("state-4"), "direct-hit"));
        Assert.Equal(fifth.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));
        Assert.Equal(3, node.Node.Counters.CompilesOk);

        // Turned off, the client preprocesses.
        _dir.Write("include/h.h", original.Replace("7", "3", StringComparison.Ordinal));
        await KilnCcAsync(hosts, _dir.Combine("state-5"), "out.o", new() { ["KILN_CACHE_SIZE"] = "0", ["KILN_REMOTE_PREPROCESS"] = "0" });
        Assert.Equal(2, PreprocessorRuns);
    }

    [Fact]
    public async Task AHeaderWrittenDuringTheCompileGetsNoDigestAndTheNextCompileIsFoundByActionKey()
    {
        await using var node = await TestNode.StartAsync();
        var noCache = new Dictionary<string, string?> { ["KILN_CACHE_SIZE"] = "0" };

        // A compiler that rewrites the header (same bytes, new time) while it preprocesses: the file
        // changed after the compile started, so no manifest may vouch for its digest.
        File.Copy(_dir.Combine("bin/gcc"), _dir.Combine("bin/gcc-logging"));
        var touching = _dir.Write("bin/gcc", $"#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = \"-E\" ] && touch {_dir.Combine("include/h.h")}; done\nexec {_dir.Combine("bin/gcc-logging")} \"$@\"\n");
        File.SetUnixFileMode(touching, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await KilnCcAsync(node.KilnHost(), _dir.Combine("state-1"), "out.o", noCache);
        Assert.Equal(1, PreprocessorRuns);

        // The entry names the header without a digest: not a hit, not a reason for the node to
        // preprocess either; the ordinary way finds the node's result by ActionKey, compiled once.
        await KilnCcAsync(node.KilnHost(), _dir.Combine("state-2"), "out.o", noCache);
        Assert.Equal(2, PreprocessorRuns);
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(0, node.Node.Counters.PreprocessedHere);
    }

    [Theory]
    [InlineData("a project header the manifest does not name", "#include \"extra.h\"\n", "int extra;\n")]
    [InlineData("a system header the manifest does not name", "#include <stdlib.h>\n", null)]
    public async Task ANewIncludeIsPreprocessedHereAndTheObjectIsStillRight(string what, string include, string? extra)
    {
        await using var node = await TestNode.StartAsync();
        var hosts = node.KilnHost();
        var noCache = new Dictionary<string, string?> { ["KILN_CACHE_SIZE"] = "0" };
        await KilnCcAsync(hosts, _dir.Combine("state-1"), "out.o", noCache);
        Assert.Equal(1, PreprocessorRuns);

        // The node lacks the new project header (it was never sent), or reads a system header the
        // client's list did not name: either way the client preprocesses, and the object is right.
        if (extra is not null)
        {
            _dir.Write("include/extra.h", extra);
        }

        _dir.Write("include/h.h", include + await File.ReadAllTextAsync(_dir.Combine("include/h.h")));
        var changed = await LocalGccAsync();
        await KilnCcAsync(hosts, _dir.Combine("state-2"), "out.o", noCache);
        Assert.True(PreprocessorRuns == 2, what);
        Assert.Equal(changed.Object, await File.ReadAllBytesAsync(_dir.Combine("out.o")));
        Assert.Equal(changed.Dependencies.Replace("ref.o", "out.o", StringComparison.Ordinal), await File.ReadAllTextAsync(_dir.Combine("out.d")));
    }

    [Fact]
    public async Task WithoutADependencyFileTheNodesManifestAnswersToo()
    {
        await using var node = await TestNode.StartAsync();
        var noCache = new Dictionary<string, string?> { ["KILN_CACHE_SIZE"] = "0" };
        await KilnCcAsync(node.KilnHost(), _dir.Combine("state-1"), "one.o", noCache, dependencyFile: false);
        await KilnCcAsync(node.KilnHost(), _dir.Combine("state-2"), "one.o", noCache, dependencyFile: false);
        Assert.Equal(1, PreprocessorRuns);
        Assert.False(File.Exists(_dir.Combine("one.d")));
        Assert.Equal(1, node.Node.Counters.CompilesOk);
    }

    [Fact]
    public void TheSizeCapEvictsTheLeastRecentlyUsedAndADamagedResultIsAMiss()
    {
        var cache = new LocalCompileCache(_dir.Combine("cap"), capacityBytes: 3 * 1100, seed: 1);
        var keys = new List<ActionKey>();
        var random = new Random(7);
        for (var i = 0; i < 5; i++)
        {
            var bytes = new byte[1000];
            random.NextBytes(bytes);
            var key = ActionKey.FromEncoding(bytes);
            keys.Add(key);
            cache.PutResult(key, new CachedCompile(bytes, ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty));
            File.SetLastWriteTimeUtc(ResultPath(key), DateTime.UtcNow.AddMinutes(-10 + i));
        }

        // Using the oldest makes it the newest.
        Assert.NotNull(cache.TryGetResult(keys[0]));
        cache.Clean();
        Assert.True(cache.Statistics().SizeBytes <= 3 * 1100);
        Assert.NotNull(cache.TryGetResult(keys[0]));
        Assert.NotNull(cache.TryGetResult(keys[4]));
        Assert.Null(cache.TryGetResult(keys[1]));

        var path = ResultPath(keys[4]);
        var damaged = File.ReadAllBytes(path);
        damaged[100] ^= 0xff;
        File.WriteAllBytes(path, damaged);
        Assert.Null(cache.TryGetResult(keys[4]));

        string ResultPath(ActionKey key) => Path.Combine(_dir.Combine("cap"), "r", key.Hex[..2], key.Hex[2..]);
    }
}
