using System.Net;
using System.Net.Sockets;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;

namespace Kiln.Tests.Protocol;

/// <summary>The client against scripted nodes: every reply and every failure maps to a status with a message naming the node.</summary>
public sealed class KilnProtocolClientTests
{
    /// <summary>
    /// A client on the asynchronous way, or on the synchronous way (<c>kiln cc</c>'s, for plaintext
    /// hosts: blocking calls on raw sockets, KilnProtocolClient.Synchronous.cs), which must fail alike.
    /// </summary>
    private static KilnProtocolClient NewClient(bool synchronous, KilnClientOptions? options = null) =>
        new((options ?? new KilnClientOptions()) with { SynchronousReplyWait = synchronous ? TimeSpan.FromSeconds(20) : TimeSpan.Zero });

    private static byte[] Welcome()
    {
        var welcome = new KilnWelcome(1, KilnCapabilities.Compile, 1, 1, "scripted");
        var bytes = new byte[welcome.FrameLength];
        welcome.WriteFrame(bytes);
        return bytes;
    }

    private static byte[] Error(KilnErrorCode code, string message)
    {
        var error = new KilnError(code, message);
        var bytes = new byte[error.FrameLength];
        error.WriteFrame(bytes);
        return bytes;
    }

    private static async Task ReadHelloAndJobAsync(RawKilnPeer peer)
    {
        var hello = await peer.ReadFrameAsync();
        Assert.Equal(KilnFrameType.Hello, hello!.Value.Type);
        var job = await peer.ReadFrameAsync();
        Assert.Equal(KilnFrameType.Job, job!.Value.Type);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BusyNodeGivesBusy(bool synchronous)
    {
        await using var node = new ScriptedKilnNode(async (peer, ct) =>
        {
            await ReadHelloAndJobAsync(peer);
            var busy = new KilnBusy("all 1 slots taken");
            var bytes = new byte[busy.FrameLength];
            busy.WriteFrame(bytes);
            await peer.SendAsync(Welcome(), bytes);
            await peer.ReadFrameAsync();
        });
        using var client = NewClient(synchronous);
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node.EndPoint), ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.Equal(RemoteStatus.Busy, reply.Status);
        Assert.Contains("all 1 slots taken", reply.Message, StringComparison.Ordinal);
        Assert.Contains(node.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), reply.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WhileCompilingRunsOnceAfterTheJobIsSentAndBeforeTheReply(bool synchronous)
    {
        var ran = 0;
        var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waitedForIt = false;
        await using var node = new ScriptedKilnNode(async (peer, ct) =>
        {
            await ReadHelloAndJobAsync(peer);

            // The node answers only once the client's work ran: it ran while the node had the job.
            waitedForIt = await Task.WhenAny(signalled.Task, Task.Delay(TimeSpan.FromSeconds(10), ct)) == signalled.Task;
            await peer.SendAsync(Welcome(), Error(KilnErrorCode.NodeFailure, "answered"));
            await peer.ReadFrameAsync();
        });
        using var client = NewClient(synchronous);
        var request = ProtocolTestKit.SmallRequest() with
        {
            WhileCompiling = () =>
            {
                Interlocked.Increment(ref ran);
                signalled.TrySetResult();
            },
        };
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node.EndPoint), request, CancellationToken.None);
        Assert.Contains("answered", reply.Message, StringComparison.Ordinal);
        Assert.True(waitedForIt, "WhileCompiling did not run before the reply");
        Assert.Equal(1, ran);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NodeFailureErrorGivesFailedWithTheNodesMessage(bool synchronous)
    {
        await using var node = new ScriptedKilnNode(async (peer, ct) =>
        {
            await ReadHelloAndJobAsync(peer);
            await peer.SendAsync(Welcome(), Error(KilnErrorCode.NodeFailure, "disk full in /var/kiln"));
            await peer.ReadFrameAsync();
        });
        using var client = NewClient(synchronous);
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node.EndPoint), ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.StartsWith($"node 127.0.0.1:{node.EndPoint.Port}: disk full in /var/kiln", reply.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NodeThatClosesWithoutReplyGivesFailed(bool synchronous)
    {
        await using var node = new ScriptedKilnNode(async (peer, ct) => await ReadHelloAndJobAsync(peer));
        using var client = NewClient(synchronous);
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node.EndPoint), ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.StartsWith($"node 127.0.0.1:{node.EndPoint.Port}: ", reply.Message, StringComparison.Ordinal);
        await node.Completion;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NodeThatSendsGarbageGivesProtocolError(bool synchronous)
    {
        await using var node = new ScriptedKilnNode(async (peer, ct) =>
        {
            await ReadHelloAndJobAsync(peer);
            await peer.SendAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
            await peer.ReadFrameAsync();
        });
        using var client = NewClient(synchronous);
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node.EndPoint), ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains("protocol error", reply.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NodeThatNeverAnswersTimesOut(bool synchronous)
    {
        await using var node = new ScriptedKilnNode(async (peer, ct) =>
        {
            await ReadHelloAndJobAsync(peer);
            await Task.Delay(Timeout.Infinite, ct);
        });
        using var client = NewClient(synchronous, new KilnClientOptions { IoTimeout = TimeSpan.FromMilliseconds(500) });
        var started = System.Diagnostics.Stopwatch.StartNew();
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node.EndPoint), ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains("no reply within 0.5 s", reply.Message, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UnreachableNodeGivesFailedNamingTheNode(bool synchronous)
    {
        // A port that was just free: nothing listens there now.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var endPoint = (IPEndPoint)probe.LocalEndpoint;
        probe.Stop();

        using var client = NewClient(synchronous);
        var reply = await client.CompileAsync(ProtocolTestKit.Host(endPoint), ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.StartsWith($"node 127.0.0.1:{endPoint.Port}: cannot connect", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DistccHostIsNotSentKilnFrames()
    {
        using var client = new KilnProtocolClient();
        var host = ProtocolTestKit.Host(new IPEndPoint(IPAddress.Loopback, 1)) with { Protocol = HostProtocol.Distcc };
        var reply = await client.CompileAsync(host, ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains("not a Kiln protocol TCP host", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EarlyResultStopsTheInputWithAnEmptyLastFrame()
    {
        // More than loopback's socket buffers hold (a few MiB), so the client is still sending when RESULT arrives.
        var input = new byte[32 << 20];
        new Random(5).NextBytes(input);
        long inputSeen = 0;
        (KilnFrameType Type, KilnFrameFlags Flags, byte[] Payload)? lastFrame = null;
        await using var node = new ScriptedKilnNode(async (peer, ct) =>
        {
            await ReadHelloAndJobAsync(peer);

            // Answer at once, as a cache hit will, before reading any INPUT.
            var result = new KilnResult(0, default, default, "cached object"u8.ToArray(), []);
            var writer = new System.Buffers.ArrayBufferWriter<byte>();
            result.WriteFrame(writer);
            await peer.SendAsync(Welcome(), writer.WrittenSpan.ToArray());
            while (true)
            {
                var frame = await peer.ReadFrameAsync();
                Assert.Equal(KilnFrameType.Input, frame!.Value.Type);
                inputSeen += frame.Value.Payload.Length;
                if (frame.Value.Flags.HasFlag(KilnFrameFlags.Last))
                {
                    lastFrame = frame;
                    break;
                }
            }
        });
        using var client = new KilnProtocolClient(new KilnClientOptions { WriteGroupBytes = 64 << 10, ChunkSize = 64 << 10 });
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node.EndPoint), ProtocolTestKit.SmallRequest() with { Preprocessed = input }, CancellationToken.None);
        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        Assert.Equal("cached object"u8.ToArray(), reply.Outcome!.Object.ToArray());
        await node.Completion;
        Assert.True(inputSeen < input.Length, $"the client sent all {inputSeen} bytes after the early RESULT");
        Assert.Empty(lastFrame!.Value.Payload);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StaleIdleConnectionIsReplacedTransparently(bool synchronous)
    {
        await using var node = await TestKit.TestNode.StartAsync(configure: o => o.KilnProtocol.IdleTimeout = TimeSpan.FromMilliseconds(300), plaintextLoopback: synchronous);
        using var client = NewClient(synchronous);
        var host = synchronous ? ProtocolTestKit.Host(node.Node.KilnEndPoint) : ProtocolTestKit.Host(node);
        var first = await client.CompileAsync(host, ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.Equal(RemoteStatus.Completed, first.Status);

        // The node drops the idle connection; the next job must still succeed, on a new one.
        await TestKit.Wait.UntilAsync(() => client.IdleConnectionLooksClosed(host.Display), "the node to close the idle connection");
        var second = await client.CompileAsync(host, ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.True(second.Status == RemoteStatus.Completed, $"{second.Status}: {second.Message}");
        Assert.Equal(2, client.ConnectionsOpened);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
    }
    [Fact]
    public async Task OnTheSynchronousWayAReplySlowerThanTheWaitIsStillRead()
    {
        // The node answers 400 ms after the job; the client blocks for 50 ms at most, then awaits the rest.
        var result = new KilnResult(0, default, default, "\x7fELF slow"u8.ToArray(), []);
        await using var node = new ScriptedKilnNode(async (peer, ct) =>
        {
            await ReadHelloAndJobAsync(peer);
            await peer.SendAsync(Welcome());
            await Task.Delay(400, ct);
            var writer = new System.Buffers.ArrayBufferWriter<byte>();
            result.WriteFrame(writer);
            await peer.SendAsync(writer.WrittenSpan.ToArray());
            await peer.ReadFrameAsync();
        });
        using var client = new KilnProtocolClient(new KilnClientOptions { SynchronousReplyWait = TimeSpan.FromMilliseconds(50) });
        var call = client.CompileAsync(ProtocolTestKit.Host(node.EndPoint), ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.False(call.IsCompleted, "the call blocked past its synchronous wait");
        var reply = await call;
        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        Assert.Equal("\x7fELF slow"u8.ToArray(), reply.Outcome!.Object.ToArray());
    }

    [Fact]
    public async Task OnTheSynchronousWayJobsShareOneConnectionAndAPreparedConnect()
    {
        await using var node = await TestKit.TestNode.StartAsync(plaintextLoopback: true);
        using var client = NewClient(synchronous: true);
        var host = ProtocolTestKit.Host(node.Node.KilnEndPoint);
        client.Prepare(host);
        for (var i = 0; i < 3; i++)
        {
            var call = client.CompileAsync(host, ProtocolTestKit.SmallRequest(value: i), CancellationToken.None);
            Assert.True(call.IsCompleted, "a fast plaintext reply is read on the calling thread");
            var reply = await call;
            Assert.True(reply.Status == RemoteStatus.Completed && reply.Outcome!.ExitCode == 0, $"{reply.Status}: {reply.Message}");
        }

        Assert.Equal(1, client.ConnectionsOpened);
        Assert.Equal(3, node.Node.Counters.KilnJobs);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
    }
}
