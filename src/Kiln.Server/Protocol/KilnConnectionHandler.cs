using Kiln.Server.Compile;
using Kiln.Server.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Protocol;

/// <summary>
/// Kestrel's entry point for the Kiln protocol listener (port 3635): runs one <see cref="KilnSession"/>
/// per connection on the connection's pipes.
/// </summary>
public sealed class KilnConnectionHandler(
    CompileExecutor executor, KilnNodeOptions nodeOptions, KilnSessionOptions sessionOptions, CompileCache.CompileResultCache cache,
    ILogger<KilnConnectionHandler> logger)
    : ConnectionHandler
{
    /// <inheritdoc/>
    public override Task OnConnectedAsync(ConnectionContext connection)
    {
        var peer = connection.RemoteEndPoint?.ToString() ?? connection.ConnectionId;
        var session = new KilnSession(executor, sessionOptions, nodeOptions.NodeName, logger, connection.Transport, peer, cache);
        return session.RunAsync(connection.ConnectionClosed);
    }
}
