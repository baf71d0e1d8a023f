using System.Net;
using System.Net.Sockets;
using Kiln.Core.Hosts;

namespace Kiln.Core.Protocol;

/// <summary>
/// A node on this machine reached through its Unix socket (DESIGN.md, Processes: the local listener).
/// The node tells a loopback peer where its socket is (WELCOME's <c>local=</c>); the caller keeps that
/// with its facts of the node and hands it back through <see cref="KilnClientOptions.LocalSocket"/>.
/// The first use in a process connects, and checks with SO_PEERCRED that the process at the other end
/// runs as the user the node said it runs as. From then on the node is spoken to without TCP and
/// without TLS, on the synchronous way: the kernel carries the bytes between two processes of this
/// machine, and the socket's directory lets only the node's user (and root) in. A TLS handshake costs
/// a short-lived <c>kiln cc</c> about 9 ms here, more than the rest of a cache hit (docs/benchmarks.md).
/// </summary>
public sealed partial class KilnProtocolClient
{
    /// <summary>Per node: its local socket when the first connect through it worked, else null.</summary>
    private readonly Dictionary<string, KilnLocalSocket?> _localSockets = new(StringComparer.Ordinal);

    /// <summary>
    /// The local socket <paramref name="host"/> is reached through in this process, or null. Decided once
    /// per process: the first call connects (the connection then waits in <c>_connecting</c> for the job);
    /// when that fails the node is reached by TCP, as before its socket was learned.
    /// </summary>
    private KilnLocalSocket? LocalSocket(HostSpec host)
    {
        if (_options.LocalSocket is null || _options.SynchronousReplyWait <= TimeSpan.Zero || host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Kiln)
        {
            return null;
        }

        lock (_idleLock)
        {
            if (_localSockets.TryGetValue(host.Display, out var decided))
            {
                return decided;
            }
        }

        // A socket that cannot be connected to (the node stopped, or it runs as another user and its
        // directory keeps this one out) leaves the node to TCP. The fact is kept: a failed connect
        // costs microseconds, and the node's next WELCOME says again what is true.
        var local = IsLoopback(host.Host) && _options.LocalSocket(host) is { } known && known.Port == host.EffectivePort
            && known.NetworkNamespace != 0 && known.NetworkNamespace == KilnLocalSocket.CurrentNetworkNamespace()
            && BeginLocalConnect(host, known) is null
                ? known
                : null;
        lock (_idleLock)
        {
            _localSockets[host.Display] = local;
        }

        return local;
    }

    /// <summary>Connects to <paramref name="host"/>'s local socket; the connection waits in <c>_connecting</c> for the job. Returns why it failed, or null.</summary>
    private SocketException? BeginLocalConnect(HostSpec host, KilnLocalSocket local)
    {
        try
        {
            AddConnecting(host, ConnectLocal(local));
            return null;
        }
        catch (SocketException e)
        {
            return e;
        }
    }

    /// <summary>Connects to a node's local socket and checks who listens on it.</summary>
    private RawTcpSocket ConnectLocal(KilnLocalSocket local)
    {
        var socket = RawTcpSocket.ConnectUnix(local.Path);
        if (socket.PeerUserId() is { } uid && uid == local.UserId)
        {
            return socket;
        }

        socket.Dispose();
        _options.Notice?.Invoke(
            $"kiln: WARNING: {local.Path} is not the node's socket (it runs as user {local.UserId}, the socket's owner does not); going by TCP");
        throw new SocketException((int)SocketError.AccessDenied);
    }

    private static bool IsLoopback(string host) =>
        IPAddress.TryParse(host, out var address) ? IPAddress.IsLoopback(address) : host.Equals("localhost", StringComparison.OrdinalIgnoreCase);
}
