using System.Net.Sockets;

namespace Kiln.Core.Protocol;

/// <summary>
/// One client connection to a node: the socket (.NET's, or on the synchronous way a
/// <see cref="RawTcpSocket"/>), the stream frames travel on (TLS over the socket, or the socket itself
/// for a loopback <c>,plain</c> host), and the node's WELCOME once it came.
/// </summary>
internal sealed class KilnClientConnection : IDisposable
{
    private readonly RawTcpSocket? _raw;

    public KilnClientConnection(Socket socket, Stream stream, bool secure)
    {
        Socket = socket;
        Stream = stream;
        Secure = secure;
    }

    /// <summary>A plaintext connection on the synchronous way.</summary>
    public KilnClientConnection(RawTcpSocket raw)
    {
        _raw = raw;
        Stream = new RawTcpSocket.RawStream(raw);
    }

    /// <summary>.NET's socket, or null for a <see cref="RawTcpSocket"/> connection (which only the synchronous way uses).</summary>
    public Socket? Socket { get; }

    /// <summary>The stream every frame is read from and, when <see cref="Secure"/>, written to.</summary>
    public Stream Stream { get; }

    /// <summary>True when <see cref="Stream"/> is TLS: writes go through it, not straight to the socket.</summary>
    public bool Secure { get; }

    /// <summary>The 8 bytes every frame header is read into.</summary>
    public byte[] Header { get; } = new byte[KilnFrameHeader.Size];

    /// <summary>True when the connection is to the agent, which splices it onto a TLS connection to the node.</summary>
    public bool ViaAgent { get; init; }

    /// <summary>The node's WELCOME, after HELLO was answered on this connection.</summary>
    public KilnWelcome? Welcome { get; set; }

    /// <summary>Bounds each blocking send and read by <paramref name="timeout"/> (the synchronous way's only deadline).</summary>
    public void BlockingTimeout(TimeSpan timeout)
    {
        if (_raw is not null)
        {
            _raw.Timeout = timeout;
        }
        else if (Socket!.ReceiveTimeout == 0)
        {
            Socket.ReceiveTimeout = Socket.SendTimeout = (int)Math.Min(int.MaxValue, timeout.TotalMilliseconds);
        }
    }

    /// <summary>Sends every byte with blocking calls (plaintext only).</summary>
    public void SendBlocking(IReadOnlyList<ArraySegment<byte>> buffers)
    {
        if (_raw is not null)
        {
            foreach (var b in buffers)
            {
                _raw.Send(b);
            }

            return;
        }

        var expected = 0;
        foreach (var b in buffers)
        {
            expected += b.Count;
        }

        var sent = Socket!.Send(buffers as IList<ArraySegment<byte>> ?? [.. buffers]);
        if (sent != expected)
        {
            throw new IOException($"the socket took {sent} of {expected} bytes");
        }
    }

    /// <summary>True when bytes (or the end) can be read within <paramref name="patience"/>.</summary>
    public bool PollReadable(TimeSpan patience) => _raw?.PollReadable(patience) ?? Socket!.Poll(patience, SelectMode.SelectRead);

    /// <summary>True when the node closed the connection or sent something unasked while it was idle.</summary>
    public bool LooksClosed()
    {
        try
        {
            return PollReadable(TimeSpan.Zero);
        }
        catch (SocketException)
        {
            return true;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    public void Dispose()
    {
        Stream.Dispose();
        Socket?.Dispose();
        _raw?.Dispose();
    }
}
