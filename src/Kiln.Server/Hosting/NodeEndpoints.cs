using Kiln.Core.Cas;
using Kiln.Server.Cache;
using Kiln.Server.Compile;
using Kiln.Server.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Hosting;

/// <summary>The node's HTTP routes.</summary>
internal static class NodeEndpoints
{
    public static void Map(WebApplication app)
    {
        // First: every route below, gRPC included, sees only authenticated requests with the role they need.
        Security.HttpAccessControl.Use(app);
        app.MapGet("/api/stats", (KilnNodeOptions options, CompileExecutor executor, FileContentStore store) =>
            Results.Json(Status(options, executor, store), NodeJsonContext.Default.NodeStatus));
        app.MapGet("/metrics", (KilnNodeOptions options, CompileExecutor executor, Accounting.DashboardFeed feed, Accounting.JobLedger ledger) =>
            Results.Text(Metrics(options, executor) + Accounting.AccountingMetrics.Text(feed, ledger), PrometheusWriter.ContentType));
        _ = app.Services.GetRequiredService<NodeCounters>();
        // Opens the store (and recovers it after a crash) before any listener serves a request.
        _ = app.Services.GetRequiredService<FileContentStore>();
        CcacheEndpoints.Map(app);
        BazelHttpEndpoints.Map(app);
        CacheStatsEndpoint.Map(app);
        Grpc.GrpcEndpoints.Map(app);
        Accounting.AccountingEndpoints.Map(app);
        Trust.AttestationEndpoints.Map(app);
    }

    /// <summary>The node's metrics in Prometheus' text format.</summary>
    public static string Metrics(KilnNodeOptions options, CompileExecutor executor)
    {
        var c = executor.Counters;
        var node = ("node", options.NodeName);
        return new PrometheusWriter()
            .Gauge("kiln_slots", "Compile slots of the node.", executor.Slots, node)
            .Gauge("kiln_slots_free", "Compile slots free now.", executor.FreeSlots, node)
            .Gauge("kiln_jobs_running", "Compiles running now.", c.Running, node)
            .Counter("kiln_compiles_total", "Compiles run, by outcome.", c.CompilesOk, node, ("outcome", "ok"))
            .Counter("kiln_compiles_total", "Compiles run, by outcome.", c.CompilesFailed, node, ("outcome", "error"))
            .Counter("kiln_jobs_total", "Jobs received, by front end.", c.KilnJobs, node, ("frontend", "kiln"))
            .Counter("kiln_jobs_total", "Jobs received, by front end.", c.DistccJobs, node, ("frontend", "distcc"))
            .Counter("kiln_jobs_preprocessed_here_total", "Kiln jobs this node preprocessed itself (remote preprocessing).", c.PreprocessedHere, node)
            .Counter("kiln_jobs_warm_sandbox_total", "Jobs that ran in a sandbox set up before they arrived (warm sandboxes).", executor.WarmStarts, node)
            .Counter("kiln_jobs_started_ahead_total", "Jobs whose compiler started ahead of their input (JOB ahead).", executor.AheadStarts, node)
            .Counter("kiln_jobs_ahead_abandoned_total", "Jobs started ahead and stopped before an answer (taken back, or a cache hit).", executor.AheadAbandoned, node)
            .Counter("kiln_jobs_refused_total", "Jobs refused (allow-list, arguments, size).", c.Refused, node)
            .Counter("kiln_jobs_busy_total", "Jobs answered BUSY.", c.Busy, node)
            .Counter("kiln_protocol_errors_total", "Connections closed for a malformed frame.", c.ProtocolErrors, node)
            .Counter("kiln_job_bytes_in_total", "Bytes of job input received.", c.BytesIn, node)
            .Counter("kiln_job_bytes_out_total", "Bytes of job output sent.", c.BytesOut, node)
            .ToString();
    }

    public static NodeStatus Status(KilnNodeOptions options, CompileExecutor executor, FileContentStore? store = null)
    {
        var c = executor.Counters;
        return new NodeStatus(
            options.NodeName, executor.Slots, executor.FreeSlots, c.Running, c.MaxRunning, c.CompilesOk, c.CompilesFailed,
            c.Refused, c.Busy, c.ProtocolErrors, c.KilnJobs, c.DistccJobs, c.BytesIn, c.BytesOut, store?.GetStatistics(),
            executor.Shares(), executor.Waiting, executor.Admission.RefusedForLoad, executor.Admission.RefusedForMemory, executor.Admission.RefusedForDisk,
            c.PreprocessedHere, executor.WarmStarts, executor.AheadStarts, executor.AheadAbandoned);
    }
}
