using Kiln.Core.Protocol;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Protocol;

/// <summary>
/// JOB sent ahead of its input (docs/protocol.md, "JOB ahead"): the node starts the compiler on JOB,
/// feeds it the input as INPUT frames bring it, and answers as for a whole job; an abandoned job stops
/// and answers nothing; hostile uses get clear errors and free the slot.
/// </summary>
public sealed class KilnJobAheadTests
{
    private const string Source = "#include <stdio.h>\nstatic int twice(int x) { return 2 * x; }\nint shout(const char *s) { return printf(\"%s %d\\n\", s, twice(21)); }\n";

    private static byte[] Hex(string spaced) => Convert.FromHexString(spaced.Replace(" ", "", StringComparison.Ordinal));

    /// <summary>gcc -E of <paramref name="source"/> in <paramref name="directory"/>, and the object a local <c>gcc -c</c> of it writes.</summary>
    private static async Task<(byte[] Preprocessed, byte[] LocalObject)> PrepareAsync(TempDirectory directory, string source, params string[] flags)
    {
        var path = Path.Combine(directory.Path, "ahead.c");
        await File.WriteAllTextAsync(path, source);
        var cpp = await Tools.RunAsync("gcc", [.. flags, "-E", "ahead.c"], directory.Path, new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.True(cpp.ExitCode == 0, cpp.Stderr);
        var compile = await Tools.RunAsync("gcc", [.. flags, "-c", "ahead.c", "-o", "local.o"], directory.Path, new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.True(compile.ExitCode == 0, compile.Stderr);
        return (System.Text.Encoding.UTF8.GetBytes(cpp.Stdout), await File.ReadAllBytesAsync(Path.Combine(directory.Path, "local.o")));
    }

    private static async Task<KilnResult> ReadResultAsync(RawKilnPeer peer)
    {
        Assert.True(KilnResult.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Result), out var result, out var error), error?.Message);
        return result;
    }

    [Fact]
    public async Task AheadJobGivesTheObjectALocalCompileGives()
    {
        using var directory = new TempDirectory("kiln-ahead");
        var (preprocessed, local) = await PrepareAsync(directory, Source, "-O2", "-g");
        await using var node = await TestNode.StartAsync(slots: 2, plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.AheadJob("gcc", ["-O2", "-g"]));
        var welcome = await peer.ReadWelcomeAsync();
        Assert.True((welcome.Capabilities & KilnCapabilities.JobAhead) != 0, "WELCOME lacks the JobAhead capability");
        Assert.Contains("ahead=1", welcome.Attributes);

        // The compile's slot is taken (its compiler started) before any input is there.
        await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 1, "the ahead job to take a slot before its input");
        var half = preprocessed.Length / 2;
        await peer.SendAsync(RawKilnPeer.Input(preprocessed.AsSpan(0, half), last: false));
        await Task.Delay(50);
        await peer.SendAsync(RawKilnPeer.Input(preprocessed.AsSpan(half), last: true));
        var result = await ReadResultAsync(peer);
        Assert.True(result.ExitCode == 0, System.Text.Encoding.UTF8.GetString(result.Stderr.Span));
        Assert.Equal(local, result.Object.ToArray());
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(preprocessed.Length, node.Node.Counters.BytesIn);
        await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 2, "the slot to come back");
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);

        // Operators see it: /api/stats and /metrics count the job started ahead, and none abandoned.
        Assert.Equal(1, node.Node.Executor.AheadStarts);
        using var http = new HttpClient();
        var stats = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"http://{node.Node.HttpEndPoint}/api/stats")).RootElement;
        Assert.Equal(1, stats.GetProperty("aheadStarts").GetInt64());
        Assert.Equal(0, stats.GetProperty("aheadAbandoned").GetInt64());
        Assert.Contains("kiln_jobs_started_ahead_total{node=\"test-node\"} 1", await http.GetStringAsync($"http://{node.Node.HttpEndPoint}/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AheadJobThatFailsToCompileSaysWhatAWholeJobSays()
    {
        using var directory = new TempDirectory("kiln-ahead");
        var path = Path.Combine(directory.Path, "broken.c");
        await File.WriteAllTextAsync(path, "int broken(void) { return missing + 1; }\n");
        var cpp = await Tools.RunAsync("gcc", ["-E", "broken.c"], directory.Path);
        var input = System.Text.Encoding.UTF8.GetBytes(cpp.Stdout);
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.AheadJob("gcc", ["-O2"]), RawKilnPeer.Input(input, last: true));
        await peer.ReadWelcomeAsync();
        var ahead = await ReadResultAsync(peer);
        await peer.SendAsync(RawKilnPeer.Job("gcc", ["-O2"], input.Length), RawKilnPeer.Input(input, last: true));
        var whole = await ReadResultAsync(peer);
        Assert.NotEqual(0, ahead.ExitCode);
        Assert.Equal(whole.ExitCode, ahead.ExitCode);
        Assert.Contains("missing", System.Text.Encoding.UTF8.GetString(ahead.Stderr.Span), StringComparison.Ordinal);
        Assert.Equal(System.Text.Encoding.UTF8.GetString(whole.Stderr.Span), System.Text.Encoding.UTF8.GetString(ahead.Stderr.Span));
        Assert.True(ahead.Object.IsEmpty);
    }

    [Fact]
    public async Task AbandonedAheadJobStopsItsCompilerAndAnswersNothing()
    {
        await using var node = await TestNode.StartAsync(slots: 2, plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.AheadJob("gcc", ["-O2"]));
        await peer.ReadWelcomeAsync();
        await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 1, "the ahead job to take a slot");

        // Half a function, then ABANDON: were it compiled, it would fail; nothing is answered for it.
        await peer.SendAsync(RawKilnPeer.Input("int half(void) { return"u8, last: false), RawKilnPeer.Input([], last: true, abandon: true));
        await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 2, "the abandoned job's slot to come back");

        // The next job on the same connection is answered, and its answer is the first frame that comes.
        var source = "int seven(void) { return 7; }\n"u8.ToArray();
        await peer.SendAsync(RawKilnPeer.Job("gcc", ["-O2"], source.Length), RawKilnPeer.Input(source, last: true));
        var frame = await peer.ReadFrameAsync();
        Assert.Equal(KilnFrameType.Result, frame!.Value.Type);
        Assert.True(KilnResult.TryParse(frame.Value.Payload, out var result, out _));
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(0, node.Node.Counters.CompilesFailed);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
        Assert.Equal(0, node.Node.Counters.Running);
        Assert.Equal(1, node.Node.Executor.AheadStarts);
        await Wait.UntilAsync(() => node.Node.Executor.AheadAbandoned == 1, "the abandoned job to be counted");
    }

    [Fact]
    public async Task AheadJobWhoseResultTheNodeHasIsAnsweredFromItsCache()
    {
        var source = "int eight(void) { return 8; }\n"u8.ToArray();
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.Job("gcc", ["-O2"], source.Length), RawKilnPeer.Input(source, last: true));
        await peer.ReadWelcomeAsync();
        var compiled = await ReadResultAsync(peer);
        await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 2, "the first job's slot to come back");

        await peer.SendAsync(RawKilnPeer.AheadJob("gcc", ["-O2"]), RawKilnPeer.Input(source, last: true));
        var cached = await ReadResultAsync(peer);
        Assert.Equal(compiled.Object.ToArray(), cached.Object.ToArray());
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 2 && node.Node.Counters.Running == 0, "the compiler started ahead to stop");
    }

    [Fact]
    public async Task MalformedAheadFramesCloseTheConnectionWithAReason()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);

        // AHEAD with an input size: refused from the payload.
        var sized = RawKilnPeer.Job("gcc", ["-O2"], 10);
        sized[1] = (byte)KilnFrameFlags.Ahead;
        Assert.Contains("AHEAD", (await ErrorAsync(node, RawKilnPeer.Hello(), sized)).Message, StringComparison.Ordinal);

        // ABANDON on a job that was not sent ahead.
        Assert.Contains("ABANDON", (await ErrorAsync(node, RawKilnPeer.Hello(), RawKilnPeer.Job("gcc", ["-O2"], 10), RawKilnPeer.Input([], last: true, abandon: true)))
            .Message, StringComparison.Ordinal);

        // ABANDON without LAST: refused from the header.
        Assert.Contains("ABANDON without LAST", (await ErrorAsync(node, RawKilnPeer.Hello(), RawKilnPeer.AheadJob("gcc", ["-O2"]), Hex("04 10 0000 00000000")))
            .Message, StringComparison.Ordinal);

        await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 2 && node.Node.Counters.Running == 0, "every ahead job's slot to come back");
        await ProtocolTestKit.AssertServesAsync(node);
    }

    private static async Task<KilnError> ErrorAsync(TestNode node, params byte[][] frames)
    {
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(frames);
        var error = await peer.ReadErrorAndCloseAsync();
        Assert.Equal(KilnErrorCode.MalformedFrame, error.Code);
        return error;
    }

    [Fact]
    public async Task AheadInputOverTheLimitIsRefusedAndTheConnectionCarriesOn()
    {
        await using var node = await TestNode.StartAsync(slots: 1, configure: o => o.KilnProtocol.MaxInputBytes = 4096, plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.AheadJob("gcc", ["-O2"]), RawKilnPeer.Input(new byte[3000], last: false), RawKilnPeer.Input(new byte[3000], last: false));
        await peer.ReadWelcomeAsync();
        Assert.True(KilnError.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Error), out var tooLarge, out _));
        Assert.Equal(KilnErrorCode.TooLarge, tooLarge.Code);
        Assert.Contains("4096", tooLarge.Message, StringComparison.Ordinal);
        await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 1, "the refused job's slot to come back");

        // The rest of its input is dropped up to LAST; then the next job compiles.
        var source = "int nine(void) { return 9; }\n"u8.ToArray();
        await peer.SendAsync(RawKilnPeer.Input(new byte[3000], last: true), RawKilnPeer.Job("gcc", ["-O2"], source.Length), RawKilnPeer.Input(source, last: true));
        Assert.Equal(0, (await ReadResultAsync(peer)).ExitCode);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
    }

    [Fact]
    public async Task ClientThatSendsAJobAheadAndStallsLosesItsSlot()
    {
        await using var node = await TestNode.StartAsync(slots: 1, configure: o => o.KilnProtocol.ReadTimeout = TimeSpan.FromSeconds(1), plaintextLoopback: true);
        await using (var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint))
        {
            await peer.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.AheadJob("gcc", ["-O2"]), RawKilnPeer.Input("int x"u8, last: false));
            await peer.ReadWelcomeAsync();

            // WELCOME may go out before the session has read the JOB behind HELLO: the slot is taken
            // soon after, and held until the read timeout.
            await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 0, "the ahead job to take the slot");
            var error = await peer.ReadErrorAndCloseAsync();
            Assert.Equal(KilnErrorCode.ReadTimeout, error.Code);
        }

        await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 1 && node.Node.Counters.Running == 0, "the stalled job's slot to come back");
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task AheadJobWaitsForItsInputWhenNoSlotIsFreeAndStillCompiles()
    {
        // One slot, taken by a first ahead job that waits for its input: the second ahead job cannot
        // start its compiler, and goes the ordinary way once its input is complete.
        await using var node = await TestNode.StartAsync(slots: 1, plaintextLoopback: true);
        await using var first = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await first.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.AheadJob("gcc", ["-O2"]));
        await first.ReadWelcomeAsync();
        await Wait.UntilAsync(() => node.Node.Executor.FreeSlots == 0, "the first ahead job to take the slot");

        var source = "int ten(void) { return 10; }\n"u8.ToArray();
        await using var second = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await second.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.AheadJob("gcc", ["-O2"]), RawKilnPeer.Input(source, last: true));
        await second.ReadWelcomeAsync();
        await first.SendAsync(RawKilnPeer.Input("int eleven(void) { return 11; }\n"u8, last: true));
        Assert.Equal(0, (await ReadResultAsync(first)).ExitCode);
        Assert.Equal(0, (await ReadResultAsync(second)).ExitCode);
        Assert.Equal(2, node.Node.Counters.CompilesOk);
    }

    [Fact]
    public async Task ClientSendsNoJobAheadToANodeWhoseConnectIsSlow()
    {
        // A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it waits
        // as one to a node a long round trip away does. Waiting for it would hold the preprocessor back.
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(0);
        var endPoint = (System.Net.IPEndPoint)listener.LocalEndPoint!;
        var fillers = new List<System.Net.Sockets.Socket>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var filler = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { Blocking = false };
                try
                {
                    filler.Connect(endPoint);
                }
                catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.WouldBlock)
                {
                }

                fillers.Add(filler);
            }

            await Task.Delay(100);
            using var client = new KilnProtocolClient(new KilnClientOptions { SynchronousReplyWait = TimeSpan.FromSeconds(5) });
            var stalled = ProtocolTestKit.Host(endPoint);
            var started = System.Diagnostics.Stopwatch.StartNew();
            Assert.False(client.SendAhead(stalled, ProtocolTestKit.SmallRequest()));
            Assert.True(started.Elapsed < TimeSpan.FromMilliseconds(500), $"SendAhead waited {started.Elapsed.TotalMilliseconds:0} ms for a connect");
        }
        finally
        {
            foreach (var filler in fillers)
            {
                filler.Dispose();
            }
        }

        // A node that answers at once gets the JOB ahead, then its input, and compiles it.
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        using var nodeClient = new KilnProtocolClient(new KilnClientOptions { SynchronousReplyWait = TimeSpan.FromSeconds(5) });
        var host = ProtocolTestKit.Host(node.Node.KilnEndPoint);
        var request = ProtocolTestKit.SmallRequest(value: 77);
        Assert.True(nodeClient.SendAhead(host, request with { Preprocessed = ReadOnlyMemory<byte>.Empty }));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var reply = await nodeClient.CompileAsync(host, request, timeout.Token);
        Assert.True(reply.Status == Kiln.Core.Remote.RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        Assert.Equal(0, reply.Outcome!.ExitCode);
        Assert.Equal(1, node.Node.Counters.KilnJobs);
    }
}
