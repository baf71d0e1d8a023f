using System.Net;
using Kiln.Server.Compile;
using Kiln.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Kiln.Server.Discovery;

/// <summary>
/// <c>GET /api/nodes</c>: this node and the peers it found by DNS-SD, so a client on a network
/// without multicast can start from one seed node (<c>KILN_SEEDS</c>, <c>kiln hosts --seed</c>).
/// </summary>
internal static class DiscoveryEndpoints
{
    public static void Map(WebApplication app) =>
        app.MapGet("/api/nodes", (KilnNodeOptions options, NodeListeners listeners, CompileExecutor executor, PeerDirectory peers) =>
            Results.Json(Nodes(options, listeners, executor, peers), DiscoveryJsonContext.Default.ListKnownNode));

    public static List<KnownNode> Nodes(KilnNodeOptions options, NodeListeners listeners, CompileExecutor executor, PeerDirectory peers)
    {
        var kiln = listeners.Kiln?.IPEndPoint ?? options.Listen;
        var address = options.Advertise.Count > 0 ? options.Advertise[0]
            : kiln.Address.Equals(IPAddress.Any) ? Core.Discovery.MulticastDns.DefaultInterfaceAddresses()[0]
            : kiln.Address;
        var self = NodeAdvertisement.Registrations(
            options.NodeName, NodeAdvertisement.HostLabel(options.NodeName) + ".local", kiln.Port,
            listeners.Distcc?.IPEndPoint?.Port, executor.Slots, executor.FreeSlots, peers.Compilers ?? CompilerFacts.None, options.Tags, options.ResultCache)[0];
        var nodes = new List<KnownNode> { new(options.NodeName, address.ToString(), kiln.Port, "self", self.Attributes.ToDictionary()) };
        foreach (var peer in peers.Peers)
        {
            if (peer.Instance != options.NodeName)
            {
                nodes.Add(new KnownNode(peer.Instance, peer.Address, peer.Port, "zeroconf", peer.Attributes));
            }
        }

        return nodes;
    }
}
