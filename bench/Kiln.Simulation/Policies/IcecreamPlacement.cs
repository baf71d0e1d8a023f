using Kiln.Simulation.Engine;
using Kiln.Simulation.World;

namespace Kiln.Simulation.Policies;

/// <summary>
/// icecream's scheduler with its default algorithm, <c>fastest</c> (scheduler/scheduler.cpp,
/// pick_server_fastest, server_speed; research note section 4.2). One scheduler sees every node: a node is
/// eligible below max jobs (its cores), or below max jobs + preload (1 + max/4) as a last resort, and
/// with load below 1000; a node with no history and no job is taken first; otherwise the best
/// speed × (1000 − load)/1000 × (1 − 0.5·jobs/max) × (4.5 − 0.5·n for its first n &lt; 7 jobs). Speed is the
/// node's measured compile speed (within 5 %). Requests that find no node wait at the scheduler,
/// served round-robin between submitters. iceccd runs max-jobs compilers at nice 5; preloaded jobs wait.
/// A hung node: the client waits 12 minutes for COMPILE_RESULT (client/remote.cpp, get_msg(12 * 60)),
/// then compiles locally; the scheduler drops the node 30 s after it hangs (assumed: the daemon's
/// connection to the scheduler goes quiet), so connects to it meanwhile fail after 5 s.
/// </summary>
internal sealed class IcecreamPlacement : Placement
{
    private const double SchedulerNotices = 30;
    private readonly int[] _assigned;
    private readonly int[] _history;
    private readonly double[] _measuredSpeed;
    private readonly Queue<JobState>[] _pending;
    private int _pendingCount;
    private readonly bool[] _dropped;
    private int _nextSubmitter;

    /// <summary>Scheduler state for every node and client.</summary>
    public IcecreamPlacement(Simulator simulator)
        : base(simulator)
    {
        var nodes = simulator.World.Nodes.Count;
        _assigned = new int[nodes];
        _history = new int[nodes];
        _measuredSpeed = new double[nodes];
        var noise = new Random(simulator.Random.Next());
        for (var i = 0; i < nodes; i++)
        {
            _measuredSpeed[i] = simulator.World.Nodes[i].Speed * (0.95 + (0.1 * noise.NextDouble()));
        }
        _pending = [.. simulator.Clients.Select(_ => new Queue<JobState>())];
        _dropped = new bool[nodes];
    }

    /// <inheritdoc/>
    public override void Start()
    {
        // Until the scheduler notices, a hung node still looks eligible.
        foreach (var failure in Sim.World.Failures)
        {
            var id = failure.Node;
            Sim.Events.At(Math.Min(failure.Down + SchedulerNotices, failure.Up), () => _dropped[id] = true);
            Sim.Events.At(failure.Up, () =>
            {
                _dropped[id] = false;
                Dispatch();
            });
        }
    }

    /// <inheritdoc/>
    public override double LostDetection => 12 * 60;

    /// <inheritdoc/>
    public override double ConnectTimeout => 5;

    /// <inheritdoc/>
    public override int RunLimit(NodeSpec node) => node.Cores;

    /// <inheritdoc/>
    public override int RemoteWeight(NodeSpec node) => 335;

    /// <inheritdoc/>
    public override void Place(JobState job)
    {
        // The request to the scheduler and its USE_CS answer: one round trip before the job leaves.
        Sim.Events.After(2 * Simulator.Latency, () =>
        {
            _pending[job.Spec.Client].Enqueue(job);
            _pendingCount++;
            Dispatch();
        });
    }

    /// <inheritdoc/>
    public override void OnFailed(Attempt attempt) => Sim.CompileLocally(attempt.Job);

    /// <inheritdoc/>
    public override void OnEnded(Attempt attempt)
    {
        var id = attempt.Node.Spec.Id;
        _assigned[id]--;
        if (attempt.State == AttemptState.Done)
        {
            _history[id]++;
        }
        Dispatch();
    }

    /// <inheritdoc/>
    public override void OnNodeChanged(NodeState node) => Dispatch();

    private void Dispatch()
    {
        while (_pendingCount > 0)
        {
            var node = PickServer();
            if (node is null)
            {
                return;
            }
            while (_pending[_nextSubmitter].Count == 0)
            {
                _nextSubmitter = (_nextSubmitter + 1) % _pending.Length;
            }
            var job = _pending[_nextSubmitter].Dequeue();
            _pendingCount--;
            _nextSubmitter = (_nextSubmitter + 1) % _pending.Length;
            if (job.Done)
            {
                continue;
            }
            _assigned[node.Spec.Id]++;
            Sim.Send(job, node);
        }
    }

    private NodeState? PickServer()
    {
        NodeState? fresh = null;
        var freshCount = 0;
        NodeState? best = null;
        var bestScore = double.MinValue;
        NodeState? bestPreload = null;
        var bestPreloadScore = double.MinValue;
        foreach (var node in Sim.Nodes)
        {
            if (_dropped[node.Spec.Id])
            {
                continue;
            }
            var id = node.Spec.Id;
            var max = node.Spec.Cores;
            var jobs = _assigned[id];
            var load = Math.Min(1000, 1000 * node.OwnerProcesses / max);
            if (load >= 1000 || jobs >= max + 1 + (max / 4))
            {
                continue;
            }
            if (_history[id] == 0 && jobs == 0)
            {
                // Reservoir sampling: a uniformly random node among those never used.
                freshCount++;
                if (Sim.Random.Next(freshCount) == 0)
                {
                    fresh = node;
                }
                continue;
            }
            var score = _measuredSpeed[id] * (1000 - load) / 1000.0 * (1 - (0.5 * Math.Min(jobs, max) / max));
            if (_history[id] < 7)
            {
                score *= 4.5 - (0.5 * _history[id]);
            }
            if (jobs < max)
            {
                if (score > bestScore)
                {
                    bestScore = score;
                    best = node;
                }
            }
            else if (score > bestPreloadScore)
            {
                bestPreloadScore = score;
                bestPreload = node;
            }
        }
        return fresh ?? best ?? bestPreload;
    }
}
