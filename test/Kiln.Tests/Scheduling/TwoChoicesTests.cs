using Kiln.Cli.Cc;
using Kiln.Core.Hosts;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Scheduling;

/// <summary>
/// The power of two choices as <c>kiln cc</c> scores it: by each node's load per slot once the job is
/// added, (slots − free + 1) / slots from its last WELCOME, so jobs spread in proportion to slots and
/// neither a 1-slot node nor a bigger one is starved.
/// </summary>
public sealed class TwoChoicesTests : IDisposable
{
    private readonly TempDirectory _work = new("kiln-two-choices");

    public void Dispose() => _work.Dispose();

    private static HostSpec Host(int port, int limit) =>
        new() { Text = $"127.0.0.1:{port}/{limit}", Kind = HostKind.Tcp, Host = "127.0.0.1", Port = port, Limit = limit };

    private double Score(HostSpec host) => -(NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30))?.LoadAfterOne ?? 1.0);

    private void Facts(HostSpec host, int slots, int free) =>
        NodeFacts.Write(_work.Path, host, [new("slots", slots.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("free", free.ToString(System.Globalization.CultureInfo.InvariantCulture))]);

    /// <summary>How many of <paramref name="draws"/> choices between the two hosts went to <paramref name="second"/>.</summary>
    private int ChoicesOf(HostSpec first, HostSpec second, int draws, int seed)
    {
        var slots = new HostSlots(_work.Path);
        var random = new Random(seed);
        var toSecond = 0;
        for (var i = 0; i < draws; i++)
        {
            using var lease = slots.TryAcquireChoice([first, second], Score, random);
            Assert.NotNull(lease);
            toSecond += lease.Host.Port == second.Port ? 1 : 0;
        }

        return toSecond;
    }

    [Fact]
    public void Load_after_one_is_slots_less_free_plus_one_over_slots_and_unknown_without_both()
    {
        var host = Host(7001, 2);
        Assert.Null(NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30)));
        Facts(host, slots: 4, free: 1);
        Assert.Equal(1.0, NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30))!.LoadAfterOne);
        Facts(host, slots: 4, free: 4);
        Assert.Equal(0.25, NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30))!.LoadAfterOne);
        Facts(host, slots: 0, free: 1);
        Assert.Null(NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30))!.LoadAfterOne);
        NodeFacts.Write(_work.Path, host, [new("free", "3")]);
        Assert.Null(NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30))!.LoadAfterOne);
    }

    [Fact]
    public void A_two_slot_node_with_both_free_beats_a_one_slot_node_with_its_slot_free()
    {
        var big = Host(7002, 3);
        var small = Host(7003, 2);
        Facts(big, slots: 2, free: 2);
        Facts(small, slots: 1, free: 1);
        Assert.Equal(0, ChoicesOf(big, small, draws: 50, seed: 20261122));
    }

    [Fact]
    public void A_one_slot_node_with_its_slot_free_beats_a_two_slot_node_with_none_free()
    {
        var big = Host(7004, 3);
        var small = Host(7005, 2);
        Facts(big, slots: 2, free: 0);
        Facts(small, slots: 1, free: 1);
        Assert.Equal(50, ChoicesOf(big, small, draws: 50, seed: 11));
    }

    [Fact]
    public void Equal_load_after_one_splits_the_choices_evenly_whatever_the_sizes()
    {
        var big = Host(7006, 3);
        var small = Host(7007, 2);
        Facts(big, slots: 2, free: 1);
        Facts(small, slots: 1, free: 1);

        // A fair coin over 400 draws lies within 150..250 with probability above 0.99999.
        Assert.InRange(ChoicesOf(big, small, draws: 400, seed: 7), 150, 250);
    }
}
