using System.Globalization;

namespace Kiln.Server.Scheduling;

/// <summary>
/// Decides whether the machine under a node can take one more job now, from <see cref="AdmissionOptions"/>
/// and fresh <see cref="IHostReadings"/>. A refusal is a sentence a person can act on.
/// </summary>
public sealed class NodeAdmission(AdmissionOptions options, IHostReadings readings, string jobDirectory)
{
    private readonly Lock _lock = new();
    private HostReading? _reading;
    private long _readAt;

    /// <summary>Counts refusals by reason: load, memory, disk.</summary>
    public long RefusedForLoad => Interlocked.Read(ref _refusedLoad);

    /// <summary>Refusals because memory was short.</summary>
    public long RefusedForMemory => Interlocked.Read(ref _refusedMemory);

    /// <summary>Refusals because disk was short.</summary>
    public long RefusedForDisk => Interlocked.Read(ref _refusedDisk);

    private long _refusedLoad;
    private long _refusedMemory;
    private long _refusedDisk;

    /// <summary>The reason to refuse one more job while <paramref name="running"/> of the node's own compiles run, or null to take it.</summary>
    public string? Refusal(long running)
    {
        var reading = Reading();
        var invariant = CultureInfo.InvariantCulture;
        if (options.MaxOtherLoad is { } maxLoad && reading.LoadAverage is { } load && load - running > maxLoad)
        {
            Interlocked.Increment(ref _refusedLoad);
            return string.Create(invariant, $"node busy with other work: load average {load:0.##} minus {running} own compiles exceeds {maxLoad:0.##}");
        }

        if (reading.AvailableMemoryBytes is { } memory && memory < options.MinFreeMemoryBytes)
        {
            Interlocked.Increment(ref _refusedMemory);
            return string.Create(invariant, $"node short of memory: {memory >> 20} MiB available, needs {options.MinFreeMemoryBytes >> 20} MiB");
        }

        var disk = options.MinFreeDiskBytesPerJob * (running + 1);
        if (reading.FreeDiskBytes is { } free && free < disk)
        {
            Interlocked.Increment(ref _refusedDisk);
            return string.Create(invariant, $"node short of disk: {free >> 20} MiB free for jobs, needs {disk >> 20} MiB");
        }

        return null;
    }

    private HostReading Reading()
    {
        lock (_lock)
        {
            var now = Environment.TickCount64;
            if (_reading is null || now - _readAt >= (long)options.ReadingLifetime.TotalMilliseconds)
            {
                _reading = readings.Read(jobDirectory);
                _readAt = now;
            }

            return _reading;
        }
    }
}
