namespace Kiln.Server.Accounting;

/// <summary>A node's slots and load as the dashboard shows it.</summary>
/// <param name="Name">The node's name.</param>
/// <param name="Slots">Compile slots.</param>
/// <param name="FreeSlots">Slots free now.</param>
/// <param name="Running">Compiles running now.</param>
/// <param name="Load">The machine's one-minute load average.</param>
/// <param name="SeenMs">When this was true, in milliseconds since 1970.</param>
public sealed record NodeReport(string Name, int Slots, int FreeSlots, long Running, double Load, long SeenMs);
