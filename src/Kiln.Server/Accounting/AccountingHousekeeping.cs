using System.Net.Http.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Accounting;

/// <summary>
/// Once per interval: samples the hit-rate history, sends this node's new records to the collector
/// (when one is set; a bounded number of batches per round, each acknowledged before the next), and
/// now and then deletes records past the retention.
/// </summary>
public sealed partial class AccountingHousekeeping(
    AccountingOptions options, JobLedger ledger, AccountingDatabase database, DashboardFeed feed, ILogger<AccountingHousekeeping> logger)
    : BackgroundService
{
    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(1);

    /// <summary>The most batches one round sends, so one round never runs long.</summary>
    private const int MaxBatchesPerRound = 20;

    private string? _lastPushProblem;

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var timer = new PeriodicTimer(options.PushInterval);
        var lastPrune = DateTime.MinValue;
        try
        {
            do
            {
                feed.Sample();
                if (options.Collector is not null)
                {
                    await PushAsync(http, options.Collector, stoppingToken).ConfigureAwait(false);
                }

                if (DateTime.UtcNow - lastPrune > PruneInterval)
                {
                    lastPrune = DateTime.UtcNow;
                    database.Prune(options.Retention, options.RetentionRows);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Sends unsent records in batches; stops at the first failure and tries again next round.</summary>
    internal async Task PushAsync(HttpClient http, Uri collector, CancellationToken cancellationToken)
    {
        var key = collector.ToString();
        var target = new Uri(collector, "/api/jobs");
        for (var round = 0; round < MaxBatchesPerRound; round++)
        {
            var (lastId, _) = database.PushedTo(key);
            var records = database.Unpushed(ledger.Node, lastId, options.PushBatch);
            if (records.Count == 0)
            {
                return;
            }

            var batch = new JobBatch { Node = feed.Self(), Records = records };
            try
            {
                using var response = await http.PostAsJsonAsync(target, batch, AccountingJsonContext.Default.JobBatch, cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    NotePushProblem(key, $"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)}");
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                NotePushProblem(key, e.Message);
                return;
            }

            _lastPushProblem = null;
            database.MarkPushed(key, records[^1].Id, records.Count);
            if (records.Count < options.PushBatch)
            {
                return;
            }
        }
    }

    private void NotePushProblem(string collector, string problem)
    {
        // One line per kind of failure, not one per second while the collector is down.
        if (problem != _lastPushProblem)
        {
            _lastPushProblem = problem;
            LogPushFailed(collector, problem);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "accounting: could not send job records to the collector {Collector}: {Problem}; trying again")]
    private partial void LogPushFailed(string collector, string problem);
}
