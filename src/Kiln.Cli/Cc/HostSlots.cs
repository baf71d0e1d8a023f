using System.Globalization;
using Kiln.Core.Hosts;

namespace Kiln.Cli.Cc;

/// <summary>
/// Per-host slot limits shared by every <c>kiln cc</c> process of this user, as distcc's lock.c keeps
/// them: slot N of a host is the lock on the file <c>lock/cpu_KIND_HOST_PORT_N</c> under KILN_DIR. A
/// compile takes the lowest free slot number over all hosts, trying hosts in this process's random
/// order, so slot 0 of every host fills before slot 1 of any and concurrent compiles spread evenly.
/// </summary>
internal sealed class HostSlots
{
    private readonly string _lockDirectory;
    private readonly bool _usable;

    /// <summary>Uses the lock directory under <paramref name="stateDirectory"/>, creating it if needed.</summary>
    public HostSlots(string stateDirectory)
    {
        _lockDirectory = Path.Combine(stateDirectory, "lock");
        try
        {
            Directory.CreateDirectory(_lockDirectory);
            _usable = true;
        }
        catch (IOException)
        {
            _usable = false;
        }
        catch (UnauthorizedAccessException)
        {
            _usable = false;
        }
    }

    /// <summary>The lock file of one slot of one host.</summary>
    public string LockPath(HostSpec host, int slot)
    {
        var name = host.Kind switch
        {
            HostKind.Local => "cpu_localhost_" + slot.ToString(CultureInfo.InvariantCulture),
            HostKind.Ssh => "cpu_ssh_" + Safe(host.Host) + "_" + slot.ToString(CultureInfo.InvariantCulture),
            _ => "cpu_tcp_" + Safe(host.Host) + "_" + host.EffectivePort.ToString(CultureInfo.InvariantCulture) + "_"
                + slot.ToString(CultureInfo.InvariantCulture),
        };
        return Path.Combine(_lockDirectory, name);
    }

    /// <summary>One pass over the hosts: the lowest free slot, or null when every slot is taken.</summary>
    public SlotLease? TryAcquire(List<HostSpec> hosts)
    {
        var most = 0;
        foreach (var host in hosts)
        {
            most = Math.Max(most, host.Limit);
        }

        for (var slot = 0; slot < most; slot++)
        {
            foreach (var host in hosts)
            {
                if (slot >= host.Limit)
                {
                    continue;
                }

                if (!_usable)
                {
                    // No state directory: no limits, rather than no compiles.
                    return new SlotLease(host, slot, null);
                }

                var taken = FileLock.TryTake(LockPath(host, slot));
                if (taken is not null)
                {
                    return new SlotLease(host, slot, taken);
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Waits for a free slot on any of <paramref name="hosts"/>, polling every <paramref name="poll"/>,
    /// for at most <paramref name="wait"/>. Null when none came free in that time.
    /// </summary>
    public async Task<SlotLease?> AcquireAsync(List<HostSpec> hosts, TimeSpan wait, TimeSpan poll, CancellationToken cancellationToken)
    {
        var deadline = Environment.TickCount64 + (long)wait.TotalMilliseconds;
        while (true)
        {
            var lease = TryAcquire(hosts);
            if (lease is not null || Environment.TickCount64 >= deadline)
            {
                return lease;
            }

            await Task.Delay(poll, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string Safe(string host) => host.Replace('/', '_');
}
