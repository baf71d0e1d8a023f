using Kiln.Core.Hosts;
using Kiln.Core.Remote;

namespace Kiln.Cli.Cc;

/// <summary>Chooses the protocol client for a host: the Kiln protocol, or distcc's.</summary>
internal static class RemoteClients
{
    private static readonly UnavailableProtocolClient s_unavailable = new();

    /// <summary>The client that speaks <paramref name="host"/>'s protocol.</summary>
    public static IRemoteCompileClient For(HostSpec host)
    {
        // PLACEHOLDER until the merge: the lead wires the two protocol clients written on other branches:
        //   host.Protocol == HostProtocol.Kiln   -> Kiln.Core.Protocol.KilnProtocolClient
        //   host.Protocol == HostProtocol.Distcc -> Kiln.Core.Distcc.DistccClient
        // Until then every host reports Failed("protocol client not built in"), so compiles back the
        // host off and run locally (or fail under KILN_FALLBACK=0).
        _ = host;
        return s_unavailable;
    }
}
