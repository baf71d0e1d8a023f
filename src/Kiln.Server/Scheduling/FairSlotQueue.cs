namespace Kiln.Server.Scheduling;

/// <summary>
/// A node's compile slots, shared fairly between the users who ask for them. A job takes a free slot
/// at once when nobody is waiting; otherwise it waits in its user's queue, and each freed slot goes to
/// the next user in turn (round-robin between users with waiting jobs, first come first served within
/// one user), as icecream rotates submitters. A user who queues fifty jobs therefore delays another
/// user's one job by at most one job per user ahead of it, not fifty. Thread-safe.
/// </summary>
public sealed class FairSlotQueue
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Queue<Waiter>> _waiting = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _turns = new();
    private readonly Dictionary<string, UserCounts> _users = new(StringComparer.Ordinal);
    private int _free;
    private int _waiters;

    /// <summary>Creates a queue with <paramref name="slots"/> slots, all free.</summary>
    public FairSlotQueue(int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        Slots = slots;
        _free = slots;
    }

    /// <summary>The number of slots.</summary>
    public int Slots { get; }

    /// <summary>Slots free now.</summary>
    public int Free
    {
        get
        {
            lock (_lock)
            {
                return _free;
            }
        }
    }

    /// <summary>Jobs waiting for a slot now.</summary>
    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _waiters;
            }
        }
    }

    /// <summary>
    /// Takes a slot for <paramref name="user"/>: at once when one is free and nobody waits, else after
    /// waiting in turn. Returns null, without queueing, when <paramref name="maxWaiting"/> jobs already
    /// wait (the caller answers BUSY). The caller gives the slot back with <see cref="Release"/> once the
    /// returned task has completed successfully.
    /// </summary>
    public Task? TryEnter(string user, int maxWaiting, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_lock)
        {
            if (_free > 0 && _waiters == 0)
            {
                _free--;
                CountGrant(user, contended: false);
                return Task.CompletedTask;
            }

            if (_waiters >= maxWaiting)
            {
                return null;
            }

            waiter = new Waiter(user);
            if (!_waiting.TryGetValue(user, out var queue))
            {
                queue = new Queue<Waiter>();
                _waiting[user] = queue;
            }

            if (queue.Count == 0)
            {
                _turns.AddLast(user);
            }

            queue.Enqueue(waiter);
            _waiters++;
        }

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var (queue, w) = ((FairSlotQueue, Waiter))state!;
                queue.Cancel(w, token);
            }, (this, waiter));
        }

        return waiter.Granted.Task;
    }

    /// <summary>Gives a slot back: to the next waiting user in turn, or to the free pool.</summary>
    public void Release()
    {
        lock (_lock)
        {
            while (_turns.First is { } turn)
            {
                var user = turn.Value;
                var queue = _waiting[user];
                var waiter = queue.Dequeue();
                _waiters--;
                var contended = _turns.Count > 1;
                _turns.RemoveFirst();
                if (queue.Count > 0)
                {
                    _turns.AddLast(user);
                }

                if (waiter.Granted.TrySetResult())
                {
                    // Unregister, not Dispose: Dispose waits for a running callback, which waits for this lock.
                    waiter.Registration.Unregister();
                    CountGrant(user, contended);
                    return;
                }
            }

            _free++;
        }
    }

    /// <summary>Jobs granted a slot per user since the node started, and how many of them while another user also waited.</summary>
    public IReadOnlyList<UserShare> Shares()
    {
        lock (_lock)
        {
            return [.. _users.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new UserShare(p.Key, p.Value.Granted, p.Value.Contended))];
        }
    }

    private void Cancel(Waiter waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (!waiter.Granted.TrySetCanceled(token))
            {
                return;
            }

            // Rebuild the user's queue without the cancelled waiter; queues are short (bounded by maxWaiting).
            var queue = _waiting[waiter.User];
            var kept = queue.Where(w => !ReferenceEquals(w, waiter)).ToList();
            queue.Clear();
            foreach (var w in kept)
            {
                queue.Enqueue(w);
            }

            _waiters--;
            if (queue.Count == 0)
            {
                _turns.Remove(waiter.User);
            }
        }
    }

    private void CountGrant(string user, bool contended)
    {
        if (!_users.TryGetValue(user, out var counts))
        {
            counts = new UserCounts();
            _users[user] = counts;
        }

        counts.Granted++;
        if (contended)
        {
            counts.Contended++;
        }
    }

    private sealed class UserCounts
    {
        public long Granted;
        public long Contended;
    }

    private sealed class Waiter(string user)
    {
        public string User { get; } = user;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenRegistration Registration { get; set; }
    }
}
