namespace Kiln.Simulation.World;

/// <summary>Everything a run needs that does not depend on the policy: nodes, clients, jobs, failures.
/// Every policy runs on the same world for a seed, so their differences are the policies'.</summary>
internal sealed record SimulationWorld(
    int Seed,
    WorldOptions Options,
    IReadOnlyList<NodeSpec> Nodes,
    IReadOnlyList<ClientSpec> Clients,
    IReadOnlyList<JobSpec> Jobs,
    IReadOnlyList<NodeFailure> Failures)
{
    /// <summary>The owner of workstation <paramref name="node"/>, with a random stream of its own.</summary>
    public OwnerActivity CreateOwner(NodeSpec node) =>
        new(HashCode.Combine(Seed, node.Id, 0x0A11), node.Cores, Options.OwnerMeanIdle, Options.OwnerMeanBusy);
}
