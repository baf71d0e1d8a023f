using Kiln.Simulation.World;

namespace Kiln.Simulation.Engine;

/// <summary>
/// A node during a run. Remote jobs and the owner's processes share the cores the way Linux's CFS
/// shares them: when more are runnable than there are cores, each gets CPU in proportion to its nice
/// weight (1024 at nice 0, 335 at nice 5, 15 at nice 19), none more than one core. Every running job
/// gets the same rate, so one served-work counter tells when each finishes.
/// </summary>
internal sealed class NodeState(NodeSpec spec, int runLimit, int remoteWeight)
{
    private const double OwnerWeight = 1024;
    private double _last;
    private double _rate;
    private double _ownerRate = 1;

    /// <summary>The node.</summary>
    public NodeSpec Spec { get; } = spec;

    /// <summary>Remote jobs that may run at once (distccd's children, icecream's max jobs); the rest wait.</summary>
    public int RunLimit { get; } = runLimit;

    /// <summary>CFS weight of a remote job: the nice level its daemon runs compilers at.</summary>
    public int RemoteWeight { get; } = remoteWeight;

    /// <summary>False while hung.</summary>
    public bool Up { get; set; } = true;

    /// <summary>Jobs compiling now.</summary>
    public List<Attempt> Running { get; } = [];

    /// <summary>Jobs accepted and waiting for a process, oldest first.</summary>
    public List<Attempt> Waiting { get; } = [];

    /// <summary>The owner's CPU-bound processes (0 on servers).</summary>
    public int OwnerProcesses { get; set; }

    /// <summary>The owner's activity (workstations only).</summary>
    public OwnerActivity? Owner { get; init; }

    /// <summary>Work served to each running job so far (reference-core seconds).</summary>
    public double Served { get; private set; }

    /// <summary>Bumped whenever the next completion moves, so a stale completion event is ignored.</summary>
    public int Version { get; set; }

    /// <summary>Running remote jobs per user (client).</summary>
    public Dictionary<int, int> UserRunning { get; } = [];

    /// <summary>Kiln: when each user was last refused here (fair shares count recent users as active).</summary>
    public Dictionary<int, double> UserRefused { get; } = [];

    /// <summary>Kiln: free slots in the last advertisement, and when it went out.</summary>
    public int AdvertisedFree { get; set; }

    /// <summary>When the last advertisement went out.</summary>
    public double AdvertisedAt { get; set; }

    /// <summary>Node-seconds with more runnable processes (remote jobs plus owner's) than cores.</summary>
    public double OverloadTime { get; private set; }

    /// <summary>Core-seconds the owner wanted, and got.</summary>
    public double OwnerDemand { get; private set; }

    /// <summary>Core-seconds the owner got.</summary>
    public double OwnerDelivered { get; private set; }

    /// <summary>Slot-seconds of remote jobs running.</summary>
    public double RemoteSlotTime { get; private set; }

    /// <summary>Most remote jobs present at once (running plus waiting) minus the node's slots.</summary>
    public int MaxExcess { get; private set; } = int.MinValue;

    /// <summary>Most remote jobs running at once.</summary>
    public int MaxRunning { get; private set; }

    /// <summary>Remote jobs this node finished.</summary>
    public int Completed { get; set; }

    /// <summary>Jobs that did not finish before the client stopped waiting: the sum of remote work thrown away.</summary>
    public double WastedWork { get; set; }

    /// <summary>Cores free for a new job as the node itself sees them (slots less the owner's processes).</summary>
    public int FreeForRemote => Spec.Cores - OwnerProcesses - Running.Count - Waiting.Count;

    /// <summary>Brings the counters up to <paramref name="now"/>.</summary>
    public void Advance(double now)
    {
        var dt = now - _last;
        if (dt <= 0)
        {
            return;
        }
        _last = now;
        if (!Up)
        {
            return;
        }
        Served += _rate * dt;
        if (Running.Count + OwnerProcesses > Spec.Cores)
        {
            OverloadTime += dt;
        }
        OwnerDemand += OwnerProcesses * dt;
        OwnerDelivered += OwnerProcesses * _ownerRate * dt;
        RemoteSlotTime += Running.Count * dt;
    }

    /// <summary>Recomputes the shares after a change (call <see cref="Advance"/> first).</summary>
    public void Recompute()
    {
        var m = Running.Count;
        var k = OwnerProcesses;
        double cores = Spec.Cores;
        double remote;
        if (m + k <= cores)
        {
            remote = 1;
            _ownerRate = 1;
        }
        else
        {
            var x = cores / ((k * OwnerWeight) + (m * (double)RemoteWeight));
            _ownerRate = Math.Min(1, OwnerWeight * x);
            remote = _ownerRate >= 1 ? (cores - k) / m : RemoteWeight * x;
        }
        _rate = m > 0 ? remote * Spec.Speed : 0;
        MaxRunning = Math.Max(MaxRunning, m);
        MaxExcess = Math.Max(MaxExcess, m + Waiting.Count - Spec.Cores);
        Version++;
    }

    /// <summary>Seconds from now until the first running job finishes, or null when none runs.</summary>
    public (double Delay, double Target)? NextCompletion()
    {
        if (Running.Count == 0 || _rate <= 0)
        {
            return null;
        }
        var target = double.MaxValue;
        foreach (var attempt in Running)
        {
            target = Math.Min(target, attempt.Target);
        }
        return (Math.Max(0, (target - Served) / _rate), target);
    }
}
