using Kiln.Server.Metrics;

namespace Kiln.Server.Accounting;

/// <summary>The accounting families of <c>/metrics</c>: totals per node and user, refusals by reason, the writer's queue.</summary>
internal static class AccountingMetrics
{
    public static string Text(DashboardFeed feed, JobLedger ledger)
    {
        var writer = new PrometheusWriter();
        var self = ("node", ledger.Node);
        writer.Gauge("kiln_accounting_enabled", "1 when the node records every job.", ledger.Enabled ? 1 : 0, self)
            .Counter("kiln_accounting_records_total", "Job records handed to the writer since start.", ledger.Enqueued, self)
            .Counter("kiln_accounting_dropped_total", "Job records dropped because the writer's queue was full.", ledger.Dropped, self)
            .Gauge("kiln_jobs_live", "Jobs running or queued now, as the ledger sees them.", ledger.Running().Count, self);
        if (!ledger.Enabled)
        {
            return writer.ToString();
        }

        var summary = feed.Accounting(null);
        foreach (var t in summary.Totals)
        {
            (string, string)[] labels = [("node", t.Node), ("user", t.Identity)];
            writer.Counter("kiln_user_jobs_total", "Job records by node and user.", t.Jobs, labels);
        }

        foreach (var t in summary.Totals)
        {
            writer.Counter("kiln_user_cpu_seconds_total", "Compiler CPU seconds by node and user.", t.CpuMs / 1000.0, ("node", t.Node), ("user", t.Identity));
        }

        foreach (var t in summary.Totals)
        {
            writer.Counter("kiln_user_bytes_in_total", "Job input bytes by node and user.", t.BytesIn, ("node", t.Node), ("user", t.Identity));
        }

        foreach (var t in summary.Totals)
        {
            writer.Counter("kiln_user_bytes_out_total", "Job output bytes by node and user.", t.BytesOut, ("node", t.Node), ("user", t.Identity));
        }

        foreach (var t in summary.Totals)
        {
            writer.Counter("kiln_user_queue_seconds_total", "Seconds jobs waited for a slot, by node and user.", t.QueueMs / 1000.0, ("node", t.Node), ("user", t.Identity));
        }

        foreach (var r in summary.Refusals)
        {
            writer.Counter("kiln_refusals_total", "Refused jobs by reason.", r.Count, self, ("reason", r.Reason));
        }

        return writer.ToString();
    }
}
