using System.Net;
using System.Net.Sockets;
using Kiln.Core.Compile;
using Kiln.Core.Protocol;

namespace Kiln.Tests.Protocol;

/// <summary>A Kiln protocol peer on a raw socket that sends whatever bytes a test gives it, valid or not.</summary>
internal sealed class RawKilnPeer : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private RawKilnPeer(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    /// <summary>Wraps a connection a scripted node accepted.</summary>
    public static RawKilnPeer Accepted(TcpClient client) => new(client);

    public static async Task<RawKilnPeer> ConnectAsync(IPEndPoint endPoint)
    {
        var client = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        await client.ConnectAsync(endPoint);
        return new RawKilnPeer(client);
    }

    public async Task SendAsync(params byte[][] parts)
    {
        foreach (var part in parts)
        {
            await _stream.WriteAsync(part);
        }

        await _stream.FlushAsync();
    }

    /// <summary>Ends the sending direction, as a peer that has nothing more to say.</summary>
    public void ShutdownSend() => _client.Client.Shutdown(SocketShutdown.Send);

    /// <summary>Reads one frame, or null at the end of the stream; fails the test after <paramref name="timeout"/>.</summary>
    public async Task<(KilnFrameType Type, KilnFrameFlags Flags, byte[] Payload)?> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        var header = new byte[KilnFrameHeader.Size];
        var got = await _stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cts.Token);
        if (got == 0)
        {
            return null;
        }

        Assert.Equal(header.Length, got);
        Assert.True(KilnFrameHeader.TryRead(header, _ => KilnProtocol.MaxFrameLength, out var h, out var error), error?.Message);
        var payload = new byte[h.Length];
        await _stream.ReadExactlyAsync(payload, cts.Token);
        return (h.Type, h.Flags, payload);
    }

    /// <summary>Reads the ERROR the node sends and then the end of the stream: a closed connection.</summary>
    public async Task<KilnError> ReadErrorAndCloseAsync()
    {
        var frame = await ReadFrameAsync();
        if (frame?.Type == KilnFrameType.Welcome)
        {
            // A valid HELLO before the fault is welcomed first.
            frame = await ReadFrameAsync();
        }

        Assert.NotNull(frame);
        Assert.Equal(KilnFrameType.Error, frame.Value.Type);
        Assert.True(KilnError.TryParse(frame.Value.Payload, out var error, out var malformed), malformed?.Message);
        ShutdownSend();
        Assert.Null(await ReadFrameAsync());
        return error;
    }

    /// <summary>Reads one frame that must be of <paramref name="type"/>.</summary>
    public async Task<byte[]> ReadFrameOfTypeAsync(KilnFrameType type)
    {
        var frame = await ReadFrameAsync();
        Assert.NotNull(frame);
        Assert.True(frame.Value.Type == type, $"expected {type}, got {frame.Value.Type}");
        return frame.Value.Payload;
    }

    /// <summary>Reads the reply frames to HELLO: WELCOME.</summary>
    public async Task<KilnWelcome> ReadWelcomeAsync()
    {
        var frame = await ReadFrameAsync();
        Assert.NotNull(frame);
        Assert.Equal(KilnFrameType.Welcome, frame.Value.Type);
        Assert.True(KilnWelcome.TryParse(frame.Value.Payload, out var welcome, out _));
        return welcome;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
    }

    public static byte[] Hello(ushort min = KilnProtocol.MinVersion, ushort max = KilnProtocol.Version, string token = "")
    {
        var hello = new KilnHello(min, max, KilnCapabilities.None, token, "raw-test-peer");
        var bytes = new byte[hello.FrameLength];
        hello.WriteFrame(bytes);
        return bytes;
    }

    public static byte[] Job(string compiler, IReadOnlyList<string> arguments, long inputSize, SourceLanguage language = SourceLanguage.PreprocessedC, Kiln.Core.Hashing.Digest? digest = null)
    {
        var job = new KilnJob { InputSize = inputSize, InputDigest = digest, Language = language, Compiler = compiler, Arguments = arguments, SourceName = "raw.c" };
        var bytes = new byte[job.FrameLength];
        job.WriteFrame(bytes);
        return bytes;
    }

    /// <summary>A JOB sent ahead of its input (flagged AHEAD: no key, digest or size).</summary>
    public static byte[] AheadJob(string compiler, IReadOnlyList<string> arguments, SourceLanguage language = SourceLanguage.PreprocessedC)
    {
        var job = new KilnJob { Ahead = true, InputSize = 0, Language = language, Compiler = compiler, Arguments = arguments, SourceName = "raw.c" };
        var bytes = new byte[job.FrameLength];
        job.WriteFrame(bytes);
        return bytes;
    }

    public static byte[] Input(ReadOnlySpan<byte> data, bool last, bool abandon = false)
    {
        var bytes = new byte[KilnFrameHeader.Size + data.Length];
        var flags = (last ? KilnFrameFlags.Last : KilnFrameFlags.None) | (abandon ? KilnFrameFlags.Abandon : KilnFrameFlags.None);
        new KilnFrameHeader(KilnFrameType.Input, flags, data.Length).Write(bytes);
        data.CopyTo(bytes.AsSpan(KilnFrameHeader.Size));
        return bytes;
    }
}
