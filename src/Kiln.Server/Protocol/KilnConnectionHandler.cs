using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kiln.Server.Compile;
using Kiln.Server.Hosting;
using Kiln.Server.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Protocol;

/// <summary>
/// Kestrel's entry point for the Kiln protocol listener (port 3635): runs one <see cref="KilnSession"/>
/// per connection on the connection's pipes (TLS already unwrapped by <see cref="KilnTransportSecurity"/>).
/// </summary>
public sealed class KilnConnectionHandler(
    CompileExecutor executor, KilnNodeOptions nodeOptions, KilnSessionOptions sessionOptions, CompileCache.CompileResultCache cache,
    NodeAuthenticator authenticator, AuditLog audit,
    ILogger<KilnConnectionHandler> logger)
    : ConnectionHandler
{
    /// <inheritdoc/>
    public override Task OnConnectedAsync(ConnectionContext connection)
    {
        string peer;
        IPAddress? address;
        if (connection.LocalEndPoint is UnixDomainSocketEndPoint)
        {
            // The local socket: only the node's user and root can open it (its directory is 0700). Such a
            // peer is authenticated as a loopback one would be (trusted until tokens exist, then by token).
            peer = LocalPeer(connection);
            address = IPAddress.Loopback;
        }
        else
        {
            peer = connection.RemoteEndPoint?.ToString() ?? connection.ConnectionId;
            address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        }

        var access = KilnSessionAccess.Network(authenticator, audit, address, peer, connection.Features.Get<PeerCertificateFeature>()?.Fingerprint);
        var session = new KilnSession(executor, sessionOptions, nodeOptions.NodeName, logger, connection.Transport, peer, nodeOptions.ResultCache ? cache : null, access);
        var lifetime = connection.Features.Get<IConnectionLifetimeNotificationFeature>();
        return session.RunAsync(connection.ConnectionClosed, lifetime?.ConnectionClosedRequested ?? default);
    }

    /// <summary>A local-socket peer as the audit log names it: <c>local:pid=N,uid=N</c> from SO_PEERCRED.</summary>
    private static string LocalPeer(ConnectionContext connection) =>
        connection.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket && Kiln.Core.Protocol.UnixPeerCredentials.Of(socket.Handle) is { } peer
            ? string.Create(CultureInfo.InvariantCulture, $"local:pid={peer.ProcessId},uid={peer.UserId}")
            : "local:" + connection.ConnectionId;
}
