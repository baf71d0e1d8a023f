using Kiln.Cli.Cc;
using Kiln.Core.Hosts;
using Kiln.Core.Remote;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cc;

/// <summary>
/// The wrapper's flow in-process, with <see cref="LoopbackCompileClient"/> standing in for the network:
/// every result is compared with what plain gcc leaves in an identical copy of the project.
/// </summary>
public sealed class CompileDriverTests : IDisposable
{
    private const string Node = "127.0.0.1:7001";
    private readonly TempDirectory _plain = new("kiln-cc-plain");
    private readonly TempDirectory _kiln = new("kiln-cc-kiln");
    private readonly TempDirectory _state = new("kiln-cc-state");
    private readonly LoopbackCompileClient _client = new();

    public CompileDriverTests()
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

    private CcSettings Settings(string hosts = Node, bool fallback = true, int seed = 42, TimeSpan? backoff = null, TimeSpan? slotWait = null) =>
        CcHarness.Settings(_kiln.Path, _state.Path, hosts, fallback, seed, backoff, slotWait, verbose: true);

    private static string[] Words(string args) => args.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static string WithoutKilnLines(string stderr)
    {
        var kept = new List<string>();
        foreach (var line in stderr.Split('\n'))
        {
            if (!line.StartsWith("kiln: ", StringComparison.Ordinal))
            {
                kept.Add(line);
            }
        }

        return string.Join('\n', kept);
    }

    [Theory]
    [InlineData("gcc", "-c src/a.c -Iinclude")]
    [InlineData("gcc", "-c src/a.c -Iinclude -o obj/a.o")]
    [InlineData("gcc", "-MD -c src/a.c -Iinclude")]
    [InlineData("gcc", "-MD -c src/a.c -Iinclude -o obj/a.o")]
    [InlineData("gcc", "-MMD -c src/a.c -Iinclude")]
    [InlineData("gcc", "-MMD -c src/a.c -Iinclude -o obj/a.o")]
    [InlineData("gcc", "-MD -MF deps/x.d -c src/a.c -Iinclude")]
    [InlineData("gcc", "-MD -MF deps/x.d -c src/a.c -Iinclude -o obj/a.o")]
    [InlineData("gcc", "-MMD -MT t -c src/a.c -Iinclude")]
    [InlineData("gcc", "-MMD -MT t -c src/a.c -Iinclude -o obj/a.o")]
    [InlineData("gcc", "-MD -MQ q -c src/a.c -Iinclude")]
    [InlineData("gcc", "-MD -MQ q -c src/a.c -Iinclude -o obj/a.o")]
    [InlineData("gcc", "-MD -MQq$ -MTt2 -c src/a.c -Iinclude -oobj/a.o")]
    [InlineData("gcc", "-Wp,-MD,deps/f.d -c src/a.c -Iinclude")]
    [InlineData("gcc", "-Wp,-MD,deps/f.d -c src/a.c -Iinclude -o obj/a.o")]
    [InlineData("gcc", "-Wp,-MMD,deps/f.d -c src/a.c -Iinclude -o obj/a.o")]
    [InlineData("gcc", "-MMD -MP -O2 -Wall -DEXTRA=1 -c src/a.c -Iinclude -o obj/a")]
    [InlineData("g++", "-c src/b.cpp -Iinclude")]
    [InlineData("g++", "-c src/b.cpp -Iinclude -o obj/b.o")]
    [InlineData("g++", "-MD -c src/b.cpp -Iinclude")]
    [InlineData("g++", "-MD -c src/b.cpp -Iinclude -o obj/b.o")]
    [InlineData("g++", "-MMD -c src/b.cpp -Iinclude -o obj/b.o")]
    [InlineData("g++", "-MD -MF deps/x.d -c src/b.cpp -Iinclude -o obj/b.o")]
    [InlineData("g++", "-MMD -MT t -c src/b.cpp -Iinclude -o obj/b.o")]
    [InlineData("g++", "-MD -MQ q -c src/b.cpp -Iinclude")]
    [InlineData("g++", "-Wp,-MD,deps/f.d -c src/b.cpp -Iinclude -o obj/b.o")]
    [InlineData("g++", "-O2 -std=c++17 -x c++ -c src/b.cpp -Iinclude -o obj/b.o")]
    public async Task RemoteCompileLeavesTheSameFilesAsPlainGcc(string compiler, string args)
    {
        var plain = await CcHarness.PlainAsync(_plain.Path, compiler, Words(args));
        var kiln = await CcHarness.KilnAsync(Settings(fallback: false), _client, compiler, Words(args));

        Assert.Equal(0, plain.ExitCode);
        Assert.Equal(plain.ExitCode, kiln.ExitCode);
        Assert.Equal(plain.Stdout, kiln.Stdout);
        Assert.Equal(plain.Stderr, WithoutKilnLines(kiln.Stderr));
        Assert.Contains($"compiled on {Node}", kiln.Stderr);
        Assert.Equal(1, _client.TotalCalls);
        CcHarness.AssertSameFiles(_plain.Path, _kiln.Path);
    }

    [Theory]
    [InlineData("gcc", "-g -O1 -c src/nomacro.c -Iinclude -o obj/nomacro.o")]
    [InlineData("g++", "-g -MD -c src/nomacro.cpp -Iinclude -o obj/nomacro.o")]
    public async Task DebugInfoNamesTheClientsDirectory(string compiler, string args)
    {
        // The debug info records the compile's directory (gcc -E writes it into the preprocessed source),
        // so both compiles run in the same directory. The sources expand no macro inside a line: -E
        // output does not keep the columns of tokens after an expanded macro, so the line table's
        // column numbers would differ there (as with distcc).
        var text = "#include <stdio.h>\nstatic int twice(int x) { return 2 * x; }\nint main(void) { return twice(21) - 42; }\n";
        File.WriteAllText(Path.Combine(_kiln.Path, "src", "nomacro.c"), text);
        File.WriteAllText(Path.Combine(_kiln.Path, "src", "nomacro.cpp"), text);
        var output = Path.Combine(_kiln.Path, Words(args)[^1]);
        var plain = await CcHarness.PlainAsync(_kiln.Path, compiler, Words(args));
        Assert.Equal(0, plain.ExitCode);
        var expected = File.ReadAllBytes(output);
        File.Delete(output);

        var kiln = await CcHarness.KilnAsync(Settings(fallback: false), _client, compiler, Words(args));
        Assert.Equal(0, kiln.ExitCode);
        Assert.Equal(1, _client.TotalCalls);
        Assert.Equal(expected, File.ReadAllBytes(output));
    }

    [Fact]
    public async Task CompileErrorGivesGccsExactWordsAndBacksNothingOff()
    {
        var args = Words("-Wall -c src/bad.c -o obj/bad.o");
        var plain = await CcHarness.PlainAsync(_plain.Path, "gcc", args);
        var kiln = await CcHarness.KilnAsync(Settings(), _client, "gcc", args);

        Assert.NotEqual(0, plain.ExitCode);
        Assert.Equal(plain.ExitCode, kiln.ExitCode);
        Assert.Equal(plain.Stderr, WithoutKilnLines(kiln.Stderr));
        Assert.Equal(1, _client.TotalCalls);
        Assert.False(Directory.Exists(Path.Combine(_state.Path, "backoff")) && Directory.GetFiles(Path.Combine(_state.Path, "backoff"), "tcp_*").Length > 0);
        Assert.DoesNotContain("failed (", kiln.Stderr);
        CcHarness.AssertSameFiles(_plain.Path, _kiln.Path);

        // The node stays in use: the next compile goes to it again.
        var next = await CcHarness.KilnAsync(Settings(fallback: false), _client, "gcc", Words("-c src/a.c -Iinclude"));
        Assert.Equal(0, next.ExitCode);
        Assert.Equal(2, _client.TotalCalls);
    }

    [Fact]
    public async Task CompileErrorWithoutFallbackForwardsTheNodesDiagnostics()
    {
        var args = Words("-Wall -c src/bad.c -o obj/bad.o");
        var plain = await CcHarness.PlainAsync(_plain.Path, "gcc", args);
        var kiln = await CcHarness.KilnAsync(Settings(fallback: false), _client, "gcc", args);

        Assert.Equal(plain.ExitCode, kiln.ExitCode);
        Assert.Equal(1, _client.TotalCalls);
        // The node has no copy of src/bad.c, so it prints no source excerpts; every diagnostic line is the same.
        static List<string> Diagnostics(string stderr)
        {
            var lines = new List<string>();
            foreach (var line in stderr.Split('\n'))
            {
                if (line.StartsWith("src/bad.c", StringComparison.Ordinal))
                {
                    lines.Add(line);
                }
            }

            return lines;
        }

        Assert.NotEmpty(Diagnostics(plain.Stderr));
        Assert.Equal(Diagnostics(plain.Stderr), Diagnostics(kiln.Stderr));
    }

    [Fact]
    public async Task WarningsAppearOnceAndTheObjectMatches()
    {
        var args = Words("-Wall -c src/warn.c -o obj/warn.o");
        var plain = await CcHarness.PlainAsync(_plain.Path, "gcc", args);
        var kiln = await CcHarness.KilnAsync(Settings(fallback: false), _client, "gcc", args);

        Assert.Equal(0, kiln.ExitCode);
        Assert.Equal(1, _client.TotalCalls);
        Assert.Equal(1, CcHarness.CountLines(plain.Stderr, "warning: #warning from the preprocessor"));
        Assert.Equal(1, CcHarness.CountLines(kiln.Stderr, "warning: #warning from the preprocessor"));
        Assert.Equal(1, CcHarness.CountLines(plain.Stderr, "-Wunused-variable"));
        Assert.Equal(1, CcHarness.CountLines(kiln.Stderr, "-Wunused-variable"));
        CcHarness.AssertSameFiles(_plain.Path, _kiln.Path);
    }

    [Theory]
    [InlineData("gcc", "src/a.c -Iinclude -o app")]
    [InlineData("gcc", "-E src/a.c -Iinclude")]
    [InlineData("gcc", "-c src/a.c src/warn.c -Iinclude")]
    [InlineData("gcc", "-M src/a.c -Iinclude")]
    [InlineData("gcc", "-MM -MF deps/mm.d src/a.c -Iinclude")]
    [InlineData("gcc", "-S src/a.c -Iinclude -o obj/a.s")]
    [InlineData("g++", "-c src/b.cpp -Iinclude -march=native -o obj/b.o")]
    [InlineData("gcc", "--version")]
    public async Task LocalOnlyCompilesRunHereExactlyAsPlainGcc(string compiler, string args)
    {
        var plain = await CcHarness.PlainAsync(_plain.Path, compiler, Words(args));
        var kiln = await CcHarness.KilnAsync(Settings(fallback: false), _client, compiler, Words(args));

        Assert.Equal(plain.ExitCode, kiln.ExitCode);
        Assert.Equal(plain.Stdout, kiln.Stdout);
        Assert.Equal(plain.Stderr, WithoutKilnLines(kiln.Stderr));
        Assert.Contains("ran locally", kiln.Stderr);
        Assert.Equal(0, _client.TotalCalls);

        CcHarness.AssertSameFiles(_plain.Path, _kiln.Path);
    }

    [Fact]
    public async Task PreprocessingErrorStopsHereWithGccsWords()
    {
        File.WriteAllText(Path.Combine(_plain.Path, "src", "nohdr.c"), "#include \"absent.h\"\nint x;\n");
        File.WriteAllText(Path.Combine(_kiln.Path, "src", "nohdr.c"), "#include \"absent.h\"\nint x;\n");
        var args = Words("-MD -c src/nohdr.c -o obj/nohdr.o");
        var plain = await CcHarness.PlainAsync(_plain.Path, "gcc", args);
        var kiln = await CcHarness.KilnAsync(Settings(fallback: false), _client, "gcc", args);

        Assert.NotEqual(0, plain.ExitCode);
        Assert.Equal(plain.ExitCode, kiln.ExitCode);
        Assert.Equal(plain.Stderr, WithoutKilnLines(kiln.Stderr));
        Assert.Equal(0, _client.TotalCalls);
    }

    [Fact]
    public async Task UnwritableOutputGivesGccsOwnError()
    {
        var args = Words("-c src/a.c -Iinclude -o missing/dir/a.o");
        var plain = await CcHarness.PlainAsync(_plain.Path, "gcc", args);
        var kiln = await CcHarness.KilnAsync(Settings(), _client, "gcc", args);

        Assert.NotEqual(0, plain.ExitCode);
        Assert.Equal(plain.ExitCode, kiln.ExitCode);
        Assert.Equal(plain.Stderr.Replace(_plain.Path, ""), WithoutKilnLines(kiln.Stderr).Replace(_kiln.Path, ""));
        CcHarness.AssertSameFiles(_plain.Path, _kiln.Path);
    }

    [Fact]
    public async Task FailedNodeIsBackedOffWithOneLineAndTheNextHostCompiles()
    {
        _client.Answers["127.0.0.1:7001"] = RemoteCompileReply.Fail("connection refused");
        var stderr = "";
        for (var seed = 0; seed < 6; seed++)
        {
            var kiln = await CcHarness.KilnAsync(Settings("127.0.0.1:7001 127.0.0.1:7002", fallback: false, seed: seed), _client, "gcc",
                Words($"-c src/a.c -Iinclude -o obj/a{seed}.o"));
            Assert.Equal(0, kiln.ExitCode);
            stderr += kiln.Stderr;
        }

        Assert.Equal(1, _client.Calls["127.0.0.1:7001"]);
        Assert.Equal(6, _client.Calls["127.0.0.1:7002"]);
        Assert.Equal(1, CcHarness.CountLines(stderr, "kiln: node 127.0.0.1:7001 failed (connection refused); compiling elsewhere; not using it for 60 s"));
        Assert.Equal(1, CcHarness.CountLines(stderr, "failed ("));
    }

    [Fact]
    public async Task WhenEveryNodeFailsTheCompileRunsHere()
    {
        _client.Answers[Node] = RemoteCompileReply.Fail("connection refused");
        var args = Words("-MD -c src/a.c -Iinclude -o obj/a.o");
        var plain = await CcHarness.PlainAsync(_plain.Path, "gcc", args);
        var first = await CcHarness.KilnAsync(Settings(), _client, "gcc", args);
        var second = await CcHarness.KilnAsync(Settings(), _client, "gcc", args);

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, second.ExitCode);
        Assert.Equal(1, _client.TotalCalls);
        Assert.Equal(1, CcHarness.CountLines(first.Stderr + second.Stderr, $"kiln: node {Node} failed (connection refused)"));
        Assert.Contains("backed off", second.Stderr);
        CcHarness.AssertSameFiles(_plain.Path, _kiln.Path);
    }

    [Fact]
    public async Task WithoutFallbackAFailedNodeFailsTheCompileWithAClearLine()
    {
        _client.Answers[Node] = RemoteCompileReply.Fail("connection refused");
        var kiln = await CcHarness.KilnAsync(Settings(fallback: false), _client, "gcc", Words("-c src/a.c -Iinclude -o obj/a.o"));

        Assert.Equal(1, kiln.ExitCode);
        Assert.Contains("kiln: src/a.c not compiled: no node could compile it", kiln.Stderr);
        Assert.Contains("KILN_FALLBACK=0", kiln.Stderr);
        Assert.False(File.Exists(Path.Combine(_kiln.Path, "obj", "a.o")));
    }

    [Fact]
    public async Task BusyNodeIsSkippedWithoutBackoff()
    {
        _client.Answers["127.0.0.1:7001"] = new RemoteCompileReply(RemoteStatus.Busy, null, "all slots taken");
        for (var seed = 0; seed < 6; seed++)
        {
            var kiln = await CcHarness.KilnAsync(Settings("127.0.0.1:7001 127.0.0.1:7002", fallback: false, seed: seed), _client, "gcc",
                Words("-c src/a.c -Iinclude"));
            Assert.Equal(0, kiln.ExitCode);
            Assert.DoesNotContain("failed", kiln.Stderr);
        }

        // Never backed off: some of the six random orders try it first, and each of those asks it again.
        Assert.True(_client.Calls.GetValueOrDefault("127.0.0.1:7001") >= 2, "the busy node was asked again later");
        Assert.Equal(6, _client.Calls["127.0.0.1:7002"]);
        Assert.False(File.Exists(new HostBackoff(_state.Path, CcSettings.DefaultBackoffPeriod).MarkerPath(Host("127.0.0.1:7001"))));
    }

    [Fact]
    public async Task RefusingNodeMeansALocalCompileAndNoBackoff()
    {
        _client.Answers[Node] = new RemoteCompileReply(RemoteStatus.Refused, null, "compiler gcc is not allowed");
        var args = Words("-c src/a.c -Iinclude -o obj/a.o");
        var plain = await CcHarness.PlainAsync(_plain.Path, "gcc", args);
        var kiln = await CcHarness.KilnAsync(Settings(), _client, "gcc", args);

        Assert.Equal(0, kiln.ExitCode);
        Assert.Contains($"compiled locally: {Node} refused it (compiler gcc is not allowed)", kiln.Stderr);
        Assert.DoesNotContain("failed", kiln.Stderr);
        Assert.False(new HostBackoff(_state.Path, CcSettings.DefaultBackoffPeriod).IsBackedOff(Host(Node)));
        CcHarness.AssertSameFiles(_plain.Path, _kiln.Path);
    }

    [Fact]
    public async Task BackoffPeriodZeroKeepsAskingTheNode()
    {
        _client.Answers[Node] = RemoteCompileReply.Fail("connection refused");
        var first = await CcHarness.KilnAsync(Settings(backoff: TimeSpan.Zero), _client, "gcc", Words("-c src/a.c -Iinclude"));
        var second = await CcHarness.KilnAsync(Settings(backoff: TimeSpan.Zero), _client, "gcc", Words("-c src/a.c -Iinclude"));

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, second.ExitCode);
        Assert.Equal(2, _client.TotalCalls);
        Assert.Equal(2, CcHarness.CountLines(first.Stderr + second.Stderr, $"kiln: node {Node} failed (connection refused); compiling elsewhere"));
        Assert.DoesNotContain("not using it", first.Stderr + second.Stderr);
    }

    [Fact]
    public async Task SlotLimitHoldsAcrossConcurrentCompiles()
    {
        _client.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var compiles = new List<Task<CcHarness.Result>>();
        for (var i = 0; i < 5; i++)
        {
            var settings = Settings("127.0.0.1:7001/2", fallback: false, seed: i, slotWait: TimeSpan.FromSeconds(60));
            var args = Words($"-c src/a.c -Iinclude -o obj/a{i}.o");
            compiles.Add(Task.Run(() => CcHarness.KilnAsync(settings, _client, "gcc", args)));
        }

        await Wait.UntilAsync(() => _client.TotalCalls >= 2, "two compiles to hold the two slots");
        Assert.Equal(2, _client.TotalCalls);
        _client.Gate.SetResult();
        foreach (var compile in compiles)
        {
            Assert.Equal(0, (await compile).ExitCode);
        }

        Assert.Equal(5, _client.TotalCalls);
        Assert.Equal(2, _client.MostInFlight);
    }

    [Fact]
    public async Task WaitingForASlotIsBoundedThenCompilesHere()
    {
        var host = Host("127.0.0.1:7001/1");
        using (var held = FileLock.TryTake(new HostSlots(_state.Path).LockPath(host, 0)))
        {
            Assert.NotNull(held);
            var fallback = await CcHarness.KilnAsync(Settings("127.0.0.1:7001/1", slotWait: TimeSpan.FromMilliseconds(200)), _client, "gcc",
                Words("-c src/a.c -Iinclude"));
            Assert.Equal(0, fallback.ExitCode);
            Assert.Contains("stayed taken", fallback.Stderr);

            var strict = await CcHarness.KilnAsync(Settings("127.0.0.1:7001/1", fallback: false, slotWait: TimeSpan.FromMilliseconds(200)), _client, "gcc",
                Words("-c src/a.c -Iinclude"));
            Assert.Equal(1, strict.ExitCode);
            Assert.Contains("every slot of 1 host stayed taken", strict.Stderr);
        }

        Assert.Equal(0, _client.TotalCalls);
        var freed = await CcHarness.KilnAsync(Settings("127.0.0.1:7001/1", fallback: false), _client, "gcc", Words("-c src/a.c -Iinclude"));
        Assert.Equal(0, freed.ExitCode);
        Assert.Equal(1, _client.TotalCalls);
    }

    [Fact]
    public async Task HostsAreChosenAtRandomPerProcess()
    {
        for (var seed = 0; seed < 12; seed++)
        {
            var kiln = await CcHarness.KilnAsync(Settings("127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003", fallback: false, seed: seed), _client, "gcc",
                Words("-c src/a.c -Iinclude"));
            Assert.Equal(0, kiln.ExitCode);
        }

        Assert.Equal(12, _client.TotalCalls);
        Assert.True(_client.Calls.Count == 3, "every host was chosen by some seed: " + string.Join(", ", _client.Calls));
    }

    [Fact]
    public async Task LocalhostCompilesHereInItsSlot()
    {
        var args = Words("-MD -c src/a.c -Iinclude -o obj/a.o");
        var plain = await CcHarness.PlainAsync(_plain.Path, "gcc", args);
        var kiln = await CcHarness.KilnAsync(Settings("localhost/1", fallback: false), _client, "gcc", args);

        Assert.Equal(0, kiln.ExitCode);
        Assert.Contains("compiled on localhost (slot 0)", kiln.Stderr);
        Assert.Equal(0, _client.TotalCalls);
        CcHarness.AssertSameFiles(_plain.Path, _kiln.Path);
    }

    [Fact]
    public async Task HostListErrorsAreReportedOnceAndTheWordIgnored()
    {
        var stderr = "";
        for (var i = 0; i < 3; i++)
        {
            var kiln = await CcHarness.KilnAsync(Settings("127.0.0.1:7001 bad:port 127.0.0.1:7002,nope", fallback: false, seed: i), _client, "gcc",
                Words("-c src/a.c -Iinclude"));
            Assert.Equal(0, kiln.ExitCode);
            stderr += kiln.Stderr;
        }

        Assert.Equal(1, CcHarness.CountLines(stderr, "kiln: KILN_HOSTS: 'bad:port': 'port' is not a port number (1-65535); ignoring that word"));
        Assert.Equal(1, CcHarness.CountLines(stderr, "kiln: KILN_HOSTS: '127.0.0.1:7002,nope': unknown option ',nope'"));
        Assert.Equal(3, _client.Calls[Node]);
    }

    [Fact]
    public async Task RequestCarriesStrippedArgumentsAndPreprocessedSource()
    {
        var kiln = await CcHarness.KilnAsync(Settings(fallback: false), _client, "gcc", Words("-O2 -DX=1 -Iinclude -MD -c src/a.c -o obj/a.o"));

        Assert.Equal(0, kiln.ExitCode);
        var request = Assert.Single(_client.Requests);
        Assert.Equal("gcc", request.Compiler);
        Assert.Equal(["-O2"], request.Arguments);
        Assert.Equal("src/a.c", request.SourceName);
        Assert.Equal("obj/a.o", request.OutputName);
        Assert.Contains("twice", System.Text.Encoding.UTF8.GetString(request.Preprocessed.Span));
        Assert.DoesNotContain("#include", System.Text.Encoding.UTF8.GetString(request.Preprocessed.Span));
    }

    [Fact]
    public async Task DistccHostsListMeansDistccdUnlessAnEntrySaysKiln()
    {
        var distcc = CcHarness.Settings(_kiln.Path, _state.Path, "127.0.0.1 127.0.0.1:7005,kiln", fallback: false, hostsSource: "DISTCC_HOSTS");
        for (var seed = 0; seed < 6; seed++)
        {
            var settings = CcHarness.Settings(_kiln.Path, _state.Path, distcc.HostsText, fallback: false, seed: seed, hostsSource: "DISTCC_HOSTS");
            Assert.Equal(0, (await CcHarness.KilnAsync(settings, _client, "gcc", Words("-c src/a.c -Iinclude"))).ExitCode);
        }

        Assert.True(_client.Calls.ContainsKey("127.0.0.1:3632"), string.Join(", ", _client.Calls));
        Assert.True(_client.Calls.ContainsKey("127.0.0.1:7005"), string.Join(", ", _client.Calls));
        Assert.Equal(2, _client.Calls.Count);

        var kiln = await CcHarness.KilnAsync(Settings("127.0.0.1"), _client, "gcc", Words("-c src/a.c -Iinclude"));
        Assert.Equal(0, kiln.ExitCode);
        Assert.True(_client.Calls.ContainsKey("127.0.0.1:3635"), "a KILN_HOSTS entry without a port is a Kiln node");
    }

    private static HostSpec Host(string word) => HostListParser.ParseHost(word, out _)!;
}
