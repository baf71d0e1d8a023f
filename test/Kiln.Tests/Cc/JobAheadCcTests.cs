using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cc;

/// <summary>
/// <c>kiln cc</c> (the published binary) sends a compile's JOB ahead of its preprocessor to a node whose
/// facts say it takes that, gives the object gcc gives, and takes the JOB back when its local cache
/// answers after all.
/// </summary>
public sealed class JobAheadCcTests : IDisposable
{
    private readonly TempDirectory _dir = new("kiln-job-ahead");
    private int _source;

    public void Dispose() => _dir.Dispose();

    private static Dictionary<string, string?> Plaintext(TestNode node, params (string Name, string? Value)[] more)
    {
        var environment = new Dictionary<string, string?> { ["KILN_HOSTS"] = $"{node.Node.KilnEndPoint},plain", ["KILN_TRACE"] = "1" };
        foreach (var (name, value) in more)
        {
            environment[name] = value;
        }

        return environment;
    }

    private static bool SentAhead(Tools.Run run) => run.Stderr.Contains(" sent-ahead", StringComparison.Ordinal);

    [Fact]
    public async Task KilnCcSendsTheJobAheadOnceTheNodeSaidItTakesIt()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var state = _dir.Combine("state");

        // The first compile meets the node (its WELCOME says ahead=1), the next ones send JOB ahead.
        await NewSourceCompile.RunAsync(_dir, ++_source, node, state, Plaintext(node));
        Assert.Contains("ahead=1", await File.ReadAllTextAsync(Assert.Single(Directory.GetFiles(Path.Combine(state, "nodes"), "kiln_*"))), StringComparison.Ordinal);
        var second = await NewSourceCompile.RunAsync(_dir, ++_source, node, state, Plaintext(node));
        Assert.True(SentAhead(second), second.Stderr);
        var third = await NewSourceCompile.RunAsync(_dir, ++_source, node, state, Plaintext(node));
        Assert.True(SentAhead(third), third.Stderr);
        Assert.Equal(3, node.Node.Counters.CompilesOk);

        // KILN_JOB_AHEAD=0 sends the job whole, after the preprocessor.
        var whole = await NewSourceCompile.RunAsync(_dir, ++_source, node, state, Plaintext(node, ("KILN_JOB_AHEAD", "0")));
        Assert.False(SentAhead(whole), whole.Stderr);
        Assert.Equal(4, node.Node.Counters.CompilesOk);

        // The RECORD that followed an ahead job's answer named the client's key, which its JOB could not:
        // the node kept the manifest, so another client with an empty KILN_DIR gets the third source
        // from remote direct mode, without a JOB.
        var jobs = node.Node.Counters.KilnJobs;
        var again = await NewSourceCompile.RunAsync(_dir, _source - 1, node, _dir.Combine("state-empty"), Plaintext(node));
        Assert.Contains("remote-direct", again.Stderr, StringComparison.Ordinal);
        Assert.Equal(jobs, node.Node.Counters.KilnJobs);
        Assert.Equal(4, node.Node.Counters.CompilesOk);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
    }

    [Fact]
    public async Task KilnCcTakesTheJobBackWhenItsLocalCacheHasTheResult()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var state = _dir.Combine("state");
        var cache = Plaintext(node, ("KILN_CACHE_SIZE", null), ("KILN_REMOTE_DIRECT", "0"));
        await NewSourceCompile.RunAsync(_dir, ++_source, node, state, cache);
        Assert.Equal(1, node.Node.Counters.CompilesOk);

        // The same code with a comment in it, on the same line: direct mode misses (the source changed),
        // the preprocessed input is the same (a comment is a space), so the local cache answers it, after
        // the JOB went ahead to the node.
        var path = _dir.Combine($"s{_source}.c");
        var text = await File.ReadAllTextAsync(path);
        Assert.Contains("return x", text, StringComparison.Ordinal);
        await File.WriteAllTextAsync(path, text.Replace("return x", "return/* a comment */x", StringComparison.Ordinal));
        var environment = new Dictionary<string, string?>
        {
            ["KILN_DIR"] = state,
            ["KILN_FALLBACK"] = "0",
            ["KILN_LOCAL_SOCKET"] = null,
            ["KILN_AGENT"] = null,
            ["LC_ALL"] = "C",
            ["KILN_VERBOSE"] = "1",
        };
        foreach (var (name, value) in cache)
        {
            environment[name] = value;
        }

        var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-O2", "-c", $"s{_source}.c", "-o", "again.o"], _dir.Path, environment, TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.True(SentAhead(run), run.Stderr);
        Assert.Contains("from the local cache", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllBytesAsync(_dir.Combine("out.o")), await File.ReadAllBytesAsync(_dir.Combine("again.o")));

        // The node stopped the compiler it started, compiled nothing more, and saw no protocol error.
        await Wait.UntilAsync(() => node.Node.Counters.Running == 0 && node.Node.Executor.FreeSlots == node.Node.Executor.Slots, "the abandoned job to end");
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(0, node.Node.Counters.CompilesFailed);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
    }
}
