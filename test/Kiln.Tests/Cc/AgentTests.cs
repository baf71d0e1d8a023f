using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Kiln.Core.Agent;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Core.Security;
using Kiln.Tests.Protocol;
using Kiln.Tests.Security;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cc;

/// <summary>
/// The per-user agent (<c>kiln agent</c>, Kiln.Core.Agent): it holds TLS connections to nodes, and kiln cc
/// reaches a TLS node whose fingerprint it knows through the agent's Unix socket. In-process agents for
/// what the agent does with what it is sent; the published binary for how kiln cc starts, uses and
/// outlives it.
/// </summary>
public sealed class AgentTests : IDisposable
{
    private readonly TempDirectory _dir = new("kiln-agent");
    private int _source;

    public void Dispose() => _dir.Dispose();

    /// <summary>An in-process agent on a socket in the test's directory, stopped with the returned source.</summary>
    private async Task<(KilnAgent Agent, Task<string> Run, CancellationTokenSource Stop, string Socket)> StartAgentAsync(KilnAgentOptions? options = null)
    {
        var socket = _dir.Combine($"a{_source++}.sock");
        var agent = new KilnAgent(options is null ? new KilnAgentOptions { SocketPath = socket } : options with { SocketPath = socket }, _ => { });
        var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var run = agent.RunAsync(stop.Token);
        await agent.Listening.WaitAsync(TimeSpan.FromSeconds(10));
        return (agent, run, stop, socket);
    }

    private static KilnProtocolClient ClientThrough(string socket, string? certificateFile = null, string token = "") => new(new KilnClientOptions
    {
        Agent = new KilnAgentRoute(socket, null),
        SynchronousReplyWait = TimeSpan.FromSeconds(30),
        ClientCertificateFile = certificateFile,
        Token = token,
    });

    private static async Task<RemoteCompileReply> CompileAsync(KilnProtocolClient client, TestNode node, string? fingerprint = null, int value = 42)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var host = ProtocolTestKit.Host(node) with { Fingerprint = fingerprint ?? node.Fingerprint };
        return await client.CompileAsync(host, ProtocolTestKit.SmallRequest(value: value), cts.Token);
    }

    /// <summary>Waits for <paramref name="condition"/>, at most <paramref name="seconds"/>.</summary>
    private static async Task WaitForAsync(Func<bool> condition, string what, int seconds = 20)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(seconds), $"waited {seconds} s for {what}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Clients_one_after_another_share_the_connection_the_first_one_left()
    {
        await using var node = await TestNode.StartAsync();
        var (agent, run, stop, socket) = await StartAgentAsync();
        using (stop)
        {
            using (var first = ClientThrough(socket))
            {
                var reply = await CompileAsync(first, node);
                Assert.True(reply.Status == RemoteStatus.Completed, reply.Message);
                Assert.Equal(0, reply.Outcome!.ExitCode);
                Assert.False(reply.Outcome.Object.IsEmpty);
            }

            // The first client waited for a connection; it left between jobs, so the node answered SYNC and
            // the agent kept the connection.
            await WaitForAsync(() => agent.Counts.Kept == 1, "the first connection to be kept");
            Assert.Equal((1L, 0L, 1L, 0L, 1L), agent.Counts);

            for (var i = 0; i < 4; i++)
            {
                using (var next = ClientThrough(socket))
                {
                    var reply = await CompileAsync(next, node, value: 43 + i);
                    Assert.True(reply.Status == RemoteStatus.Completed, reply.Message);
                }

                var expected = i + 2;
                await WaitForAsync(() => agent.Counts.Kept == expected, $"connection {expected} to be kept");
            }

            // Five jobs, each with its own HELLO, on at most the two connections the agent made (the first
            // client's, and one made in the background when it took the last).
            Assert.Equal((5L, 4L, 1L, 0L, 5L), agent.Counts);
            Assert.Equal(5, node.Node.Counters.CompilesOk);
            var peers = SecuredNode.AuditLines(node.DataDirectory).Where(e => e.GetProperty("action").GetString() == "job")
                .Select(e => e.GetProperty("address").GetString()).Distinct().Count();
            Assert.InRange(peers, 1, 2);
            await stop.CancelAsync();
            Assert.Equal("stopped", await run.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.False(File.Exists(socket));
        }
    }

    [Fact]
    public async Task A_client_that_leaves_with_a_job_under_way_never_hands_its_reply_to_the_next()
    {
        await using var node = await TestNode.StartAsync();
        var (agent, _, stop, socket) = await StartAgentAsync();
        using (stop)
        {
            // What each of the two sources compiles to, on another node (this one's cache stays empty).
            byte[] objectOf(RemoteCompileReply reply) => reply.Outcome!.Object.ToArray();
            await using var reference = await TestNode.StartAsync();
            using var direct = new KilnProtocolClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var one = objectOf(await direct.CompileAsync(ProtocolTestKit.Host(reference), ProtocolTestKit.SmallRequest(value: 1), cts.Token));
            var two = objectOf(await direct.CompileAsync(ProtocolTestKit.Host(reference), ProtocolTestKit.SmallRequest(value: 2), cts.Token));
            Assert.NotEqual(one, two);

            // A client sends a whole job for source 1 through the agent and leaves before its reply.
            var request = new KilnAgentRequest("127.0.0.1", node.Node.KilnEndPoint.Port, node.Fingerprint, null).ToLine()!;
            var source = ProtocolTestKit.SmallRequest(value: 1).Preprocessed.ToArray();
            var hello = new KilnHello(KilnProtocol.MinVersion, KilnProtocol.Version, KilnCapabilities.ResultOrigin, "", "leaver");
            var job = new KilnJob
            {
                InputDigest = Kiln.Core.Hashing.Digest.FromBytes(source),
                InputSize = source.Length,
                Language = Kiln.Core.Compile.SourceLanguage.PreprocessedC,
                Compiler = "gcc",
                Arguments = ["-O2"],
                SourceName = "answer.c",
            };
            var frames = new byte[hello.FrameLength + job.FrameLength + KilnFrameHeader.Size + source.Length];
            var at = hello.WriteFrame(frames);
            at += job.WriteFrame(frames.AsSpan(at));
            new KilnFrameHeader(KilnFrameType.Input, KilnFrameFlags.Last, source.Length).Write(frames.AsSpan(at));
            source.CopyTo(frames, at + KilnFrameHeader.Size);
            using (var leaver = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                await leaver.ConnectAsync(new UnixDomainSocketEndPoint(socket));
                await leaver.SendAsync(request.Concat(frames).ToArray(), SocketFlags.None);
            }

            // The node still compiles it; its RESULT comes before the SYNC, and goes nowhere.
            await WaitForAsync(() => agent.Counts.Kept == 1, "the leaver's connection to be kept");
            await WaitForAsync(() => node.Node.Counters.CompilesOk == 1, "the leaver's job to be compiled");

            // The next client on that connection gets its own job's object.
            using var next = ClientThrough(socket);
            var reply = await CompileAsync(next, node, value: 2);
            Assert.True(reply.Status == RemoteStatus.Completed, reply.Message);
            Assert.Equal(two, objectOf(reply));

            // On the very connection the leaver's job went by (the agent keeps the latest on top).
            var peers = SecuredNode.AuditLines(node.DataDirectory).Where(e => e.GetProperty("action").GetString() == "job")
                .Select(e => e.GetProperty("address").GetString()).ToList();
            Assert.Equal(2, peers.Count);
            Assert.Equal(peers[0], peers[1]);
        }
    }

    [Fact]
    public async Task A_kept_connection_carries_no_identity_to_the_next_client()
    {
        await using var node = await SecuredNode.StartAsync();
        var (agent, _, stop, socket) = await StartAgentAsync();
        using (stop)
        {
            using (var allowed = ClientThrough(socket, token: node.Execute))
            {
                Assert.Equal(RemoteStatus.Completed, (await CompileAsync(allowed, node.Node)).Status);
            }

            await WaitForAsync(() => agent.Counts.Kept == 1, "the connection to be kept");

            // The next client says HELLO without a token on that connection: the node asks again, and refuses.
            using (var anonymous = ClientThrough(socket))
            {
                var refused = await CompileAsync(anonymous, node.Node, value: 7);
                Assert.Equal(RemoteStatus.Failed, refused.Status);
                Assert.Contains("no credentials", refused.Message, StringComparison.Ordinal);
            }

            // On the connection the first client's job went by.
            var audit = SecuredNode.AuditLines(node.Node.DataDirectory);
            var job = Assert.Single(audit, e => e.GetProperty("action").GetString() == "job");
            var hello = Assert.Single(audit, e => e.GetProperty("action").GetString() == "hello" && e.GetProperty("outcome").GetString() == "refused");
            Assert.Equal(job.GetProperty("address").GetString(), hello.GetProperty("address").GetString());
            Assert.Equal(1, node.Node.Node.Counters.CompilesOk);
        }
    }

    [Fact]
    public async Task A_client_that_leaves_inside_a_frame_takes_the_connection_with_it()
    {
        await using var node = await TestNode.StartAsync();
        var (agent, _, stop, socket) = await StartAgentAsync();
        using (stop)
        {
            var request = new KilnAgentRequest("127.0.0.1", node.Node.KilnEndPoint.Port, node.Fingerprint, null).ToLine()!;
            var hello = new KilnHello(KilnProtocol.MinVersion, KilnProtocol.Version, KilnCapabilities.ResultOrigin, "", "leaver");
            var frame = new byte[hello.FrameLength];
            hello.WriteFrame(frame);
            using (var leaver = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                await leaver.ConnectAsync(new UnixDomainSocketEndPoint(socket));
                await leaver.SendAsync(request.Concat(frame[..^3]).ToArray(), SocketFlags.None);
                await WaitForAsync(() => agent.Counts.Served == 1, "the agent to take the client");
            }

            await Task.Delay(500);
            Assert.Equal(0L, agent.Counts.Kept);
            using var next = ClientThrough(socket);
            Assert.Equal(RemoteStatus.Completed, (await CompileAsync(next, node)).Status);
        }
    }

    [Fact]
    public async Task An_agent_that_dies_under_a_job_makes_it_busy_and_the_client_goes_by_itself()
    {
        await using var node = await TestNode.StartAsync();

        // An agent that takes the request and the job, then dies without a word.
        var socket = _dir.Combine("dying.sock");
        using var dying = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        dying.Bind(new UnixDomainSocketEndPoint(socket));
        dying.Listen(4);
        var dies = Task.Run(async () =>
        {
            using var accepted = await dying.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));
            var buffer = new byte[4096];
            _ = await accepted.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(30));
        });

        using var client = ClientThrough(socket);
        var reply = await CompileAsync(client, node);
        await dies;
        Assert.Equal(RemoteStatus.Busy, reply.Status);
        Assert.Contains("the kiln agent closed the connection", reply.Message, StringComparison.Ordinal);

        // The same process then reaches the node by TLS itself.
        var next = await CompileAsync(client, node, value: 9);
        Assert.True(next.Status == RemoteStatus.Completed, next.Message);
        Assert.Equal(1, node.Node.Counters.CompilesOk);
    }

    [Fact]
    public async Task A_fingerprint_the_node_does_not_present_is_refused_and_nothing_is_sent()
    {
        await using var node = await TestNode.StartAsync();
        var (_, _, stop, socket) = await StartAgentAsync();
        using (stop)
        {
            using var client = ClientThrough(socket);
            var wrong = new string('a', node.Fingerprint.Length);
            var reply = await CompileAsync(client, node, wrong);
            Assert.Equal(RemoteStatus.Failed, reply.Status);
            Assert.Contains("through the kiln agent: REFUSED", reply.Message, StringComparison.Ordinal);
            Assert.Contains(node.Fingerprint, reply.Message, StringComparison.Ordinal);
            Assert.Equal(0, node.Node.Counters.KilnJobs);
        }
    }

    [Fact]
    public async Task A_node_that_is_down_is_a_failure_of_the_node_with_the_reason()
    {
        var (_, _, stop, socket) = await StartAgentAsync(new KilnAgentOptions { SocketPath = "", ConnectTimeout = TimeSpan.FromSeconds(2) });
        using (stop)
        {
            // A port nothing listens on: bind one, note it, close it.
            int port;
            using (var probe = new TcpListenerSlot())
            {
                port = probe.Port;
            }

            using var client = ClientThrough(socket);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var host = ProtocolTestKit.Host(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port)) with { Plaintext = false, Fingerprint = new string('b', 64) };
            var reply = await client.CompileAsync(host, ProtocolTestKit.SmallRequest(), cts.Token);
            Assert.Equal(RemoteStatus.Failed, reply.Status);
            Assert.Contains("through the kiln agent: cannot connect", reply.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_agent_offers_the_client_certificate_it_is_told_of()
    {
        await using var node = await SecuredNode.StartAsync();
        var file = _dir.Combine("client.pfx");
        using var certificate = NodeCertificate.LoadOrCreateAt(file, "agent-client", out _);
        node.Tokens.AddCertificate(NodeCertificate.Fingerprint(certificate), Role.Execute, "agent-test");
        var (_, _, stop, socket) = await StartAgentAsync();
        using (stop)
        {
            using (var without = ClientThrough(socket))
            {
                var refused = await CompileAsync(without, node.Node);
                Assert.Equal(RemoteStatus.Failed, refused.Status);
                Assert.Contains("no credentials", refused.Message, StringComparison.Ordinal);
            }

            using var with = ClientThrough(socket, file);
            var reply = await CompileAsync(with, node.Node);
            Assert.True(reply.Status == RemoteStatus.Completed, reply.Message);
            Assert.Equal(1, node.Node.Node.Counters.CompilesOk);
        }
    }

    [Fact]
    public async Task A_ready_connection_the_node_closed_is_not_handed_out()
    {
        // The node closes a connection without HELLO after 1 s; the agent would keep one made ahead 30 s.
        await using var node = await TestNode.StartAsync(configure: o => o.KilnProtocol.HandshakeTimeout = TimeSpan.FromSeconds(1));
        var (agent, _, stop, socket) = await StartAgentAsync(new KilnAgentOptions { SocketPath = "", PooledMaxAge = TimeSpan.FromSeconds(30) });
        using (stop)
        {
            using (var first = ClientThrough(socket))
            {
                Assert.Equal(RemoteStatus.Completed, (await CompileAsync(first, node)).Status);
            }

            // The one made ahead when the first client took the last is closed by the node; the agent sees
            // it (its read ends), and the next client waits for a new one instead.
            await Task.Delay(2500);
            using var second = ClientThrough(socket);
            var reply = await CompileAsync(second, node, value: 7);
            Assert.True(reply.Status == RemoteStatus.Completed, reply.Message);
            Assert.Equal(2, node.Node.Counters.CompilesOk);
        }
    }

    [Theory]
    [InlineData("HELLO there\n", "cannot read the request")]
    [InlineData("KILN-AGENT/1\t127.0.0.1\t99999\tabc\t\n", "bad port")]
    [InlineData("KILN-AGENT/1\t127.0.0.1\t3635\tabc\trelative/client.pfx\n", "not absolute")]
    [InlineData("KILN-AGENT/1\tno/slashes\t3635\tabc\t\n", "bad host")]
    public async Task A_malformed_request_gets_an_error_and_the_agent_goes_on(string line, string expected)
    {
        await using var node = await TestNode.StartAsync();
        var (_, _, stop, socket) = await StartAgentAsync();
        using (stop)
        {
            Assert.Contains(expected, await SendRawAsync(socket, Encoding.UTF8.GetBytes(line)), StringComparison.Ordinal);

            // Too long, and never ended: refused once the agent has read its limit.
            Assert.Contains("longer than", await SendRawAsync(socket, Encoding.UTF8.GetBytes(new string('x', KilnAgentRequest.MaxLength + 10))), StringComparison.Ordinal);

            using var client = ClientThrough(socket);
            Assert.Equal(RemoteStatus.Completed, (await CompileAsync(client, node)).Status);
        }
    }

    [Fact]
    public async Task A_client_that_says_nothing_is_dropped_after_the_request_timeout()
    {
        var (_, _, stop, socket) = await StartAgentAsync(new KilnAgentOptions { SocketPath = "", RequestTimeout = TimeSpan.FromSeconds(1) });
        using (stop)
        {
            using var silent = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await silent.ConnectAsync(new UnixDomainSocketEndPoint(socket));
            var buffer = new byte[64];
            var read = await silent.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0, read);
        }
    }

    [Fact]
    public async Task The_agent_stops_when_idle_and_when_its_socket_is_removed()
    {
        var (_, idleRun, idleStop, _) = await StartAgentAsync(new KilnAgentOptions { SocketPath = "", IdleExit = TimeSpan.FromSeconds(1) });
        using (idleStop)
        {
            Assert.Contains("no client for", await idleRun.WaitAsync(TimeSpan.FromSeconds(20)), StringComparison.Ordinal);
        }

        var (_, run, stop, socket) = await StartAgentAsync();
        using (stop)
        {
            File.Delete(socket);
            Assert.Contains("was removed", await run.WaitAsync(TimeSpan.FromSeconds(20)), StringComparison.Ordinal);
        }
    }

    /// <summary>Sends <paramref name="bytes"/> to the agent and returns the ERROR frame's message it answers with.</summary>
    private static async Task<string> SendRawAsync(string socket, byte[] bytes)
    {
        using var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await raw.ConnectAsync(new UnixDomainSocketEndPoint(socket));
        await raw.SendAsync(bytes, SocketFlags.None);
        using var stream = new NetworkStream(raw);
        var header = new byte[KilnFrameHeader.Size];
        await stream.ReadExactlyAsync(header).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(KilnFrameHeader.TryRead(header, _ => 1 << 16, out var frame, out var malformed), malformed?.Message);
        Assert.Equal(KilnFrameType.Error, frame.Type);
        var payload = new byte[frame.Length];
        await stream.ReadExactlyAsync(payload);
        Assert.True(KilnError.TryParse(payload, out var error, out _));
        return error.Message;
    }

    // --- the published binary -------------------------------------------------------------------

    /// <summary>kiln cc on a new source through <paramref name="node"/>, traced (the agent route leaves the mark <c>agent</c>).</summary>
    private Task<Tools.Run> KilnCcAsync(TestNode node, string state, Dictionary<string, string?>? extra = null)
    {
        var environment = new Dictionary<string, string?> { ["KILN_AGENT_IDLE"] = "60", ["KILN_TRACE"] = "1" };
        foreach (var (key, value) in extra ?? [])
        {
            environment[key] = value;
        }

        return NewSourceCompile.RunAsync(_dir, 1000 + _source++, node, state, environment);
    }

    private static bool Served(string socket)
    {
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(socket));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [Fact]
    public async Task Kiln_cc_starts_the_agent_goes_through_it_and_outlives_it()
    {
        await using var node = await TestNode.StartAsync();
        var state = _dir.Combine("state");
        var socket = Path.Combine(state, "agent", "agent.sock");
        try
        {
            // The first compile finds no agent: it starts one and goes by TLS itself.
            var first = await KilnCcAsync(node, state);
            Assert.DoesNotContain("kiln-trace cc agent", first.Stderr, StringComparison.Ordinal);
            await WaitForAsync(() => Served(socket), "the agent kiln cc started");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(socket)!));

            // The next ones go through it.
            for (var i = 0; i < 3; i++)
            {
                Assert.Contains("kiln-trace cc agent", (await KilnCcAsync(node, state)).Stderr, StringComparison.Ordinal);
            }

            // KILN_AGENT=0: by itself.
            Assert.DoesNotContain("kiln-trace cc agent", (await KilnCcAsync(node, state, new() { ["KILN_AGENT"] = "0" })).Stderr, StringComparison.Ordinal);

            // Killed: its socket is left behind, nothing listens. The compile goes by itself and no node is
            // blamed; a new agent is started, at most one start per 10 s.
            Process.GetProcessById(AgentPid(state)).Kill();
            await WaitForAsync(() => !Served(socket), "the agent to die");
            var after = await KilnCcAsync(node, state);
            Assert.DoesNotContain("kiln-trace cc agent", after.Stderr, StringComparison.Ordinal);
            var backoff = Path.Combine(state, "backoff");
            Assert.False(Directory.Exists(backoff) && Directory.EnumerateFiles(backoff).Any(), "a node was backed off for the agent's death");
            File.SetLastWriteTimeUtc(Path.Combine(state, "agent", "started"), DateTime.UtcNow.AddMinutes(-1));
            await KilnCcAsync(node, state);
            await WaitForAsync(() => Served(socket), "the agent started again");
            Assert.Contains("kiln-trace cc agent", (await KilnCcAsync(node, state)).Stderr, StringComparison.Ordinal);
            Assert.Equal(8, node.Node.Counters.CompilesOk);

            // kiln agent --stop: the socket goes, and the agent says in its log what it did.
            var stopped = await Tools.RunAsync(Tools.KilnBinary, ["agent", "--stop", "--socket", socket], _dir.Path, new Dictionary<string, string?> { ["KILN_DIR"] = state });
            Assert.True(stopped.ExitCode == 0, stopped.Stderr);
            Assert.Contains("kiln agent: stopped", stopped.Stdout, StringComparison.Ordinal);
            Assert.False(File.Exists(socket));
            var log = await File.ReadAllTextAsync(Path.Combine(state, "agent", "agent.log"));
            Assert.Matches(@"stopped: .*was removed; clients: 1 \(", log);
        }
        finally
        {
            _ = await Tools.RunAsync(Tools.KilnBinary, ["agent", "--stop", "--socket", socket], _dir.Path, new Dictionary<string, string?> { ["KILN_DIR"] = state });
        }
    }

    /// <summary>The pid of the agent serving <paramref name="state"/>'s socket, from its log's banner.</summary>
    private static int AgentPid(string state)
    {
        var log = File.ReadAllText(Path.Combine(state, "agent", "agent.log"));
        return int.Parse(System.Text.RegularExpressions.Regex.Matches(log, @"\(pid (\d+)\)").Last().Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A loopback port that was free a moment ago.</summary>
    private sealed class TcpListenerSlot : IDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);

        public TcpListenerSlot() => _listener.Start();

        public int Port => ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;

        public void Dispose() => _listener.Stop();
    }
}


