namespace Kiln.Simulation.Engine;

/// <summary>Where one copy of a job is.</summary>
internal enum AttemptState
{
    /// <summary>On the wire to the node.</summary>
    InFlight,

    /// <summary>Accepted, waiting at the node for a process (distccd's listen backlog, icecream's preload).</summary>
    Waiting,

    /// <summary>Compiling on the node.</summary>
    Running,

    /// <summary>Compiled and returned.</summary>
    Done,

    /// <summary>Refused with BUSY, or withdrawn because another copy finished first.</summary>
    Cancelled,

    /// <summary>On a node that hung; the client has not noticed yet, or has.</summary>
    Lost,
}
