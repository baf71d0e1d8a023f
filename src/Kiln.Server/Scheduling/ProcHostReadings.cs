using System.Globalization;

namespace Kiln.Server.Scheduling;

/// <summary>Reads /proc/loadavg, MemAvailable from /proc/meminfo, and the free space of the job directory's file system.</summary>
public sealed class ProcHostReadings : IHostReadings
{
    /// <inheritdoc/>
    public HostReading Read(string jobDirectory) => new(LoadAverage(), AvailableMemory(), FreeDisk(jobDirectory));

    private static double? LoadAverage()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ', 2)[0];
            return double.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out var load) ? load : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static long? AvailableMemory()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kib) ? kib * 1024 : null;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }

    private static long? FreeDisk(string directory)
    {
        try
        {
            return new DriveInfo(directory).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }
}
