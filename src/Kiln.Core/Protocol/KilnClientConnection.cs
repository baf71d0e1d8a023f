using System.Net.Sockets;

namespace Kiln.Core.Protocol;

/// <summary>
/// One client connection to a node: the socket, the stream frames travel on (TLS over the socket, or
/// the socket itself for a loopback <c>,plain</c> host), and the node's WELCOME once it came.
/// </summary>
internal sealed class KilnClientConnection(Socket socket, Stream stream, bool secure) : IDisposable
{
    public Socket Socket { get; } = socket;

    /// <summary>The stream every frame is read from and, when <see cref="Secure"/>, written to.</summary>
    public Stream Stream { get; } = stream;

    /// <summary>True when <see cref="Stream"/> is TLS: writes go through it, not straight to the socket.</summary>
    public bool Secure { get; } = secure;

    /// <summary>The 8 bytes every frame header is read into.</summary>
    public byte[] Header { get; } = new byte[KilnFrameHeader.Size];

    /// <summary>The node's WELCOME, after HELLO was answered on this connection.</summary>
    public KilnWelcome? Welcome { get; set; }

    /// <summary>True when the node closed the connection or sent something unasked while it was idle.</summary>
    public bool LooksClosed()
    {
        try
        {
            return Socket.Poll(0, SelectMode.SelectRead);
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
        Socket.Dispose();
    }
}
