using System.Net;
using System.Net.Sockets;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cc;

/// <summary>
/// The kiln program itself (<see cref="Tools.KilnBinary"/>), as make runs it: many concurrent
/// processes sharing one KILN_DIR.
/// </summary>
public sealed class CcProcessTests : IDisposable
{
    private readonly TempDirectory _project = new("kiln-cc-proc");
    private readonly TempDirectory _state = new("kiln-cc-proc-state");

    public CcProcessTests() => CcHarness.WriteProject(_project.Path);

    public void Dispose()
    {
        _project.Dispose();
        _state.Dispose();
    }

    /// <summary>A port on 127.0.0.1 that nothing listens on: bound once, then closed.</summary>
    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private Dictionary<string, string?> Environment(string hosts, string? fallback = null) => new()
    {
        ["KILN_HOSTS"] = hosts,
        ["DISTCC_HOSTS"] = null,
        ["KILN_DIR"] = _state.Path,
        ["KILN_FALLBACK"] = fallback,
        ["KILN_VERBOSE"] = null,
        ["KILN_BACKOFF_PERIOD"] = null,
    };

    private async Task<List<Tools.Run>> RunConcurrentlyAsync(int count, Dictionary<string, string?> environment)
    {
        var runs = new List<Task<Tools.Run>>();
        for (var i = 0; i < count; i++)
        {
            runs.Add(Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-Iinclude", "-c", "src/a.c", "-o", $"obj/a{i}.o"], _project.Path, environment,
                TimeSpan.FromMinutes(2)));
        }

        var results = new List<Tools.Run>();
        foreach (var run in runs)
        {
            results.Add(await run);
        }

        return results;
    }

    [Fact]
    public async Task UnreachableNodeGivesLocalCompilesAndOneBackoffLineAcrossTheBuild()
    {
        var port = ClosedPort();
        var runs = await RunConcurrentlyAsync(6, Environment($"127.0.0.1:{port}"));

        var stderr = "";
        foreach (var run in runs)
        {
            Assert.Equal(0, run.ExitCode);
            stderr += run.Stderr;
        }

        var plain = await Tools.RunAsync("gcc", ["-Iinclude", "-c", "src/a.c", "-o", "obj/plain.o"], _project.Path);
        Assert.Equal(0, plain.ExitCode);
        var expected = File.ReadAllBytes(Path.Combine(_project.Path, "obj", "plain.o"));
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(expected, File.ReadAllBytes(Path.Combine(_project.Path, "obj", $"a{i}.o")));
        }

        Assert.Equal(1, CcHarness.CountLines(stderr, $"kiln: node 127.0.0.1:{port} failed ("));
        Assert.Equal(1, CcHarness.CountLines(stderr, "not using it for 60 s"));
        Assert.Equal(1, CcHarness.CountLines(stderr, "kiln:"));
    }

    [Fact]
    public async Task NoFallbackFailsWithAClearLine()
    {
        var port = ClosedPort();
        var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-Iinclude", "-c", "src/a.c", "-o", "obj/a.o"], _project.Path,
            Environment($"127.0.0.1:{port}", fallback: "0"));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("kiln: src/a.c not compiled: no node could compile it", run.Stderr);
        Assert.Contains("KILN_FALLBACK=0 forbids compiling it here", run.Stderr);
        Assert.False(File.Exists(Path.Combine(_project.Path, "obj", "a.o")));
    }

    [Fact]
    public async Task HostListErrorIsReportedOnceAcrossConcurrentProcesses()
    {
        var runs = await RunConcurrentlyAsync(5, Environment("localhost oops:99999"));

        var stderr = "";
        foreach (var run in runs)
        {
            Assert.Equal(0, run.ExitCode);
            stderr += run.Stderr;
        }

        Assert.Equal(1, CcHarness.CountLines(stderr, "kiln: KILN_HOSTS: 'oops:99999': '99999' is not a port number (1-65535); ignoring that word"));
        Assert.Equal(1, CcHarness.CountLines(stderr, "kiln:"));
    }

    [Fact]
    public async Task MasqueradeLinksRunTheRealCompilerWithoutRecursing()
    {
        var links = Path.Combine(_project.Path, "masq");
        var first = await Tools.RunAsync(Tools.KilnBinary, ["masquerade", links]);
        Assert.Equal(0, first.ExitCode);
        Assert.Contains("gcc -> ", first.Stdout);
        Assert.Contains("(created)", first.Stdout);
        foreach (var name in new[] { "gcc", "cc", "g++", "c++", "clang", "clang++" })
        {
            Assert.NotNull(new FileInfo(Path.Combine(links, name)).LinkTarget);
        }

        var again = await Tools.RunAsync(Tools.KilnBinary, ["masquerade", links]);
        Assert.Equal(0, again.ExitCode);
        Assert.Equal(6, CcHarness.CountLines(again.Stdout, "(already there)"));

        var environment = Environment("localhost");
        environment["PATH"] = links + ":" + System.Environment.GetEnvironmentVariable("PATH");
        environment["KILN_VERBOSE"] = "1";
        var viaLink = await Tools.RunAsync(Path.Combine(links, "gcc"), ["-Iinclude", "-c", "src/a.c", "-o", "obj/masq.o"], _project.Path, environment,
            TimeSpan.FromMinutes(1));
        Assert.Equal(0, viaLink.ExitCode);
        Assert.Contains("compiled on localhost", viaLink.Stderr);
        var cxx = await Tools.RunAsync(Path.Combine(links, "g++"), ["-Iinclude", "-c", "src/b.cpp", "-o", "obj/b.o"], _project.Path, environment,
            TimeSpan.FromMinutes(1));
        Assert.Equal(0, cxx.ExitCode);

        var plain = await Tools.RunAsync("gcc", ["-Iinclude", "-c", "src/a.c", "-o", "obj/plain.o"], _project.Path);
        Assert.Equal(0, plain.ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_project.Path, "obj", "plain.o")), File.ReadAllBytes(Path.Combine(_project.Path, "obj", "masq.o")));
    }

    [Fact]
    public async Task NonDistributableCommandPassesExitCodeAndOutputThrough()
    {
        var kiln = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-Iinclude", "src/a.c", "-o", "app"], _project.Path, Environment("127.0.0.1:1", "0"));
        Assert.Equal(0, kiln.ExitCode);
        var app = await Tools.RunAsync(Path.Combine(_project.Path, "app"), []);
        Assert.Equal("84\n", app.Stdout);

        var missing = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "nonexistent.c", "-o", "app2"], _project.Path, Environment("127.0.0.1:1"));
        var plain = await Tools.RunAsync("gcc", ["nonexistent.c", "-o", "app2"], _project.Path);
        Assert.Equal(plain.ExitCode, missing.ExitCode);
        Assert.Equal(plain.Stderr, missing.Stderr);
    }
}
