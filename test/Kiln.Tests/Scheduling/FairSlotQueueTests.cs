using Kiln.Server.Scheduling;

namespace Kiln.Tests.Scheduling;

/// <summary>The node's slot queue: users take turns, the queue bound gives BUSY, a cancelled wait leaves no hole.</summary>
public sealed class FairSlotQueueTests
{
    [Fact]
    public async Task Users_take_turns_when_slots_are_contended()
    {
        var queue = new FairSlotQueue(1);
        Assert.True(queue.TryEnter("alice", 100, CancellationToken.None)!.IsCompletedSuccessfully);

        // alice queues ten jobs before bob queues three: bob still gets every other slot.
        var waiting = new List<(string User, Task Granted)>();
        for (var i = 0; i < 10; i++)
        {
            waiting.Add(("alice", queue.TryEnter("alice", 100, CancellationToken.None)!));
        }

        for (var i = 0; i < 3; i++)
        {
            waiting.Add(("bob", queue.TryEnter("bob", 100, CancellationToken.None)!));
        }

        Assert.Equal(13, queue.Waiting);
        var users = new List<string>();
        var seen = new HashSet<int>();
        for (var i = 0; i < 13; i++)
        {
            queue.Release();
            var granted = Enumerable.Range(0, waiting.Count).Where(j => waiting[j].Granted.IsCompleted && !seen.Contains(j)).ToList();
            var next = Assert.Single(granted);
            seen.Add(next);
            users.Add(waiting[next].User);
            await waiting[next].Granted;
        }

        Assert.Equal(["alice", "bob", "alice", "bob", "alice", "bob", "alice", "alice", "alice", "alice", "alice", "alice", "alice"], users);
        queue.Release();
        Assert.Equal(1, queue.Free);

        var shares = queue.Shares().ToDictionary(s => s.User);
        Assert.Equal(11, shares["alice"].Jobs);
        Assert.Equal(3, shares["bob"].Jobs);

        // While both waited, each got the same number of slots.
        Assert.Equal(3, shares["bob"].ContendedJobs);
        Assert.Equal(3, shares["alice"].ContendedJobs);
    }

    [Fact]
    public void A_full_queue_answers_at_once_instead_of_queueing()
    {
        var queue = new FairSlotQueue(2);
        Assert.NotNull(queue.TryEnter("a", 1, CancellationToken.None));
        Assert.NotNull(queue.TryEnter("a", 1, CancellationToken.None));
        var third = queue.TryEnter("b", 1, CancellationToken.None);
        Assert.NotNull(third);
        Assert.False(third.IsCompleted);
        Assert.Null(queue.TryEnter("b", 1, CancellationToken.None));
        Assert.Equal(0, queue.Free);
        Assert.Equal(1, queue.Waiting);
    }

    [Fact]
    public async Task A_cancelled_wait_gives_its_turn_to_the_next_job()
    {
        var queue = new FairSlotQueue(1);
        Assert.True(queue.TryEnter("a", 10, CancellationToken.None)!.IsCompletedSuccessfully);
        using var gone = new CancellationTokenSource();
        var cancelled = queue.TryEnter("b", 10, gone.Token)!;
        var next = queue.TryEnter("c", 10, CancellationToken.None)!;
        await gone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(1, queue.Waiting);

        queue.Release();
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        queue.Release();
        Assert.Equal(1, queue.Free);
        Assert.Equal(0, queue.Waiting);
    }

    [Fact]
    public async Task Many_users_and_threads_never_exceed_the_slots()
    {
        var queue = new FairSlotQueue(3);
        var running = 0;
        var most = 0;
        var random = new Random(7);
        var delays = Enumerable.Range(0, 200).Select(_ => random.Next(0, 3)).ToArray();
        await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            await Task.Yield();
            await queue.TryEnter("user" + (i % 5), 1000, CancellationToken.None)!;
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            await Task.Delay(delays[i]);
            Interlocked.Decrement(ref running);
            queue.Release();
        })).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.InRange(most, 1, 3);
        Assert.Equal(3, queue.Free);
        Assert.Equal(200, queue.Shares().Sum(s => s.Jobs));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
