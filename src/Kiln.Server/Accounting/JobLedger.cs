using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Threading.Channels;
using Kiln.Core.Compile;

namespace Kiln.Server.Accounting;

/// <summary>
/// Records every job a node sees, off the compile's path: the front end or executor hands over a
/// finished record (a few field copies and a channel write), and <see cref="JobWriter"/> batches the
/// records into the node's database. It also knows the jobs running now, for the dashboard.
/// Thread-safe.
/// </summary>
public sealed class JobLedger
{
    /// <summary>
    /// The writer's queue: far more records than a node finishes between two batches (a batch of 512
    /// takes a few milliseconds), so only a stalled disk drops records, and each drop is counted.
    /// </summary>
    private const int QueueCapacity = 65_536;

    private const int RecentCapacity = 50;

    private readonly Channel<JobRecord> _queue = Channel.CreateBounded<JobRecord>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly ConcurrentDictionary<long, LiveJob> _running = new();
    private readonly JobRecord[] _recent = new JobRecord[RecentCapacity];
    private readonly Lock _recentGate = new();
    private long _recentCount;
    private long _nextId;
    private long _enqueued;
    private long _dropped;
    private long _changes;

    /// <summary>Creates a ledger for <paramref name="node"/>; a disabled ledger records nothing.</summary>
    public JobLedger(string node, bool enabled)
    {
        Node = node;
        Enabled = enabled;
    }

    /// <summary>A ledger that records nothing: the default of an executor built without a node.</summary>
    public static JobLedger Off { get; } = new("", enabled: false);

    /// <summary>The node's name, written into each record.</summary>
    public string Node { get; }

    /// <summary>False when accounting is off.</summary>
    public bool Enabled { get; }

    /// <summary>Records handed to the writer.</summary>
    public long Enqueued => Interlocked.Read(ref _enqueued);

    /// <summary>Records dropped because the writer's queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Increases whenever a job starts or ends (the live feed sends a new snapshot only then).</summary>
    public long Changes => Interlocked.Read(ref _changes);

    internal ChannelReader<JobRecord> Pending => _queue.Reader;

    /// <summary>Sets the first job number (one past the highest in the database).</summary>
    internal void StartNumberingAt(long next) => Interlocked.Exchange(ref _nextId, next - 1);

    /// <summary>Starts timing a job that just arrived; null when accounting is off.</summary>
    public LiveJob? Begin(string client, string frontEnd, string compiler, string source, string actionKey, long bytesIn)
    {
        if (!Enabled)
        {
            return null;
        }

        var (identity, address) = SplitClient(client);
        var live = new LiveJob(Interlocked.Increment(ref _nextId), identity, address, frontEnd, compiler, source, actionKey, bytesIn);
        _running[live.Id] = live;
        Interlocked.Increment(ref _changes);
        return live;
    }

    /// <summary>Drops a job begun with <see cref="Begin"/> that ran nothing and will be recorded by another <see cref="Begin"/>.</summary>
    public void Forget(LiveJob? live)
    {
        if (live is not null && _running.TryRemove(live.Id, out _))
        {
            Interlocked.Increment(ref _changes);
        }
    }

    /// <summary>Records how a job begun with <see cref="Begin"/> ended.</summary>
    public void Finish(LiveJob? live, CompileResult result)
    {
        if (live is null)
        {
            return;
        }

        _running.TryRemove(live.Id, out _);
        var now = Stopwatch.GetTimestamp();
        var running = live.RunningTimestamp;
        var outcome = result.Outcome;
        Add(new JobRecord
        {
            Node = Node,
            Id = live.Id,
            StartedMs = live.StartedMs,
            Identity = live.Identity,
            Address = live.Address,
            FrontEnd = live.FrontEnd,
            ActionKey = live.ActionKey,
            Compiler = live.Compiler,
            Source = live.Source,
            BytesIn = live.BytesIn,
            BytesOut = outcome is null ? 0 : outcome.Object.Length + outcome.Stdout.Length + outcome.Stderr.Length + (outcome.DependencyFile?.Length ?? 0),
            QueueMs = (long)Stopwatch.GetElapsedTime(live.StartedTimestamp, running == 0 ? now : running).TotalMilliseconds,
            CpuMs = live.CpuMs,
            WallMs = (long)Stopwatch.GetElapsedTime(live.StartedTimestamp, now).TotalMilliseconds,
            ExitCode = outcome?.ExitCode,
            Refusal = outcome is null ? result.Refusal.ToString() : "",
        });
    }

    /// <summary>Records a job a front end refused before it reached the executor.</summary>
    public void Refused(string client, string frontEnd, string compiler, string source, long bytesIn, string reason)
    {
        if (!Enabled)
        {
            return;
        }

        var (identity, address) = SplitClient(client);
        Add(new JobRecord
        {
            Node = Node,
            Id = Interlocked.Increment(ref _nextId),
            StartedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Identity = identity,
            Address = address,
            FrontEnd = frontEnd,
            Compiler = compiler,
            Source = source,
            BytesIn = bytesIn,
            Refusal = reason,
        });
    }

    /// <summary>The jobs running or queued now, oldest first.</summary>
    public List<RunningJob> Running()
    {
        var list = new List<RunningJob>(_running.Count);
        foreach (var pair in _running)
        {
            list.Add(pair.Value.View());
        }

        list.Sort((a, b) => a.Id.CompareTo(b.Id));
        return list;
    }

    /// <summary>The most recent finished jobs, newest first.</summary>
    public List<JobRecord> Recent(int count)
    {
        lock (_recentGate)
        {
            var n = (int)Math.Min(Math.Min(count, RecentCapacity), _recentCount);
            var list = new List<JobRecord>(n);
            for (var i = 0; i < n; i++)
            {
                list.Add(_recent[(int)((_recentCount - 1 - i) % RecentCapacity)]);
            }

            return list;
        }
    }

    private void Add(JobRecord record)
    {
        lock (_recentGate)
        {
            _recent[(int)(_recentCount % RecentCapacity)] = record;
            _recentCount++;
        }

        Interlocked.Increment(ref _changes);
        if (_queue.Writer.TryWrite(record))
        {
            Interlocked.Increment(ref _enqueued);
        }
        else
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>
    /// Splits a front end's client text: "NAME@ADDR:PORT" (a Kiln protocol HELLO with a name) gives
    /// identity NAME; a bare "ADDR:PORT" or "ADDR" gives the address as identity.
    /// </summary>
    internal static (string Identity, string Address) SplitClient(string client)
    {
        var at = client.LastIndexOf('@');
        var peer = at >= 0 ? client[(at + 1)..] : client;
        var address = IPEndPoint.TryParse(peer, out var endPoint)
            ? (endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address).ToString()
            : peer;
        var identity = at > 0 ? client[..at] : address;
        return (identity, address);
    }
}
