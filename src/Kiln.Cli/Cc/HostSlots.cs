using System.Globalization;
using Kiln.Core.Hosts;

namespace Kiln.Cli.Cc;

/// <summary>
/// Per-host slot limits shared by every <c>kiln cc</c> process of this user, as distcc's lock.c keeps
/// them: slot N of a host is the lock on the file <c>lock/cpu_KIND_HOST_PORT_N</c> under KILN_DIR.
/// Unlike distcc, which fills slot 0 of every host in list order before slot 1 of any, a compile
/// chooses by the power of two random choices: it takes a free slot (a random one of the host's) on
/// two random hosts and keeps the one whose node advertised the larger share of its slots free, so load spreads by the
/// nodes' own view of their work, including other users' jobs that this user's locks cannot see.
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

    /// <summary>
    /// One pass of the power of two choices: a free slot on each of two random hosts, keeping the one
    /// with the higher <paramref name="score"/> (ties: the first drawn). Null when every slot is taken.
    /// </summary>
    public SlotLease? TryAcquireChoice(List<HostSpec> hosts, Func<HostSpec, double> score, Random random)
    {
        var order = hosts.ToArray();
        random.Shuffle(order);
        SlotLease? first = null;
        foreach (var host in order)
        {
            var lease = TryTakeRandomSlot(host, random);
            if (lease is null)
            {
                continue;
            }

            if (first is null)
            {
                first = lease;
                continue;
            }

            if (score(lease.Host) > score(first.Host))
            {
                first.Dispose();
                return lease;
            }

            lease.Dispose();
            return first;
        }

        return first;
    }

    /// <summary>A free slot of <paramref name="host"/>, tried in random order, or null when all are taken.</summary>
    private SlotLease? TryTakeRandomSlot(HostSpec host, Random random)
    {
        if (!_usable)
        {
            // No state directory: no limits, rather than no compiles.
            return new SlotLease(host, 0, null);
        }

        var slots = Enumerable.Range(0, host.Limit).ToArray();
        random.Shuffle(slots);
        foreach (var slot in slots)
        {
            var taken = FileLock.TryTake(LockPath(host, slot));
            if (taken is not null)
            {
                return new SlotLease(host, slot, taken);
            }
        }

        return null;
    }

    /// <summary>
    /// Waits for a free slot on any of <paramref name="hosts"/> (chosen as <see cref="TryAcquireChoice"/>
    /// does), polling every <paramref name="poll"/>, until <paramref name="deadline"/> (Environment.TickCount64).
    /// Null when none came free in that time.
    /// </summary>
    public async Task<SlotLease?> AcquireAsync(List<HostSpec> hosts, Func<HostSpec, double> score, Random random, long deadline, TimeSpan poll,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            var lease = TryAcquireChoice(hosts, score, random);
            if (lease is not null || Environment.TickCount64 >= deadline)
            {
                return lease;
            }

            await Task.Delay(poll, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Takes one of <paramref name="count"/> local slots named <paramref name="kind"/> (preprocessing,
    /// links, races), waiting until <paramref name="deadline"/>; null when none came free (the caller
    /// goes ahead anyway: a limit must not fail a build).
    /// </summary>
    public async Task<FileLock?> AcquireLocalAsync(string kind, int count, long deadline, TimeSpan poll, CancellationToken cancellationToken)
    {
        while (_usable)
        {
            for (var slot = 0; slot < count; slot++)
            {
                if (FileLock.TryTake(Path.Combine(_lockDirectory, $"{kind}_localhost_{slot.ToString(CultureInfo.InvariantCulture)}")) is { } taken)
                {
                    return taken;
                }
            }

            if (Environment.TickCount64 >= deadline)
            {
                return null;
            }

            await Task.Delay(poll, cancellationToken).ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>A free one of the first <paramref name="count"/> localhost compile slots, without waiting; null when all are taken.</summary>
    public FileLock? TryTakeLocalhost(int count)
    {
        for (var slot = 0; slot < count && _usable; slot++)
        {
            if (FileLock.TryTake(LockPath(new HostSpec { Text = "localhost", Kind = HostKind.Local }, slot)) is { } taken)
            {
                return taken;
            }
        }

        return null;
    }

    private static string Safe(string host) => host.Replace('/', '_');
}
