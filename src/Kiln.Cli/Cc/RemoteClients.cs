using Kiln.Core.Distcc;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;

namespace Kiln.Cli.Cc;

/// <summary>Chooses the protocol client for a host: the Kiln protocol, or distcc's.</summary>
internal static class RemoteClients
{
    // One of each per process: `kiln cc` runs one compile, so they live as long as it does. KILN_TOKEN
    // is the identity a node shares its slots fairly by.
    private static readonly Lazy<KilnProtocolClient> s_kiln = new(() => new KilnProtocolClient(new KilnClientOptions
    {
        Token = Environment.GetEnvironmentVariable("KILN_TOKEN") ?? "",
    }));

    private static readonly Lazy<DistccClient> s_distcc = new(() => new DistccClient());

    /// <summary>The client that speaks <paramref name="host"/>'s protocol.</summary>
    public static IRemoteCompileClient For(HostSpec host) =>
        host.Protocol == HostProtocol.Distcc ? s_distcc.Value : s_kiln.Value;

    /// <summary>Handshakes with Kiln nodes on the same client (so a handshake's connection carries the job).</summary>
    public static INodeHandshake Handshake { get; } = new KilnHandshake(s_kiln.Value);
}
