using Kiln.Simulation.Engine;
using Kiln.Simulation.World;

namespace Kiln.Simulation.Policies;

/// <summary>
/// distcc 3.4 as its sources describe it (src/where.c, lock.c, backoff.c; distccd's prefork): every
/// client lists the hosts in the same order with <c>/N</c> = the host's cores; locks are per client;
/// when every slot is held the client sleeps 1 s (DISTCC_PAUSE_TIME_MSEC) and tries again; distccd
/// runs ncpus + 2 compilers at nice +5 and lets further connections wait in the listen backlog; a hung
/// host costs the 4 s connect timeout or, mid-job, DISTCC_IO_TIMEOUT (300 s), then the host is backed
/// off for 60 s (DISTCC_BACKOFF_PERIOD) and the job is compiled locally.
/// </summary>
internal sealed class DistccPlacement : Placement
{
    private const double PauseTime = 1.0;
    private const double BackoffPeriod = 60;
    private readonly DistccSlots[] _slots;
    private readonly double[][] _backoffUntil;
    private readonly bool _randomize;

    /// <summary>Per-client lock tables over the common host list.</summary>
    public DistccPlacement(Simulator simulator, bool randomize)
        : base(simulator)
    {
        _randomize = randomize;
        var cores = simulator.World.Nodes.Select(n => n.Cores).ToArray();
        _slots = [.. simulator.Clients.Select(_ => new DistccSlots(cores))];
        _backoffUntil = [.. simulator.Clients.Select(_ => new double[cores.Length])];
    }

    /// <inheritdoc/>
    public override double LostDetection => 300;

    /// <inheritdoc/>
    public override double ConnectTimeout => 4;

    /// <inheritdoc/>
    public override int RunLimit(NodeSpec node) => node.Cores + 2;

    /// <inheritdoc/>
    public override int RemoteWeight(NodeSpec node) => 335;

    /// <inheritdoc/>
    public override void Place(JobState job)
    {
        var client = job.Spec.Client;
        var backoff = _backoffUntil[client];
        var now = Sim.Now;
        var choice = _slots[client].Choose(host => backoff[host] > now, _randomize ? Sim.Random : null);
        if (choice is not { } taken)
        {
            Sim.Events.After(PauseTime, () => Place(job));
            return;
        }
        _slots[client].Lock(taken.Host, taken.Slot);
        Sim.Send(job, Sim.Nodes[taken.Host], taken.Slot);
    }

    /// <inheritdoc/>
    public override void OnFailed(Attempt attempt)
    {
        _backoffUntil[attempt.Job.Spec.Client][attempt.Node.Spec.Id] = Sim.Now + BackoffPeriod;
        Sim.CompileLocally(attempt.Job);
    }

    /// <inheritdoc/>
    public override void OnEnded(Attempt attempt)
    {
        if (attempt.Slot >= 0)
        {
            _slots[attempt.Job.Spec.Client].Unlock(attempt.Node.Spec.Id, attempt.Slot);
        }
    }
}
