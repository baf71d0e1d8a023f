using Kiln.Core.Hosts;

namespace Kiln.Cli.Cc;

/// <summary>One of a host's slots, held by this process until disposed.</summary>
internal sealed class SlotLease : IDisposable
{
    private readonly FileLock? _lock;

    /// <summary>Creates a lease; <paramref name="fileLock"/> is null when slot locking is unavailable.</summary>
    public SlotLease(HostSpec host, int slot, FileLock? fileLock)
    {
        Host = host;
        Slot = slot;
        _lock = fileLock;
    }

    /// <summary>The host the slot belongs to.</summary>
    public HostSpec Host { get; }

    /// <summary>The slot number, 0 to the host's limit minus one.</summary>
    public int Slot { get; }

    /// <summary>Releases the slot.</summary>
    public void Dispose() => _lock?.Dispose();
}
