using Kiln.Core.Hosts;
using Kiln.Core.Remote;

namespace Kiln.Cli.Cc;

/// <summary>
/// PLACEHOLDER (the only one): stands in for Kiln.Core.Protocol.KilnProtocolClient and
/// Kiln.Core.Distcc.DistccClient until they are merged; every attempt fails, as an unreachable host does.
/// </summary>
internal sealed class UnavailableProtocolClient : IRemoteCompileClient
{
    /// <inheritdoc/>
    public Task<RemoteCompileReply> CompileAsync(HostSpec host, RemoteCompileRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(RemoteCompileReply.Fail("protocol client not built in"));
}
