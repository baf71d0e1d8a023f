using System.Globalization;
using System.Text;
using System.Text.Json;
using Kiln.Server.Compile;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kiln.Server.Accounting;

/// <summary>
/// The dashboard at <c>/</c> and its API: <c>/api/jobs</c> (GET lists records; POST is the
/// collector's intake), <c>/api/accounting</c>, <c>/api/running</c>, <c>/api/contested</c>,
/// <c>/api/dashboard</c> (one snapshot) and <c>/api/events</c> (snapshots as server-sent events).
/// </summary>
internal static class AccountingEndpoints
{
    /// <summary>The largest batch body the collector reads.</summary>
    public const int MaxBatchBytes = 16 << 20;

    /// <summary>The most records in one batch.</summary>
    public const int MaxBatchRecords = 5000;

    /// <summary>The longest text field a pushed record may carry.</summary>
    public const int MaxFieldLength = 4096;

    private static readonly TimeSpan EventTick = TimeSpan.FromMilliseconds(500);

    public static void Map(WebApplication app)
    {
        // The executor exists before the services do; it records into the node's ledger from here on.
        app.Services.GetRequiredService<CompileExecutor>().Ledger = app.Services.GetRequiredService<JobLedger>();

        app.MapGet("/", () => DashboardAssets.Result("index.html"));
        app.MapGet("/dashboard.js", () => DashboardAssets.Result("dashboard.js"));
        app.MapGet("/dashboard.css", () => DashboardAssets.Result("dashboard.css"));

        app.MapGet("/api/jobs", (AccountingDatabase database, int? limit, string? node, string? user) =>
            Results.Json(database.Jobs(Math.Clamp(limit ?? 100, 1, 1_000_000), node, user), AccountingJsonContext.Default.ListJobRecord));
        app.MapPost("/api/jobs", ReceiveAsync);
        app.MapGet("/api/accounting", (DashboardFeed feed, AccountingOptions options) =>
            Results.Json(feed.Accounting(options.Collector?.ToString()), AccountingJsonContext.Default.AccountingSummary));
        app.MapGet("/api/running", (JobLedger ledger) => Results.Json(ledger.Running(), AccountingJsonContext.Default.ListRunningJob));
        app.MapGet("/api/contested", (IContestedActions contested, int? limit) =>
            Results.Json(contested.List(Math.Clamp(limit ?? 100, 1, 10_000)), AccountingJsonContext.Default.IReadOnlyListContestedAction));
        app.MapGet("/api/dashboard", (DashboardFeed feed, AccountingOptions options) =>
            Results.Json(feed.Snapshot(options.Collector?.ToString()), AccountingJsonContext.Default.DashboardSnapshot));
        app.MapGet("/api/events", StreamAsync);
    }

    /// <summary>The collector's intake: a node's batch of its own records, each counted once however often it is sent.</summary>
    private static async Task<IResult> ReceiveAsync(HttpRequest request, AccountingDatabase database, DashboardFeed feed, JobLedger ledger)
    {
        if (request.ContentLength > MaxBatchBytes)
        {
            return Results.Text($"a batch may take at most {MaxBatchBytes} bytes\n", statusCode: StatusCodes.Status413PayloadTooLarge);
        }

        using var body = new MemoryStream();
        var buffer = new byte[65536];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted)) > 0)
        {
            if (body.Length + read > MaxBatchBytes)
            {
                return Results.Text($"a batch may take at most {MaxBatchBytes} bytes\n", statusCode: StatusCodes.Status413PayloadTooLarge);
            }

            body.Write(buffer, 0, read);
        }

        JobBatch? batch;
        try
        {
            batch = JsonSerializer.Deserialize(body.GetBuffer().AsSpan(0, (int)body.Length), AccountingJsonContext.Default.JobBatch);
        }
        catch (JsonException e)
        {
            return Results.Text($"not a job batch: {e.Message}\n", statusCode: StatusCodes.Status400BadRequest);
        }

        var problem = Check(batch, ledger.Node);
        if (problem is not null)
        {
            return Results.Text(problem + "\n", statusCode: StatusCodes.Status400BadRequest);
        }

        var added = database.Insert(batch!.Records);
        feed.Report(batch.Node);
        return Results.Json(new BatchAccepted(batch.Records.Count, added), AccountingJsonContext.Default.BatchAccepted);
    }

    /// <summary>Null when the batch is acceptable, else what is wrong with it.</summary>
    internal static string? Check(JobBatch? batch, string self)
    {
        if (batch?.Node is null || batch.Records is null)
        {
            return "a job batch needs 'node' and 'records'";
        }

        var name = batch.Node.Name;
        if (string.IsNullOrEmpty(name) || name.Length > 256)
        {
            return "the batch's node needs a name of 1 to 256 characters";
        }

        if (name == self)
        {
            return $"the batch names this node ({self}) as its sender; a node records its own jobs itself";
        }

        if (batch.Records.Count > MaxBatchRecords)
        {
            return $"a batch may hold at most {MaxBatchRecords} records, not {batch.Records.Count}";
        }

        foreach (var r in batch.Records)
        {
            if (r is null)
            {
                return "a batch's records may not be null";
            }

            if (r.Node != name)
            {
                return $"record {r.Id} names node '{r.Node}'; a node sends only its own records ('{name}')";
            }

            if (r.Id <= 0 || r.BytesIn < 0 || r.BytesOut < 0 || r.CpuMs < 0 || r.WallMs < 0 || r.QueueMs < 0)
            {
                return $"record {r.Id.ToString(CultureInfo.InvariantCulture)} has a number out of range";
            }

            if (TooLong(r.Identity) || TooLong(r.Address) || TooLong(r.FrontEnd) || TooLong(r.ActionKey) || TooLong(r.Compiler)
                || TooLong(r.Source) || TooLong(r.Cache) || TooLong(r.CacheFrom) || TooLong(r.Refusal))
            {
                return $"record {r.Id.ToString(CultureInfo.InvariantCulture)} has a missing field or one longer than {MaxFieldLength} characters";
            }
        }

        return null;
    }

    private static bool TooLong(string? value) => value is null || value.Length > MaxFieldLength;

    /// <summary>Server-sent events: a snapshot when jobs started or ended, else one every few seconds to keep the stream alive.</summary>
    private static async Task StreamAsync(HttpContext context, DashboardFeed feed, JobLedger ledger, AccountingOptions options, IHostApplicationLifetime lifetime)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var token = stop.Token;
        using var timer = new PeriodicTimer(EventTick);
        var collector = options.Collector?.ToString();
        var lastChanges = -1L;
        var quiet = 0;
        try
        {
            do
            {
                var changes = ledger.Changes;
                if (changes == lastChanges && ++quiet < 10)
                {
                    continue;
                }

                quiet = 0;
                lastChanges = changes;
                var json = JsonSerializer.Serialize(feed.Snapshot(collector), AccountingJsonContext.Default.DashboardSnapshot);
                await context.Response.WriteAsync("data: " + json + "\n\n", Encoding.UTF8, token);
                await context.Response.Body.FlushAsync(token);
            }
            while (await timer.WaitForNextTickAsync(token));
        }
        catch (OperationCanceledException)
        {
            // The browser left or the node is stopping.
        }
        catch (IOException)
        {
        }
    }
}
