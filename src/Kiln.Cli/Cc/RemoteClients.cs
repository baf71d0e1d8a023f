using Kiln.Core.Distcc;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;

namespace Kiln.Cli.Cc;

/// <summary>Chooses the protocol client for a host: the Kiln protocol, or distcc's.</summary>
internal static class RemoteClients
{
    // One of each per process: `kiln cc` runs one compile, so they live as long as it does.
    private static readonly Lazy<KilnProtocolClient> s_kiln = new(() => new KilnProtocolClient(new KilnClientOptions { ClientName = UserName() }));
    private static readonly Lazy<DistccClient> s_distcc = new(() => new DistccClient());

    /// <summary>The name nodes account this user's jobs to: KILN_USER, else the login name (not authenticated until tokens exist).</summary>
    internal static string UserName() =>
        Environment.GetEnvironmentVariable("KILN_USER") is { Length: > 0 and <= 256 } user ? user : Environment.UserName;

    /// <summary>The client that speaks <paramref name="host"/>'s protocol.</summary>
    public static IRemoteCompileClient For(HostSpec host) =>
        host.Protocol == HostProtocol.Distcc ? s_distcc.Value : s_kiln.Value;
}
