using System.Collections.Concurrent;
using System.Globalization;
using Kiln.Server.Cache;
using Kiln.Server.Compile;

namespace Kiln.Server.Accounting;

/// <summary>
/// Builds the dashboard's snapshots: this node's slots and load, the nodes that report to it, running
/// and recent jobs, accounting totals, and the hit-rate history it samples once per interval.
/// </summary>
public sealed class DashboardFeed(
    JobLedger ledger, AccountingDatabase database, JobWriter writer, CompileExecutor executor, CacheCounters cache, IContestedActions contested)
{
    private const int HistoryLength = 300;

    private readonly ConcurrentDictionary<string, NodeReport> _reports = new(StringComparer.Ordinal);
    private readonly Queue<HitRatePoint> _history = new();
    private readonly Lock _historyGate = new();
    private long _sequence;
    private (long Hits, long Misses, long Jobs) _last = (-1, -1, -1);

    /// <summary>Notes the state a node sent with its records (the collector's view of the cluster).</summary>
    public void Report(NodeReport report)
    {
        if (report.Name != ledger.Node)
        {
            _reports[report.Name] = report with { SeenMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        }
    }

    /// <summary>This node's slots and load now.</summary>
    public NodeReport Self() =>
        new(ledger.Node, executor.Slots, executor.FreeSlots, executor.Counters.Running, LoadAverage(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    /// <summary>Adds one point to the hit-rate history: what changed since the previous point.</summary>
    public void Sample()
    {
        var hits = cache.Ccache.Hits + cache.BazelActionCache.Hits;
        var misses = cache.Ccache.Misses + cache.BazelActionCache.Misses;
        var jobs = executor.Counters.CompilesOk + executor.Counters.CompilesFailed;
        lock (_historyGate)
        {
            if (_last.Hits >= 0)
            {
                _history.Enqueue(new HitRatePoint(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), hits - _last.Hits, misses - _last.Misses, jobs - _last.Jobs));
                while (_history.Count > HistoryLength)
                {
                    _history.Dequeue();
                }
            }

            _last = (hits, misses, jobs);
        }
    }

    /// <summary>The accounting totals with the writer's progress.</summary>
    public AccountingSummary Accounting(string? collector)
    {
        var totals = database.Totals();
        return new AccountingSummary
        {
            Node = ledger.Node,
            Enqueued = ledger.Enqueued,
            Written = writer.Written,
            Dropped = ledger.Dropped,
            Pushed = collector is null ? 0 : database.PushedTo(collector).Count,
            Totals = totals,
            ByUser = Sum(totals, byNode: false),
            ByNode = Sum(totals, byNode: true),
            Refusals = database.Refusals(),
        };
    }

    /// <summary>A snapshot of everything the dashboard shows.</summary>
    public DashboardSnapshot Snapshot(string? collector)
    {
        var nodes = new List<NodeReport> { Self() };
        foreach (var report in _reports.Values)
        {
            nodes.Add(report);
        }

        nodes.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        List<HitRatePoint> history;
        lock (_historyGate)
        {
            history = [.. _history];
        }

        return new DashboardSnapshot
        {
            Sequence = Interlocked.Increment(ref _sequence),
            Node = ledger.Node,
            TimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Nodes = nodes,
            Running = ledger.Running(),
            Recent = ledger.Recent(20),
            Accounting = Accounting(collector),
            HitRate = history,
            Contested = contested.List(50),
        };
    }

    private static List<AccountingTotal> Sum(List<AccountingTotal> totals, bool byNode)
    {
        var sums = new SortedDictionary<string, AccountingTotal>(StringComparer.Ordinal);
        foreach (var t in totals)
        {
            var key = byNode ? t.Node : t.Identity;
            sums.TryGetValue(key, out var s);
            sums[key] = new AccountingTotal
            {
                Node = byNode ? key : "",
                Identity = byNode ? "" : key,
                Jobs = (s?.Jobs ?? 0) + t.Jobs,
                Failed = (s?.Failed ?? 0) + t.Failed,
                Refused = (s?.Refused ?? 0) + t.Refused,
                CpuMs = (s?.CpuMs ?? 0) + t.CpuMs,
                WallMs = (s?.WallMs ?? 0) + t.WallMs,
                QueueMs = (s?.QueueMs ?? 0) + t.QueueMs,
                BytesIn = (s?.BytesIn ?? 0) + t.BytesIn,
                BytesOut = (s?.BytesOut ?? 0) + t.BytesOut,
            };
        }

        return [.. sums.Values];
    }

    private static double LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            var space = text.IndexOf(' ');
            return double.TryParse(space > 0 ? text[..space] : text, NumberStyles.Float, CultureInfo.InvariantCulture, out var load) ? load : 0;
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
