using System.Net;
using Kiln.Server.Compile;
using Kiln.Server.Hosting;
using Kiln.Server.Security;
using Microsoft.AspNetCore.Connections;
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
        var peer = connection.RemoteEndPoint?.ToString() ?? connection.ConnectionId;
        var access = KilnSessionAccess.Network(
            authenticator, audit, (connection.RemoteEndPoint as IPEndPoint)?.Address, peer, connection.Features.Get<PeerCertificateFeature>()?.Fingerprint);
        var session = new KilnSession(executor, sessionOptions, nodeOptions.NodeName, logger, connection.Transport, peer, nodeOptions.ResultCache ? cache : null, access);
        return session.RunAsync(connection.ConnectionClosed);
    }
}
