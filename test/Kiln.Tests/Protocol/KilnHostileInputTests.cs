using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Protocol;

/// <summary>
/// A node under hostile or broken peers: each case gets a clear ERROR (when it can be sent) and a
/// closed connection or a refused job, and the node then still compiles a valid job.
/// </summary>
public sealed class KilnHostileInputTests
{
    private static byte[] Hex(string spaced) => Convert.FromHexString(spaced.Replace(" ", "", StringComparison.Ordinal));

    private static async Task<KilnError> ExpectConnectionErrorAsync(TestNode node, params byte[][] frames)
    {
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(frames);
        var error = await peer.ReadErrorAndCloseAsync();
        Assert.True(KilnProtocol.ClosesConnection(error.Code), $"{error.Code} should close the connection");
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        await Wait.UntilAsync(() => node.Node.Counters.ProtocolErrors == 1, "the node to count one protocol error");
        return error;
    }

    [Fact]
    public async Task TruncatedFrameGetsMalformedFrameError()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        await using (var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint))
        {
            await peer.SendAsync(RawKilnPeer.Hello());
            await peer.ReadWelcomeAsync();
            var job = RawKilnPeer.Job("gcc", ["-O2"], 10);
            await peer.SendAsync(job[..(job.Length / 2)]);
            peer.ShutdownSend();
            var frame = await peer.ReadFrameAsync();
            Assert.Equal(KilnFrameType.Error, frame!.Value.Type);
            Assert.True(KilnError.TryParse(frame.Value.Payload, out var error, out _));
            Assert.Equal(KilnErrorCode.MalformedFrame, error.Code);
            Assert.Contains("ended inside a JOB frame", error.Message, StringComparison.Ordinal);
            Assert.Null(await peer.ReadFrameAsync());
        }

        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task SyncIsEchoedBetweenJobsAndRefusedInsideAJobsInput()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        await using (var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint))
        {
            // Before HELLO, and after it: the same payload comes back.
            await peer.SendAsync(Hex("0d 00 0000 00000003 616263"));
            var early = await peer.ReadFrameAsync();
            Assert.Equal(KilnFrameType.Sync, early!.Value.Type);
            Assert.Equal("abc"u8.ToArray(), early.Value.Payload.ToArray());
            await peer.SendAsync(RawKilnPeer.Hello());
            await peer.ReadWelcomeAsync();

            // A second HELLO between jobs starts the session over: WELCOME again.
            await peer.SendAsync(RawKilnPeer.Hello());
            await peer.ReadWelcomeAsync();
            await peer.SendAsync(Hex("0d 00 0000 00000000"));
            Assert.Equal(KilnFrameType.Sync, (await peer.ReadFrameAsync())!.Value.Type);
        }

        // Inside a job's input it is no frame boundary the client may use.
        var error = await ExpectConnectionErrorAsync(node, RawKilnPeer.Hello(), RawKilnPeer.Job("gcc", ["-O2"], 10), Hex("0d 00 0000 00000000"));
        Assert.Equal(KilnErrorCode.UnexpectedFrame, error.Code);

        // Longer than 64 bytes: refused from the header.
        await using (var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint))
        {
            await peer.SendAsync(RawKilnPeer.Hello());
            await peer.ReadWelcomeAsync();
            await peer.SendAsync(Hex("0d 00 0000 00000041"));
            var frame = await peer.ReadFrameAsync();
            Assert.Equal(KilnFrameType.Error, frame!.Value.Type);
            Assert.True(KilnError.TryParse(frame.Value.Payload, out var tooLarge, out _));
            Assert.Equal(KilnErrorCode.FrameTooLarge, tooLarge.Code);
        }

        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task HugeLengthIsRefusedBeforeThePayloadArrives()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);

        // Only the header is sent: the node must answer from the header alone.
        var error = await ExpectConnectionErrorAsync(node, Hex("01 00 0000 ffffffff"));
        Assert.Equal(KilnErrorCode.FrameTooLarge, error.Code);
        Assert.Contains("4294967295", error.Message, StringComparison.Ordinal);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task HugeInputChunkIsRefused()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var error = await ExpectConnectionErrorAsync(node, RawKilnPeer.Hello(), RawKilnPeer.Job("gcc", [], 1 << 20), Hex("04 00 0000 00100000"));
        Assert.Equal(KilnErrorCode.FrameTooLarge, error.Code);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task UnknownFrameTypeIsRefused()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var error = await ExpectConnectionErrorAsync(node, Hex("7f 00 0000 00000004 deadbeef"));
        Assert.Equal(KilnErrorCode.UnknownFrameType, error.Code);
        Assert.Contains("0x7f", error.Message, StringComparison.Ordinal);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task WrongMagicIsRefused()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var hello = RawKilnPeer.Hello();
        "DCC1"u8.CopyTo(hello.AsSpan(KilnFrameHeader.Size));
        var error = await ExpectConnectionErrorAsync(node, hello);
        Assert.Equal(KilnErrorCode.BadMagic, error.Code);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task VersionWithoutOverlapIsRefused()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var error = await ExpectConnectionErrorAsync(node, RawKilnPeer.Hello(min: 2, max: 9));
        Assert.Equal(KilnErrorCode.UnsupportedVersion, error.Code);
        Assert.Contains("2..9", error.Message, StringComparison.Ordinal);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task GarbageBytesAreRefused()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var garbage = new byte[4096];
        new Random(20261121).NextBytes(garbage);
        var error = await ExpectConnectionErrorAsync(node, garbage);
        Assert.True(KilnProtocol.ClosesConnection(error.Code));
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task DistccRequestOnTheKilnPortIsRefused()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var error = await ExpectConnectionErrorAsync(node, "DIST00000001ARGC00000003"u8.ToArray());
        Assert.Equal(KilnErrorCode.UnknownFrameType, error.Code);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task JobBeforeHelloIsRefused()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var error = await ExpectConnectionErrorAsync(node, RawKilnPeer.Job("gcc", [], 0));
        Assert.Equal(KilnErrorCode.UnexpectedFrame, error.Code);
        Assert.Contains("expected HELLO", error.Message, StringComparison.Ordinal);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task InputLargerThanAnnouncedIsRefused()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var error = await ExpectConnectionErrorAsync(node,
            RawKilnPeer.Hello(), RawKilnPeer.Job("gcc", ["-O2"], 10), RawKilnPeer.Input(new byte[20], last: true));
        Assert.Equal(KilnErrorCode.InputSizeMismatch, error.Code);
        Assert.Contains("announced 10", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, node.Node.Counters.CompilesOk + node.Node.Counters.CompilesFailed);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task InputShorterThanAnnouncedIsRefused()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var error = await ExpectConnectionErrorAsync(node,
            RawKilnPeer.Hello(), RawKilnPeer.Job("gcc", ["-O2"], 100), RawKilnPeer.Input(new byte[20], last: true));
        Assert.Equal(KilnErrorCode.InputSizeMismatch, error.Code);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Theory]
    [InlineData("sh")]
    [InlineData("/bin/sh")]
    [InlineData("python3")]
    [InlineData("/usr/bin/python3")]
    [InlineData("../../bin/gcc")]
    public async Task CompilerNotOnTheAllowListIsRefused(string compiler)
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        using var client = new KilnProtocolClient();
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node), ProtocolTestKit.SmallRequest(compiler: compiler), CancellationToken.None);
        Assert.Equal(RemoteStatus.Refused, reply.Status);
        Assert.Contains("allow-list", reply.Message, StringComparison.Ordinal);
        Assert.Contains(compiler, reply.Message, StringComparison.Ordinal);
        Assert.Equal(1, node.Node.Counters.Refused);

        // The refusal ends the job, not the connection: the same client's next job reuses it.
        var ok = await client.CompileAsync(ProtocolTestKit.Host(node), ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.True(ok.Status == RemoteStatus.Completed, $"{ok.Status}: {ok.Message}");
        Assert.Equal(1, client.ConnectionsOpened);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Theory]
    [InlineData("-fplugin=x.so")]
    [InlineData("-specs=x")]
    [InlineData("-B/tmp/evil")]
    [InlineData("@options")]
    public async Task ArgumentThatLoadsCodeIsRefused(string argument)
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        using var client = new KilnProtocolClient();
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node), ProtocolTestKit.SmallRequest(arguments: ["-O2", argument]), CancellationToken.None);
        Assert.Equal(RemoteStatus.Refused, reply.Status);
        Assert.Contains($"argument '{argument}' refused", reply.Message, StringComparison.Ordinal);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task ClientThatConnectsAndStallsIsDisconnected()
    {
        await using var node = await TestNode.StartAsync(configure: o => o.KilnProtocol.HandshakeTimeout = TimeSpan.FromSeconds(1), plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);

        // While the stalled peer waits, the node serves others.
        await ProtocolTestKit.AssertServesAsync(node);
        var frame = await peer.ReadFrameAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(KilnFrameType.Error, frame!.Value.Type);
        Assert.True(KilnError.TryParse(frame.Value.Payload, out var error, out _));
        Assert.Equal(KilnErrorCode.ReadTimeout, error.Code);
        Assert.Contains("waiting for HELLO", error.Message, StringComparison.Ordinal);
        Assert.Null(await peer.ReadFrameAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(1, node.Node.Counters.ProtocolErrors);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task ClientThatStallsInsideItsInputIsDisconnected()
    {
        await using var node = await TestNode.StartAsync(slots: 1, configure: o => o.KilnProtocol.ReadTimeout = TimeSpan.FromSeconds(1), plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.Job("gcc", ["-O2"], 100), RawKilnPeer.Input(new byte[10], last: false));
        await peer.ReadWelcomeAsync();

        // The stalled job holds no slot: the node's single slot compiles for another client meanwhile.
        await ProtocolTestKit.AssertServesAsync(node);
        var frame = await peer.ReadFrameAsync(TimeSpan.FromSeconds(20));
        Assert.True(KilnError.TryParse(frame!.Value.Payload, out var error, out _));
        Assert.Equal(KilnErrorCode.ReadTimeout, error.Code);
        Assert.Contains("after 10 of 100 bytes", error.Message, StringComparison.Ordinal);
        await ProtocolTestKit.AssertServesAsync(node);
        Assert.Equal(1, node.Node.Executor.FreeSlots);
    }

    [Fact]
    public async Task RefusedJobIsAnsweredBeforeItsInputAndTheConnectionCarriesOn()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);

        // No INPUT is sent yet: the refusal must come from JOB alone.
        await peer.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.Job("sh", ["-c", "id"], 1 << 20));
        await peer.ReadWelcomeAsync();
        Assert.True(KilnError.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Error), out var refused, out _));
        Assert.Equal(KilnErrorCode.CompilerNotAllowed, refused.Code);

        // Part of the input, then the empty LAST frame that ends an answered job; then the next job.
        var source = "int seven(void) { return 7; }\n"u8.ToArray();
        await peer.SendAsync(
            RawKilnPeer.Input(new byte[1000], last: false), RawKilnPeer.Input([], last: true),
            RawKilnPeer.Job("gcc", ["-O2"], source.Length), RawKilnPeer.Input(source, last: true));
        Assert.True(KilnResult.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Result), out var result, out var error), error?.Message);
        Assert.Equal(0, result.ExitCode);
        Assert.False(result.Object.IsEmpty);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
    }

    [Fact]
    public async Task InputThatDoesNotMatchItsDigestIsNotCompiled()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        var sent = "int a(void) { return 1; }\n"u8.ToArray();
        var claimed = Kiln.Core.Hashing.Digest.FromBytes("int a(void) { return 2; }\n"u8);
        await peer.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.Job("gcc", ["-O2"], sent.Length, digest: claimed), RawKilnPeer.Input(sent, last: true));
        await peer.ReadWelcomeAsync();
        Assert.True(KilnError.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Error), out var mismatch, out _));
        Assert.Equal(KilnErrorCode.InputDigestMismatch, mismatch.Code);
        Assert.Contains(claimed.Hex, mismatch.Message, StringComparison.Ordinal);
        Assert.Equal(0, node.Node.Counters.CompilesOk);

        // A job error: the same connection compiles the next, honest job.
        await peer.SendAsync(RawKilnPeer.Job("gcc", ["-O2"], sent.Length, digest: Kiln.Core.Hashing.Digest.FromBytes(sent)), RawKilnPeer.Input(sent, last: true));
        Assert.True(KilnResult.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Result), out var result, out _));
        Assert.Equal(0, result.ExitCode);
    }
}
