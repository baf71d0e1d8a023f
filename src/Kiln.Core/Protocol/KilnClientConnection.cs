using System.Net.Sockets;

namespace Kiln.Core.Protocol;

/// <summary>One client connection to a node: the socket, a stream for reads, and the node's WELCOME once it came.</summary>
internal sealed class KilnClientConnection(Socket socket) : IDisposable
{
    public Socket Socket { get; } = socket;

    public NetworkStream Stream { get; } = new(socket, ownsSocket: true);

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

    public void Dispose() => Stream.Dispose();
}
