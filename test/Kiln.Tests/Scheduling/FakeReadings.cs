using Kiln.Server.Scheduling;

namespace Kiln.Tests.Scheduling;

/// <summary>A machine whose load, memory and disk the test sets.</summary>
internal sealed class FakeReadings : IHostReadings
{
    public HostReading Reading { get; set; } = new(0.1, 8L << 30, 100L << 30);

    public HostReading Read(string jobDirectory) => Reading;
}
