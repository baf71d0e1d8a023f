using Kiln.Simulation.Engine;
using Kiln.Simulation.Policies;
using Kiln.Simulation.World;

namespace Kiln.Simulation.Results;

/// <summary>What one run measured.</summary>
/// <param name="Policy">The policy.</param>
/// <param name="Nodes">Nodes in the world.</param>
/// <param name="Seed">The world's seed.</param>
/// <param name="Makespans">Each client's build time, start to end of link (seconds).</param>
/// <param name="Stretches">Each client's build time over its ideal: its compiles' CPU time spread over
/// make -jN speed-1.0 cores, plus its link.</param>
/// <param name="OverloadShare">Share of node-time with more runnable processes than cores.</param>
/// <param name="MaxExcess">Most remote jobs present on one node beyond its slots (running + waiting − cores).</param>
/// <param name="MaxRunningOverSlots">Most remote jobs running on one node beyond its slots.</param>
/// <param name="OwnerLoss">Share of the CPU workstation owners wanted that they did not get.</param>
/// <param name="NodesUsed">Share of nodes that ran at least one job.</param>
/// <param name="Utilisation">Remote slot-seconds over all slot-seconds, to the end of the last build.</param>
/// <param name="LocalFallbacks">Compiles the clients did themselves.</param>
/// <param name="LostAttempts">Copies lost on hung nodes.</param>
/// <param name="WastedWork">Remote CPU seconds thrown away (hung nodes, withdrawn race copies).</param>
/// <param name="BusyReplies">BUSY answers.</param>
/// <param name="Races">Second copies sent for stragglers.</param>
/// <param name="Completions">Per job, how many times make got its result.</param>
/// <param name="Events">Events simulated.</param>
internal sealed record RunResult(
    PolicyKind Policy,
    int Nodes,
    int Seed,
    IReadOnlyList<double> Makespans,
    IReadOnlyList<double> Stretches,
    double OverloadShare,
    int MaxExcess,
    int MaxRunningOverSlots,
    double OwnerLoss,
    double NodesUsed,
    double Utilisation,
    int LocalFallbacks,
    int LostAttempts,
    double WastedWork,
    int BusyReplies,
    int Races,
    IReadOnlyList<int> Completions,
    long Events)
{
    /// <summary>Mean client build time.</summary>
    public double MeanMakespan => Makespans.Average();

    /// <summary>The slowest client's build time.</summary>
    public double MaxMakespan => Makespans.Max();

    /// <summary>Jain's index over the clients' throughput relative to their entitlement (1 / stretch).</summary>
    public double Jain => Fairness.Jain([.. Stretches.Select(s => 1 / s)]);

    /// <summary>Worst over best stretch: how much worse the unluckiest client fared than the luckiest.</summary>
    public double StretchSpread => Stretches.Max() / Stretches.Min();

    /// <summary>Measures a finished run.</summary>
    public static RunResult Measure(Simulator sim, SimulationWorld world)
    {
        var makespans = new double[sim.Clients.Length];
        var stretches = new double[sim.Clients.Length];
        for (var i = 0; i < sim.Clients.Length; i++)
        {
            var client = sim.Clients[i];
            makespans[i] = client.End - client.Spec.Start;
            double cpu = 0;
            for (var j = 0; j < client.Spec.JobCount; j++)
            {
                var job = world.Jobs[client.Spec.FirstJob + j];
                cpu += job.Work + job.Preprocess;
            }
            stretches[i] = makespans[i] / ((cpu / client.Spec.MakeJobs) + client.Spec.Link);
        }
        var end = sim.Now;
        double overload = 0, ownerDemand = 0, ownerDelivered = 0, slotTime = 0, slots = 0, wasted = 0;
        int maxExcess = int.MinValue, maxOver = int.MinValue, used = 0;
        foreach (var node in sim.Nodes)
        {
            overload += node.OverloadTime;
            ownerDemand += node.OwnerDemand;
            ownerDelivered += node.OwnerDelivered;
            slotTime += node.RemoteSlotTime;
            slots += node.Spec.Cores;
            wasted += node.WastedWork;
            maxExcess = Math.Max(maxExcess, node.MaxExcess);
            maxOver = Math.Max(maxOver, node.MaxRunning - node.Spec.Cores);
            used += node.Completed > 0 ? 1 : 0;
        }
        return new RunResult(
            sim.Policy,
            sim.Nodes.Length,
            world.Seed,
            makespans,
            stretches,
            overload / (sim.Nodes.Length * end),
            maxExcess,
            maxOver,
            ownerDemand > 0 ? 1 - (ownerDelivered / ownerDemand) : 0,
            used / (double)sim.Nodes.Length,
            slotTime / (slots * end),
            sim.Clients.Sum(c => c.LocalFallbacks),
            sim.LostAttempts,
            wasted,
            sim.BusyReplies,
            sim.Races,
            [.. sim.Jobs.Select(j => j.Completions)],
            sim.Events.Processed);
    }
}
