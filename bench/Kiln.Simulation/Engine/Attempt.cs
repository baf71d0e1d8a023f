namespace Kiln.Simulation.Engine;

/// <summary>One copy of a job sent to one node. A job has more than one only when Kiln races a straggler.</summary>
internal sealed class Attempt(JobState job, NodeState node, double sentAt)
{
    /// <summary>The job this is a copy of.</summary>
    public JobState Job { get; } = job;

    /// <summary>The node it went to.</summary>
    public NodeState Node { get; } = node;

    /// <summary>When the client sent it.</summary>
    public double SentAt { get; } = sentAt;

    /// <summary>Where it is.</summary>
    public AttemptState State { get; set; } = AttemptState.InFlight;

    /// <summary>The node's served-work counter at which it finishes (set when it starts running).</summary>
    public double Target { get; set; }

    /// <summary>distcc's lock: which of the host's slots this client holds for it (-1: none).</summary>
    public int Slot { get; set; } = -1;

    /// <summary>Set once the client has stopped waiting for it (its result, BUSY, failure or withdrawal),
    /// so the placement's bookkeeping is released exactly once.</summary>
    public bool Ended { get; set; }
}
