namespace Kiln.Server.Scheduling;

/// <summary>
/// What the machine under a node looks like now: the 1-minute load average, memory available to new
/// processes, and free space where jobs run. Null fields could not be read.
/// </summary>
public sealed record HostReading(double? LoadAverage, long? AvailableMemoryBytes, long? FreeDiskBytes);
