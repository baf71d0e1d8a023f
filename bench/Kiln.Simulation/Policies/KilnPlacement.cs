using Kiln.Simulation.Engine;
using Kiln.Simulation.World;

namespace Kiln.Simulation.Policies;

/// <summary>
/// Kiln's policy as issue 6 specifies it. Nodes advertise free slots (slots less running jobs less the
/// owner's processes) every 2 s; an advertisement older than 6 s is not trusted. The client takes two
/// random nodes among those it may use and sends to the one advertising more free slots. The node
/// answers BUSY when it has no free slot, or when the user already has its fair share of the node and
/// the rest is needed by other users active there (running, or refused in the last 5 s). After three
/// BUSY replies in a row the client waits 50 ms, doubling to 1 s, with jitter. Only failures back a
/// node off for that client: 10 s, doubling to 5 minutes. A node that hangs mid-job is noticed when its
/// keepalives stop (every 5 s, given up after 15 s: the design's figure, the current kiln cc waits 10
/// minutes) and the job is sent elsewhere. Near the end of a build (nothing left for make to start),
/// a job running longer than 3 × its expected time + 2 s gets a second copy on another node; the first
/// result wins and the other copy is withdrawn. Workstations run compilers at nice 19.
/// </summary>
internal sealed class KilnPlacement : Placement
{
    private const double AdvertisePeriod = 2;
    private const double AdvertisementTrusted = 6;
    private const double ActiveUserWindow = 5;
    private readonly Dictionary<int, (int Failures, double Until)>[] _backoff;
    private readonly bool _speedAware;

    /// <summary>Per-client back-off tables; <paramref name="speedAware"/> prefers the faster of two nodes
    /// that both have a free slot.</summary>
    public KilnPlacement(Simulator simulator, bool speedAware)
        : base(simulator)
    {
        _speedAware = speedAware;
        _backoff = [.. simulator.Clients.Select(_ => new Dictionary<int, (int, double)>())];
    }

    /// <inheritdoc/>
    public override double LostDetection => 15;

    /// <inheritdoc/>
    public override double ConnectTimeout => 4;

    /// <inheritdoc/>
    public override int RunLimit(NodeSpec node) => node.Cores;

    /// <inheritdoc/>
    public override int RemoteWeight(NodeSpec node) => node.IsWorkstation ? 15 : 1024;

    /// <inheritdoc/>
    public override void Start() => Advertise();

    /// <inheritdoc/>
    public override void Place(JobState job) => Place(job, exclude: null);

    /// <inheritdoc/>
    public override bool Admit(NodeState node, Attempt attempt)
    {
        var free = node.FreeForRemote;
        var user = attempt.Job.Spec.Client;
        if (free <= 0)
        {
            node.UserRefused[user] = Sim.Now;
            return false;
        }
        var capacity = Math.Max(1, node.Spec.Cores - node.OwnerProcesses);
        var active = 1;
        foreach (var (other, running) in node.UserRunning)
        {
            if (other != user && (running > 0 || Sim.Now - node.UserRefused.GetValueOrDefault(other, double.NegativeInfinity) < ActiveUserWindow))
            {
                active++;
            }
        }
        foreach (var (other, when) in node.UserRefused)
        {
            if (other != user && node.UserRunning.GetValueOrDefault(other) == 0 && Sim.Now - when < ActiveUserWindow)
            {
                active++;
            }
        }
        var share = (int)Math.Ceiling(capacity / (double)active);
        if (node.UserRunning.GetValueOrDefault(user) < share)
        {
            return true;
        }
        // Over its share: only what other active users below their share cannot claim.
        var reserved = 0;
        foreach (var (other, running) in node.UserRunning)
        {
            if (other != user && running < share && (running > 0 || Sim.Now - node.UserRefused.GetValueOrDefault(other, double.NegativeInfinity) < ActiveUserWindow))
            {
                reserved += share - running;
            }
        }
        foreach (var (other, when) in node.UserRefused)
        {
            if (other != user && node.UserRunning.GetValueOrDefault(other) == 0 && Sim.Now - when < ActiveUserWindow)
            {
                reserved += share;
            }
        }
        if (free > reserved)
        {
            return true;
        }
        node.UserRefused[user] = Sim.Now;
        return false;
    }

    /// <inheritdoc/>
    public override void OnBusy(Attempt attempt)
    {
        var job = attempt.Job;
        if (job.Attempts.Count > 0)
        {
            return;
        }
        job.BusyStreak++;
        if (job.BusyStreak % 3 != 0)
        {
            Place(job, exclude: attempt.Node);
            return;
        }
        var round = Math.Min(job.BusyStreak / 3, 6);
        var wait = Math.Min(1.0, 0.05 * Math.Pow(2, round - 1)) * (0.5 + Sim.Random.NextDouble());
        Sim.Events.After(wait, () => Place(job, exclude: null));
    }

    /// <inheritdoc/>
    public override void OnFailed(Attempt attempt)
    {
        var table = _backoff[attempt.Job.Spec.Client];
        var id = attempt.Node.Spec.Id;
        var failures = table.GetValueOrDefault(id).Failures + 1;
        table[id] = (failures, Sim.Now + Math.Min(300, 10 * Math.Pow(2, failures - 1)));
        if (attempt.Job.Attempts.Count == 0)
        {
            Place(attempt.Job, exclude: attempt.Node);
        }
    }

    /// <inheritdoc/>
    public override void OnEnded(Attempt attempt)
    {
        if (attempt.State == AttemptState.Done)
        {
            attempt.Job.BusyStreak = 0;
            _backoff[attempt.Job.Spec.Client].Remove(attempt.Node.Spec.Id);
        }
    }

    /// <inheritdoc/>
    public override void OnClientTick(ClientState client)
    {
        if (client.Started < client.Spec.JobCount)
        {
            return;
        }
        // The tail of the build: make has nothing left to start, so idle job slots may race stragglers.
        var spare = client.Spec.MakeJobs - client.InProgress;
        foreach (var job in client.Remote)
        {
            if (spare <= 0)
            {
                return;
            }
            if (job.Raced || job.Local || job.Attempts.Count != 1)
            {
                continue;
            }
            var attempt = job.Attempts[0];
            if (attempt.State is AttemptState.Cancelled or AttemptState.Done)
            {
                continue;
            }
            if (Sim.Now - attempt.SentAt > (3 * job.Spec.Estimate) + 2)
            {
                job.Raced = true;
                Sim.Races++;
                spare--;
                Place(job, exclude: attempt.Node);
            }
        }
    }

    private NodeState Better(NodeState first, NodeState second)
    {
        if (_speedAware && first.AdvertisedFree > 0 && second.AdvertisedFree > 0)
        {
            return first.Spec.Speed >= second.Spec.Speed ? first : second;
        }
        if (first.AdvertisedFree != second.AdvertisedFree)
        {
            return first.AdvertisedFree > second.AdvertisedFree ? first : second;
        }
        return Sim.Random.Next(2) == 0 ? first : second;
    }

    private void Advertise()
    {
        foreach (var node in Sim.Nodes)
        {
            if (node.Up)
            {
                node.AdvertisedFree = Math.Max(0, node.FreeForRemote);
                node.AdvertisedAt = Sim.Now;
            }
        }
        if (Sim.Clients.Any(c => double.IsNaN(c.End)))
        {
            Sim.Events.After(AdvertisePeriod, Advertise);
        }
    }

    private bool Usable(NodeState node, Dictionary<int, (int Failures, double Until)> backoff, NodeState? exclude) =>
        node != exclude
        && Sim.Now - node.AdvertisedAt <= AdvertisementTrusted
        && !(backoff.TryGetValue(node.Spec.Id, out var b) && b.Until > Sim.Now);

    private void Place(JobState job, NodeState? exclude)
    {
        if (job.Done)
        {
            return;
        }
        var backoff = _backoff[job.Spec.Client];
        var nodes = Sim.Nodes;
        NodeState? first = null;
        NodeState? second = null;
        for (var tries = 0; tries < 32 && second is null; tries++)
        {
            var node = nodes[Sim.Random.Next(nodes.Length)];
            if (!Usable(node, backoff, exclude) || node == first)
            {
                continue;
            }
            if (first is null)
            {
                first = node;
            }
            else
            {
                second = node;
            }
        }
        if (first is null)
        {
            // Few usable nodes: look at all of them.
            var usable = nodes.Where(n => Usable(n, backoff, exclude)).ToList();
            if (usable.Count == 0)
            {
                if (exclude is not null && Usable(exclude, backoff, null))
                {
                    usable.Add(exclude);
                }
                else
                {
                    Sim.CompileLocally(job);
                    return;
                }
            }
            first = usable[Sim.Random.Next(usable.Count)];
        }
        Sim.Send(job, second is null ? first : Better(first, second));
    }
}
