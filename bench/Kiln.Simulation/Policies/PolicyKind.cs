namespace Kiln.Simulation.Policies;

/// <summary>The placement policies the simulation compares.</summary>
internal enum PolicyKind
{
    /// <summary>distcc: per-client lock files, slot 0 of every host in list order before slot 1 of any.</summary>
    Distcc,

    /// <summary>distcc with <c>--randomize</c>: the host list shuffled for every compile.</summary>
    DistccRandomize,

    /// <summary>icecream: one scheduler sends each job to the node with the best speed and load score.</summary>
    Icecream,

    /// <summary>Kiln: the better of two random nodes by advertised free slots, BUSY at the node, fair
    /// shares, back-off for failing nodes only, straggler racing.</summary>
    Kiln,

    /// <summary>Kiln with the node's speed in its advertisement: of the two random nodes, one with a free
    /// slot beats one without, and between two with free slots the faster wins.</summary>
    KilnSpeed,
}
