using Kiln.Simulation.Engine;
using Kiln.Simulation.World;

namespace Kiln.Simulation.Policies;

/// <summary>
/// How one system chooses where a job runs, and how its client and daemon behave around that choice:
/// what the node accepts, how long a hung node goes unnoticed, what the client does after a failure.
/// </summary>
internal abstract class Placement(Simulator simulator)
{
    /// <summary>The run this placement belongs to.</summary>
    protected Simulator Sim { get; } = simulator;

    /// <summary>Seconds from a node hanging to the client giving up on a job it had sent there.</summary>
    public abstract double LostDetection { get; }

    /// <summary>Seconds a connection attempt to a hung node takes to fail.</summary>
    public abstract double ConnectTimeout { get; }

    /// <summary>Remote jobs a node runs at once; more wait at the node.</summary>
    public abstract int RunLimit(NodeSpec node);

    /// <summary>CFS weight the node's daemon gives a compiler (its nice level).</summary>
    public abstract int RemoteWeight(NodeSpec node);

    /// <summary>Timers the policy needs (advertisements, straggler checks).</summary>
    public virtual void Start()
    {
    }

    /// <summary>The job is preprocessed: choose a node (or wait, or compile locally).</summary>
    public abstract void Place(JobState job);

    /// <summary>The node's answer to an arriving job: true to take it, false for BUSY.</summary>
    public virtual bool Admit(NodeState node, Attempt attempt) => true;

    /// <summary>The node answered BUSY.</summary>
    public virtual void OnBusy(Attempt attempt) => throw new InvalidOperationException($"{GetType().Name} never refuses");

    /// <summary>The client gave up on <paramref name="attempt"/> (hung node) and its job is not done yet.</summary>
    public abstract void OnFailed(Attempt attempt);

    /// <summary>The client stopped waiting for <paramref name="attempt"/>, whatever the reason (called once).</summary>
    public virtual void OnEnded(Attempt attempt)
    {
    }

    /// <summary>A node has room again or its load changed (a job left, the owner came or went, it came back up).</summary>
    public virtual void OnNodeChanged(NodeState node)
    {
    }

    /// <summary>Called once a second per client while it builds (Kiln looks for stragglers).</summary>
    public virtual void OnClientTick(ClientState client)
    {
    }
}
