using Kiln.Cli.Cc;
using Kiln.Core.Hosts;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Scheduling;

/// <summary>
/// The power of two choices as <c>kiln cc</c> scores it: by the share of a node's slots that were free
/// when it last said, so jobs spread in proportion to slots and a 1-slot node is not starved by bigger ones.
/// </summary>
public sealed class TwoChoicesTests : IDisposable
{
    private readonly TempDirectory _work = new("kiln-two-choices");

    public void Dispose() => _work.Dispose();

    private static HostSpec Host(int port, int limit) =>
        new() { Text = $"127.0.0.1:{port}/{limit}", Kind = HostKind.Tcp, Host = "127.0.0.1", Port = port, Limit = limit };

    private double Share(HostSpec host) => NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30))?.FreeShare ?? 0.5;

    [Fact]
    public void Free_share_is_free_slots_over_slots_and_unknown_without_both()
    {
        var host = Host(7001, 2);
        Assert.Null(NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30)));
        NodeFacts.Write(_work.Path, host, [new("slots", "4"), new("free", "1")]);
        Assert.Equal(0.25, NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30))!.FreeShare);
        NodeFacts.Write(_work.Path, host, [new("slots", "0"), new("free", "1")]);
        Assert.Null(NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30))!.FreeShare);
        NodeFacts.Write(_work.Path, host, [new("free", "3")]);
        Assert.Null(NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30))!.FreeShare);
    }

    [Fact]
    public void A_one_slot_node_with_its_slot_free_beats_a_two_slot_node_with_one_free()
    {
        var big = Host(7002, 3);
        var small = Host(7003, 2);
        NodeFacts.Write(_work.Path, big, [new("slots", "2"), new("free", "1")]);
        NodeFacts.Write(_work.Path, small, [new("slots", "1"), new("free", "1")]);
        var slots = new HostSlots(_work.Path);
        var random = new Random(20261122);
        for (var i = 0; i < 50; i++)
        {
            using var lease = slots.TryAcquireChoice([big, small], Share, random);
            Assert.NotNull(lease);
            Assert.Equal(small.Port, lease.Host.Port);
        }
    }

    [Fact]
    public void Nodes_with_equal_free_shares_split_the_choices_evenly_whatever_their_size()
    {
        var big = Host(7004, 3);
        var small = Host(7005, 2);
        NodeFacts.Write(_work.Path, big, [new("slots", "2"), new("free", "2")]);
        NodeFacts.Write(_work.Path, small, [new("slots", "1"), new("free", "1")]);
        var slots = new HostSlots(_work.Path);
        var random = new Random(7);
        var toSmall = 0;
        const int Draws = 400;
        for (var i = 0; i < Draws; i++)
        {
            using var lease = slots.TryAcquireChoice([big, small], Share, random);
            toSmall += lease!.Host.Port == small.Port ? 1 : 0;
        }

        // A fair coin over 400 draws lies within 150..250 with probability above 0.99999.
        Assert.InRange(toSmall, 150, 250);
    }
}
