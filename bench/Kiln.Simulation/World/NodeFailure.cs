namespace Kiln.Simulation.World;

/// <summary>A node that hangs at <paramref name="Down"/> (no reset, no reply: a power cut, a kernel hang, a
/// cable pulled) and is back, empty, at <paramref name="Up"/>.</summary>
internal sealed record NodeFailure(int Node, double Down, double Up);
