using Kiln.Simulation.Engine;
using Kiln.Simulation.Policies;
using Kiln.Simulation.World;

namespace Kiln.Tests.Simulation;

/// <summary>The compile-farm simulation keeps its books: small worlds, every policy, hangs included.</summary>
public sealed class SimulationInvariantTests
{
    /// <summary>A crowded little farm: 6 clients at make -j16 on 8 nodes, a quarter of which hang.</summary>
    private static readonly WorldOptions Crowded = new()
    {
        Nodes = 8,
        Clients = 6,
        MakeJobs = 16,
        CFiles = 120,
        CppFiles = 40,
        StartSpread = 5,
        FailureShare = 0.25,
        FailureWindow = 10,
        FailureDowntime = 30,
    };

    public static TheoryData<string> Policies() => [.. Enum.GetNames<PolicyKind>()];

    [Theory]
    [MemberData(nameof(Policies))]
    public void EveryJobCompletesExactlyOnce(string policy)
    {
        var world = WorldBuilder.Build(Crowded, seed: 7);
        Assert.NotEmpty(world.Failures);

        var result = new Simulator(world, Enum.Parse<PolicyKind>(policy)).Run();

        Assert.Equal(world.Jobs.Count, result.Completions.Count);
        Assert.All(result.Completions, count => Assert.Equal(1, count));
        Assert.All(result.Makespans, m => Assert.True(m > 0 && double.IsFinite(m), $"build time {m}"));
        Assert.True(result.LostAttempts > 0, "the hung nodes held no job, so the scenario tested nothing");
    }

    [Theory]
    [InlineData(nameof(PolicyKind.Kiln))]
    [InlineData(nameof(PolicyKind.KilnSpeed))]
    public void AdmissionControlKeepsEveryNodeWithinItsSlots(string policyName)
    {
        var policy = Enum.Parse<PolicyKind>(policyName);
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var result = new Simulator(WorldBuilder.Build(Crowded, seed), policy).Run();

            Assert.True(result.MaxRunningOverSlots <= 0, $"seed {seed}: {result.MaxRunningOverSlots} jobs ran beyond a node's slots");
            Assert.True(result.MaxExcess <= 0, $"seed {seed}: {result.MaxExcess} jobs sat on a node beyond its slots");
            Assert.True(result.BusyReplies > 0, $"seed {seed}: no node ever said BUSY, so admission was never tested");
        }
    }

    [Fact]
    public void WithoutAdmissionControlTheSameWorldOverloadsNodes()
    {
        // The same measure on distcc (per-client locks, no refusal at the node) shows the excess the Kiln test rules out.
        var result = new Simulator(WorldBuilder.Build(Crowded, seed: 1), PolicyKind.Distcc).Run();

        Assert.True(result.MaxExcess > 0, "distcc's clients never piled jobs beyond a node's slots");
    }

    [Fact]
    public void TheSameSeedGivesTheSameRunAndAnotherSeedAnother()
    {
        var first = new Simulator(WorldBuilder.Build(Crowded, seed: 11), PolicyKind.Kiln).Run();
        var again = new Simulator(WorldBuilder.Build(Crowded, seed: 11), PolicyKind.Kiln).Run();
        var other = new Simulator(WorldBuilder.Build(Crowded, seed: 12), PolicyKind.Kiln).Run();

        Assert.Equal(first.Makespans, again.Makespans);
        Assert.Equal(first.Events, again.Events);
        Assert.Equal(first.BusyReplies, again.BusyReplies);
        Assert.NotEqual(first.Makespans, other.Makespans);
    }
}
