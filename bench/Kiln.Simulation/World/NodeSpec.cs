namespace Kiln.Simulation.World;

/// <summary>One compile node as the world generator made it.</summary>
/// <param name="Id">Index in the host list (the order every distcc client lists the hosts in).</param>
/// <param name="Cores">Cores, which is also the slot count every policy is told (distcc's <c>host/N</c>,
/// icecream's max jobs, Kiln's advertised slots).</param>
/// <param name="Speed">Compile speed relative to the machine the job sizes were measured on.</param>
/// <param name="IsWorkstation">Whether a person uses this machine too (its owner's load comes and goes).</param>
internal sealed record NodeSpec(int Id, int Cores, double Speed, bool IsWorkstation);
