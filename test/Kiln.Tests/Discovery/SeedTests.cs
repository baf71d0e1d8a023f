using System.Net;
using System.Net.Http.Json;
using Kiln.Core.Discovery;
using Kiln.Server.Discovery;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Discovery;

/// <summary>GET /api/nodes and <c>kiln hosts --seed</c>: discovery for clients that cannot multicast.</summary>
[Collection("Discovery on loopback")]
public sealed class SeedTests
{
    private static Task<TestNode> StartAsync(string name, bool zeroconf) =>
        TestNode.StartAsync(slots: 2, configure: o =>
        {
            o.NodeName = name;
            o.Zeroconf = zeroconf;
            if (zeroconf)
            {
                o.Advertise.Add(IPAddress.Loopback);
            }
        });

    private static async Task<List<KnownNode>> NodesAsync(TestNode node)
    {
        using var http = new HttpClient();
        return (await http.GetFromJsonAsync($"http://{node.Node.HttpEndPoint}/api/nodes", DiscoveryJsonContext.Default.ListKnownNode))!;
    }

    [Fact]
    public async Task Api_nodes_lists_the_node_itself_and_the_peers_it_found_and_kiln_hosts_seed_prints_them()
    {
        var peerName = "peer-" + Guid.NewGuid().ToString("N")[..8];
        var seedName = "seed-" + Guid.NewGuid().ToString("N")[..8];
        await using var peer = await StartAsync(peerName, zeroconf: true);
        await Wait.UntilAsync(
            () => ServiceBrowser.BrowseAsync([ServiceTypes.Kiln], [IPAddress.Loopback], TimeSpan.FromMilliseconds(300), CancellationToken.None)
                .GetAwaiter().GetResult().Any(s => s.Instance == peerName),
            "the peer to answer on loopback");
        await using var seed = await StartAsync(seedName, zeroconf: true);

        List<KnownNode> nodes = [];
        await Wait.UntilAsync(() => (nodes = NodesAsync(seed).GetAwaiter().GetResult()).Any(n => n.Name == peerName), "the seed to list the peer");

        var self = nodes[0];
        Assert.Equal((seedName, "127.0.0.1", seed.Node.KilnEndPoint.Port, "self"), (self.Name, self.Address, self.Port, self.Source));
        Assert.Equal("2", self.Attributes["slots"]);
        Assert.Equal("kiln", self.Attributes["protocols"]);
        var found = Assert.Single(nodes, n => n.Name == peerName);
        Assert.Equal(("127.0.0.1", peer.Node.KilnEndPoint.Port, "zeroconf", "2"), (found.Address, found.Port, found.Source, found.Attributes["slots"]));

        var run = await Tools.RunAsync(Tools.KilnBinary, ["hosts", "--seed", seed.Node.HttpEndPoint!.ToString()], environment: new Dictionary<string, string?>
        {
            ["KILN_HOSTS"] = "localhost",
            ["KILN_SEEDS"] = "127.0.0.1:1",
        }, timeout: TimeSpan.FromSeconds(60));
        Assert.Equal(0, run.ExitCode);
        var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToList();
        Assert.Contains(lines, l => l is ["list", "local", "localhost", ..]);
        Assert.Contains(lines, l => l[0] == "seed" && l[2] == seedName && l[3] == $"127.0.0.1:{seed.Node.KilnEndPoint.Port}" && l[4].StartsWith("source=self ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l[0] == "seed" && l[2] == peerName && l[3] == $"127.0.0.1:{peer.Node.KilnEndPoint.Port}" && l[4].Contains("source=zeroconf", StringComparison.Ordinal));
        // The dead seed from KILN_SEEDS is reported, and does not stop the others.
        Assert.Contains("seed 127.0.0.1:1:", run.Stderr);
    }

    [Fact]
    public async Task Without_zeroconf_a_node_lists_only_itself()
    {
        await using var node = await StartAsync("alone-" + Guid.NewGuid().ToString("N")[..8], zeroconf: false);
        var nodes = await NodesAsync(node);
        var self = Assert.Single(nodes);
        Assert.Equal(("self", node.Node.KilnEndPoint.Port), (self.Source, self.Port));
    }
}
