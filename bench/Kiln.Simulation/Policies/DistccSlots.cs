namespace Kiln.Simulation.Policies;

/// <summary>
/// One distcc client's lock files: for every host, which of its slots this client holds. distcc takes
/// the lowest free slot number over all hosts, hosts in list order within a slot number, so hosts sit in
/// buckets by their lowest free slot. Other clients' locks are invisible, as in distcc (the lock files
/// live in each user's <c>~/.distcc</c>).
/// </summary>
internal sealed class DistccSlots
{
    private readonly int[] _cores;
    private readonly bool[][] _locked;
    private readonly int[] _level;
    private readonly SortedSet<int>[] _ordered;
    private readonly List<int>[] _shuffled;
    private readonly int[] _position;

    /// <summary>Slots per host as the host list gives them (<c>host/N</c>).</summary>
    public DistccSlots(IReadOnlyList<int> cores)
    {
        _cores = [.. cores];
        var levels = _cores.Max() + 1;
        _locked = [.. _cores.Select(c => new bool[c])];
        _level = new int[_cores.Length];
        _ordered = [.. Enumerable.Range(0, levels).Select(_ => new SortedSet<int>())];
        _shuffled = [.. Enumerable.Range(0, levels).Select(_ => new List<int>())];
        _position = new int[_cores.Length];
        for (var host = 0; host < _cores.Length; host++)
        {
            AddToLevel(host);
        }
    }

    /// <summary>The host and slot distcc takes next, skipping hosts in back-off; null when every slot
    /// is held (distcc then sleeps a second and tries again).</summary>
    public (int Host, int Slot)? Choose(Func<int, bool> backedOff, Random? shuffle)
    {
        for (var level = 0; level < _ordered.Length; level++)
        {
            if (_ordered[level].Count == 0)
            {
                continue;
            }
            if (shuffle is null)
            {
                foreach (var host in _ordered[level])
                {
                    if (!backedOff(host))
                    {
                        return (host, level);
                    }
                }
                continue;
            }
            // --randomize shuffles the list per compile: any host at the lowest level is equally likely.
            var candidates = _shuffled[level];
            for (var tries = 0; tries < 8; tries++)
            {
                var host = candidates[shuffle.Next(candidates.Count)];
                if (!backedOff(host))
                {
                    return (host, level);
                }
            }
            var open = candidates.Where(h => !backedOff(h)).ToList();
            if (open.Count > 0)
            {
                return (open[shuffle.Next(open.Count)], level);
            }
        }
        return null;
    }

    /// <summary>Takes the lock.</summary>
    public void Lock(int host, int slot)
    {
        RemoveFromLevel(host);
        _locked[host][slot] = true;
        AddToLevel(host);
    }

    /// <summary>Releases the lock.</summary>
    public void Unlock(int host, int slot)
    {
        RemoveFromLevel(host);
        _locked[host][slot] = false;
        AddToLevel(host);
    }

    private void AddToLevel(int host)
    {
        var level = Array.IndexOf(_locked[host], false);
        _level[host] = level;
        if (level < 0)
        {
            return;
        }
        _ordered[level].Add(host);
        _position[host] = _shuffled[level].Count;
        _shuffled[level].Add(host);
    }

    private void RemoveFromLevel(int host)
    {
        var level = _level[host];
        if (level < 0)
        {
            return;
        }
        _ordered[level].Remove(host);
        var list = _shuffled[level];
        var index = _position[host];
        var last = list[^1];
        list[index] = last;
        _position[last] = index;
        list.RemoveAt(list.Count - 1);
    }
}
