using System.Net;
using Kiln.Server.Hosting;
using Kiln.Tests.Distcc;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Security;

/// <summary>
/// The distcc listener's rows of docs/security.md. The protocol carries no credentials, so there is
/// no role to be wrong: the listener is off unless asked for, and then serves only --allow networks.
/// </summary>
public sealed class DistccAccessTests
{
    [Fact]
    public async Task Distcc_listener_is_off_unless_asked_for()
    {
        Assert.Null(new KilnNodeOptions().Distcc);
        await using var node = await TestNode.StartAsync();
        Assert.Null(node.Node.DistccEndPoint);
    }

    [Fact]
    public async Task Distcc_peer_outside_allow_is_closed_and_audited()
    {
        await using var node = await TestNode.StartAsync(distcc: true, configure: o => o.Allow.Add(IPNetwork.Parse("10.0.0.0/8")));
        try
        {
            var answer = await DistccTestKit.ExchangeAsync(node.Node.DistccEndPoint!, DistccTestKit.Request(1, ["gcc", "-c", "x.c", "-o", "x.o"], "int x;\n"u8.ToArray()));
            Assert.Empty(answer);
        }
        catch (System.Net.Sockets.SocketException)
        {
            // Depending on timing the close arrives as a reset: refused either way.
        }
        await Wait.UntilAsync(() => SecuredNode.AuditLines(node.DataDirectory).Count == 1, "the refused peer to be audited");
        var refusal = SecuredNode.AuditLines(node.DataDirectory)[0];
        Assert.Equal(("distcc", "connect", "refused"), (refusal.GetProperty("listener").GetString(), refusal.GetProperty("action").GetString(), refusal.GetProperty("outcome").GetString()));
        Assert.Contains("10.0.0.0/8", refusal.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, node.Node.Counters.DistccJobs);
    }

    [Fact]
    public async Task Distcc_peer_inside_allow_is_served_and_audited()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        await DistccTestKit.AssertServesValidJobAsync(node.Node.DistccEndPoint!);
        var job = Assert.Single(SecuredNode.AuditLines(node.DataDirectory));
        Assert.Equal(("distcc", "job", "done", "distcc-network-allow-list"),
            (job.GetProperty("listener").GetString(), job.GetProperty("action").GetString(), job.GetProperty("outcome").GetString(), job.GetProperty("name").GetString()));
    }
}
