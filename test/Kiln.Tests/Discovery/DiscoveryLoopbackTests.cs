using System.Net;
using System.Net.Sockets;
using Kiln.Core.Discovery;
using Kiln.Server.Discovery;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Discovery;

/// <summary>
/// A node announcing on loopback only (--advertise 127.0.0.1) and the browser querying on loopback:
/// multicast never leaves 127.0.0.1.
/// </summary>
[Collection("Discovery on loopback")]
public sealed class DiscoveryLoopbackTests
{
    private static Task<TestNode> StartAnnouncingNodeAsync(string name, bool distcc) =>
        TestNode.StartAsync(slots: 3, distcc: distcc, configure: o =>
        {
            o.NodeName = name;
            o.Zeroconf = true;
            o.Advertise.Add(IPAddress.Loopback);
        });

    private static async Task<IReadOnlyList<DiscoveredService>> BrowseUntilAsync(string instance, int count, IReadOnlyList<string>? types = null)
    {
        IReadOnlyList<DiscoveredService> found = [];
        await Wait.UntilAsync(() =>
        {
            found = ServiceBrowser.BrowseAsync(types ?? [ServiceTypes.Kiln, ServiceTypes.Distcc], [IPAddress.Loopback], TimeSpan.FromMilliseconds(400), CancellationToken.None)
                .GetAwaiter().GetResult().Where(s => s.Instance == instance).ToList();
            return found.Count >= count;
        }, $"{count} services named {instance} on loopback", TimeSpan.FromSeconds(20));
        return found;
    }

    [Fact]
    public async Task Browser_finds_the_nodes_kiln_and_distcc_services_with_their_TXT()
    {
        var name = "loop-" + Guid.NewGuid().ToString("N")[..8];
        await using var node = await StartAnnouncingNodeAsync(name, distcc: true);
        var facts = await CompilerFacts.ProbeAsync("gcc", CancellationToken.None);

        var found = await BrowseUntilAsync(name, 2);

        var kiln = Assert.Single(found, s => s.ServiceType == "_kiln._tcp");
        Assert.Equal(node.Node.KilnEndPoint.Port, kiln.Port);
        Assert.Equal(IPAddress.Loopback, Assert.Single(kiln.Addresses));
        Assert.Equal(NodeAdvertisement.HostLabel(name) + ".local", kiln.HostName);
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["txtvers"] = "1",
                ["node"] = name,
                ["slots"] = "3",
                ["free"] = "3",
                ["targets"] = string.Join(',', facts.Targets),
                ["cc_version"] = facts.Version,
                ["compilers"] = kiln.Attributes.ToDictionary()["compilers"],
                ["protocols"] = "kiln,distcc",
                ["cache"] = "1",
            },
            kiln.Attributes.ToDictionary());

        // The node's compilers, as family:triple:version: its gcc among them.
        Assert.Contains(kiln.Attributes.ToDictionary()["compilers"].Split(','),
            c => c.StartsWith("gcc:", StringComparison.Ordinal) && c.EndsWith(":" + facts.Version.Split('.')[0], StringComparison.Ordinal));

        var distcc = Assert.Single(found, s => s.ServiceType == "_distcc._tcp");
        Assert.Equal(node.Node.DistccEndPoint!.Port, distcc.Port);
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["txtvers"] = "1",
                ["cpus"] = Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["jobs"] = "3",
                ["distcc"] = "kiln",
                ["gnuhost"] = facts.Machine,
                ["cc_version"] = facts.Version,
                ["cc_machine"] = facts.Machine,
            },
            distcc.Attributes.ToDictionary());

        // distcc's +zeroconf browses the subtype of its own compiler: the node is found through it too.
        var bySubtype = await BrowseUntilAsync(name, 1, [MulticastDns.DistccSubtype(facts.Machine, facts.Version)]);
        Assert.Equal(distcc.Port, Assert.Single(bySubtype).Port);
    }

    [Fact]
    public async Task Without_a_distcc_listener_only_kiln_is_announced()
    {
        var name = "loop-" + Guid.NewGuid().ToString("N")[..8];
        await using var node = await StartAnnouncingNodeAsync(name, distcc: false);

        var kiln = Assert.Single(await BrowseUntilAsync(name, 1));
        Assert.Equal("kiln", kiln.Attribute("protocols"));
        var again = await ServiceBrowser.BrowseAsync([ServiceTypes.Distcc], [IPAddress.Loopback], TimeSpan.FromMilliseconds(400), CancellationToken.None);
        Assert.DoesNotContain(again, s => s.Instance == name);
    }

    [Fact]
    public async Task Node_announces_at_start_and_says_goodbye_with_TTL_0_on_stop()
    {
        var name = "loop-" + Guid.NewGuid().ToString("N")[..8];
        var instance = DnsName.Join(name, ServiceTypes.Kiln);
        using var listener = MulticastDns.OpenResponderSocket(IPAddress.Loopback);
        var heard = new List<DnsMessage>();
        using var stopListening = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var listening = ListenAsync(listener, heard, stopListening.Token);

        var node = await StartAnnouncingNodeAsync(name, distcc: false);
        try
        {
            await Wait.UntilAsync(() => Snapshot(heard).Any(m => m.IsResponse && m.Answers.Any(r => r.Ttl > 0 && r.Type == DnsRecordType.Srv && DnsName.Equal(r.Name, instance))),
                "the announcement of " + instance);
            var probes = Snapshot(heard).Where(m => !m.IsResponse && m.Questions.Any(q => DnsName.Equal(q.Name, instance))).ToList();
            Assert.True(probes.Count >= 3, $"{probes.Count} probes heard before the announcement");
            Assert.All(probes, p => Assert.True(p.Questions.All(q => q.Type == DnsRecordType.Any && q.UnicastResponse)));
        }
        finally
        {
            await node.DisposeAsync();
        }

        await Wait.UntilAsync(() => Snapshot(heard).Any(m => m.IsResponse && m.Answers.Any(r => r.Ttl == 0 && r.Type == DnsRecordType.Srv && DnsName.Equal(r.Name, instance))),
            "the goodbye of " + instance, TimeSpan.FromSeconds(10));
        var goodbye = Snapshot(heard).Last(m => m.IsResponse && m.Answers.Any(r => DnsName.Equal(r.Name, instance)));
        Assert.All(goodbye.Answers, r => Assert.Equal(0u, r.Ttl));
        Assert.Contains(goodbye.Answers, r => r.Type == DnsRecordType.Ptr && r.Data == new PtrData(instance));
        await stopListening.CancelAsync();
        await listening;
    }

    [Fact]
    public async Task Garbage_sent_to_the_responder_does_not_stop_it_answering()
    {
        var name = "loop-" + Guid.NewGuid().ToString("N")[..8];
        await using var node = await StartAnnouncingNodeAsync(name, distcc: false);
        await BrowseUntilAsync(name, 1);

        using var sender = MulticastDns.OpenQuerySocket();
        MulticastDns.SetSendInterface(sender, IPAddress.Loopback);
        var random = new Random(1035);
        byte[] loop = Convert.FromHexString("000000000001000000000000c00c000c0001");
        for (var i = 0; i < 200; i++)
        {
            var junk = new byte[random.Next(0, 600)];
            random.NextBytes(junk);
            sender.SendTo(i % 10 == 0 ? loop : junk, MulticastDns.GroupEndPoint);
        }

        Assert.Single(await BrowseUntilAsync(name, 1));
    }

    private static List<DnsMessage> Snapshot(List<DnsMessage> heard)
    {
        lock (heard)
        {
            return [.. heard];
        }
    }

    private static async Task ListenAsync(Socket socket, List<DnsMessage> heard, CancellationToken cancellationToken)
    {
        var buffer = new byte[9000];
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancellationToken);
                if (DnsMessageReader.TryParse(buffer.AsSpan(0, received.ReceivedBytes), out var message, out _))
                {
                    lock (heard)
                    {
                        heard.Add(message);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
