using Kiln.Simulation.World;

namespace Kiln.Simulation.Engine;

/// <summary>A client during a run: make's job slots, its local cores, and what it has done.</summary>
internal sealed class ClientState(ClientSpec spec)
{
    private readonly Queue<(double Duration, Action Then)> _localWaiting = new();

    /// <summary>The client.</summary>
    public ClientSpec Spec { get; } = spec;

    /// <summary>Jobs make has started (the next one is <c>FirstJob + Started</c>).</summary>
    public int Started { get; set; }

    /// <summary>Jobs whose result make has.</summary>
    public int Finished { get; set; }

    /// <summary>Started and not finished: make's busy job slots.</summary>
    public int InProgress => Started - Finished;

    /// <summary>Jobs that have left preprocessing and are with the network (Kiln scans them for stragglers).</summary>
    public HashSet<JobState> Remote { get; } = [];

    /// <summary>When the build (link included) ended; NaN while it runs.</summary>
    public double End { get; set; } = double.NaN;

    /// <summary>Local cores in use.</summary>
    public int LocalBusy { get; private set; }

    /// <summary>Compiles the client did itself because remote work failed or nothing was up.</summary>
    public int LocalFallbacks { get; set; }

    /// <summary>Runs <paramref name="duration"/> seconds of CPU work on a local core (waiting for one if all
    /// are busy), then <paramref name="then"/>.</summary>
    public void RunLocal(EventQueue events, double duration, Action then)
    {
        if (LocalBusy >= Spec.LocalCores)
        {
            _localWaiting.Enqueue((duration, then));
            return;
        }
        LocalBusy++;
        events.After(duration, () =>
        {
            LocalBusy--;
            then();
            if (_localWaiting.Count > 0 && LocalBusy < Spec.LocalCores)
            {
                var (next, nextThen) = _localWaiting.Dequeue();
                RunLocal(events, next, nextThen);
            }
        });
    }
}
