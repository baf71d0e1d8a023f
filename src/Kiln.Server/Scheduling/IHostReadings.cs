namespace Kiln.Server.Scheduling;

/// <summary>Reads the machine's load, memory and disk (the real one from /proc and statfs; tests give their own).</summary>
public interface IHostReadings
{
    /// <summary>Reads the machine now; <paramref name="jobDirectory"/> is where jobs write their files.</summary>
    HostReading Read(string jobDirectory);
}
