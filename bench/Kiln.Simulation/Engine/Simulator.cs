using Kiln.Simulation.Policies;
using Kiln.Simulation.Results;
using Kiln.Simulation.World;

namespace Kiln.Simulation.Engine;

/// <summary>
/// One run: one world, one policy. Deterministic: the world comes from its seed, and the policy's own
/// random choices from a stream seeded by the world's seed and the policy.
/// </summary>
internal sealed partial class Simulator
{
    /// <summary>One-way network latency plus the daemon's handling of a request (seconds): a LAN.</summary>
    public const double Latency = 0.002;

    /// <summary>Simulated time after which a run is cut off as stuck (a bug, reported as such).</summary>
    private const double Horizon = 24 * 3600;

    private readonly SimulationWorld _world;
    private readonly Placement _placement;
    private int _clientsLeft;

    /// <summary>Prepares a run of <paramref name="policy"/> on <paramref name="world"/>.</summary>
    public Simulator(SimulationWorld world, PolicyKind policy)
    {
        _world = world;
        Policy = policy;
        Random = new Random(HashCode.Combine(world.Seed, (int)policy, 0x5EED));
        Clients = [.. world.Clients.Select(c => new ClientState(c))];
        Jobs = [.. world.Jobs.Select(j => new JobState(j))];
        _placement = policy switch
        {
            PolicyKind.Distcc => new DistccPlacement(this, randomize: false),
            PolicyKind.DistccRandomize => new DistccPlacement(this, randomize: true),
            PolicyKind.Icecream => new IcecreamPlacement(this),
            PolicyKind.Kiln => new KilnPlacement(this, speedAware: false),
            PolicyKind.KilnSpeed => new KilnPlacement(this, speedAware: true),
            _ => throw new ArgumentOutOfRangeException(nameof(policy)),
        };
        Nodes = [.. world.Nodes.Select(n => new NodeState(n, _placement.RunLimit(n), _placement.RemoteWeight(n))
        {
            Owner = n.IsWorkstation ? world.CreateOwner(n) : null,
        })];
    }

    /// <summary>The world this run simulates.</summary>
    public SimulationWorld World => _world;

    /// <summary>The policy under test.</summary>
    public PolicyKind Policy { get; }

    /// <summary>The policy's random stream.</summary>
    public Random Random { get; }

    /// <summary>The event queue and clock.</summary>
    public EventQueue Events { get; } = new();

    /// <summary>Now, in simulated seconds.</summary>
    public double Now => Events.Now;

    /// <summary>Nodes, in host-list order.</summary>
    public NodeState[] Nodes { get; }

    /// <summary>Clients.</summary>
    public ClientState[] Clients { get; }

    /// <summary>Every job of every client.</summary>
    public JobState[] Jobs { get; }

    /// <summary>BUSY replies nodes sent.</summary>
    public int BusyReplies { get; set; }

    /// <summary>Second copies Kiln sent for stragglers.</summary>
    public int Races { get; set; }

    /// <summary>Copies lost on hung nodes.</summary>
    public int LostAttempts { get; private set; }

    /// <summary>Runs to the end of the last build and measures it.</summary>
    public RunResult Run()
    {
        _clientsLeft = Clients.Length;
        foreach (var node in Nodes)
        {
            if (node.Owner is { } owner)
            {
                node.OwnerProcesses = owner.Processes;
                node.Recompute();
                Events.At(owner.NextChange, () => OwnerChanges(node));
            }
        }
        foreach (var failure in _world.Failures)
        {
            var node = Nodes[failure.Node];
            Events.At(failure.Down, () => NodeHangs(node));
            Events.At(failure.Up, () => NodeReturns(node));
        }
        foreach (var client in Clients)
        {
            Events.At(client.Spec.Start, () => StartBuild(client));
        }
        _placement.Start();
        var finished = Events.Run(() => _clientsLeft == 0, Horizon, maxEvents: 200_000_000);
        if (!finished)
        {
            throw new InvalidOperationException(
                $"{Policy} on {Nodes.Length} nodes, seed {_world.Seed}: builds still running at {Now:0} s ({_clientsLeft} clients)");
        }
        foreach (var node in Nodes)
        {
            node.Advance(Now);
        }
        return RunResult.Measure(this, _world);
    }

    private void StartBuild(ClientState client)
    {
        var first = Math.Min(client.Spec.MakeJobs, client.Spec.JobCount);
        for (var i = 0; i < first; i++)
        {
            StartNextJob(client);
        }
        Events.After(1.0, () => ClientTick(client));
    }

    private void ClientTick(ClientState client)
    {
        if (!double.IsNaN(client.End))
        {
            return;
        }
        _placement.OnClientTick(client);
        Events.After(1.0, () => ClientTick(client));
    }

    private void StartNextJob(ClientState client)
    {
        if (client.Started >= client.Spec.JobCount)
        {
            return;
        }
        var job = Jobs[client.Spec.FirstJob + client.Started];
        client.Started++;
        client.RunLocal(Events, job.Spec.Preprocess, () =>
        {
            job.ReadyAt = Now;
            client.Remote.Add(job);
            _placement.Place(job);
        });
    }
}
