using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Accounting;

/// <summary>
/// Moves job records from the ledger's queue into the database in batches: it waits for one record,
/// then takes whatever else is queued (up to <see cref="MaxBatch"/>) and writes them in one
/// transaction, so a busy node writes few large batches and an idle one writes each job at once.
/// At stop it writes what is left.
/// </summary>
public sealed partial class JobWriter(JobLedger ledger, AccountingDatabase database, ILogger<JobWriter> logger) : BackgroundService
{
    /// <summary>The most records written in one transaction.</summary>
    public const int MaxBatch = 512;

    private long _written;

    /// <summary>Records written since the node started.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<JobRecord>(MaxBatch);
        var reader = ledger.Pending;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                Drain(batch);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // The node is stopping: what the front ends recorded so far still reaches the disk.
        Drain(batch);
    }

    private void Drain(List<JobRecord> batch)
    {
        var reader = ledger.Pending;
        while (true)
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var record))
            {
                batch.Add(record);
            }

            if (batch.Count == 0)
            {
                return;
            }

            try
            {
                database.Insert(batch);
            }
            catch (Microsoft.Data.Sqlite.SqliteException e)
            {
                // A full or broken disk loses these records, not the node: the counters still count them.
                LogWriteFailed(batch.Count, e.Message);
            }

            Interlocked.Add(ref _written, batch.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "accounting: could not write {Count} job records: {Problem}")]
    private partial void LogWriteFailed(int count, string problem);
}
