namespace Kiln.Simulation.Engine;

/// <summary>Pending events in time order; events at the same time run in the order they were scheduled,
/// which keeps a run deterministic.</summary>
internal sealed class EventQueue
{
    private readonly PriorityQueue<Action, (double Time, long Sequence)> _queue = new();
    private long _sequence;

    /// <summary>The current simulated time (seconds).</summary>
    public double Now { get; private set; }

    /// <summary>Events run so far.</summary>
    public long Processed { get; private set; }

    /// <summary>Pending events.</summary>
    public int Count => _queue.Count;

    /// <summary>Runs <paramref name="action"/> at <paramref name="time"/> (never before now).</summary>
    public void At(double time, Action action) => _queue.Enqueue(action, (Math.Max(time, Now), _sequence++));

    /// <summary>Runs <paramref name="action"/> <paramref name="delay"/> seconds from now.</summary>
    public void After(double delay, Action action) => At(Now + delay, action);

    /// <summary>Runs events until none is left, <paramref name="stop"/> says so, or the time passes
    /// <paramref name="horizon"/>. Returns false when the horizon or the event budget ended the run.</summary>
    public bool Run(Func<bool> stop, double horizon, long maxEvents)
    {
        while (!stop())
        {
            if (!_queue.TryDequeue(out var action, out var key))
            {
                return true;
            }
            if (key.Time > horizon || Processed >= maxEvents)
            {
                return false;
            }
            Now = key.Time;
            Processed++;
            action();
        }
        return true;
    }
}
