using System.Globalization;
using System.Text;
using Kiln.Server.Accounting;

namespace Kiln.Cli.Observe;

/// <summary>A dashboard snapshot as terminal text: the summary <c>kiln status</c> prints and each frame of <c>kiln monitor</c>.</summary>
internal static class SnapshotText
{
    public static string Summary(DashboardSnapshot s, bool withRunning)
    {
        var text = new StringBuilder();
        var a = s.Accounting;
        text.Append(CultureInfo.InvariantCulture, $"kiln node {s.Node} at {DateTimeOffset.FromUnixTimeMilliseconds(s.TimeMs).UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC\n");
        text.Append("nodes:\n");
        foreach (var n in s.Nodes)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {n.Name,-20} {n.Slots,3} slots {n.FreeSlots,3} free {n.Running,3} running  load {n.Load:0.00}\n");
        }

        long recorded = 0;
        foreach (var t in a.ByNode)
        {
            recorded += t.Jobs;
        }

        text.Append(CultureInfo.InvariantCulture, $"running now: {s.Running.Count}   jobs recorded: {recorded}   writer: {a.Written}/{a.Enqueued} written, {a.Dropped} dropped, {a.Pushed} sent to the collector\n");
        if (withRunning && s.Running.Count > 0)
        {
            text.Append("running:\n");
            foreach (var j in s.Running)
            {
                var age = (s.TimeMs - j.StartedMs) / 1000.0;
                text.Append(CultureInfo.InvariantCulture, $"  #{j.Id,-7} {j.Identity,-12} {j.FrontEnd,-6} {j.Compiler,-8} {j.Source} ({(j.Queued ? "queued" : age.ToString("0.0", CultureInfo.InvariantCulture) + " s")})\n");
            }
        }

        Totals(text, "by user", a.ByUser, t => t.Identity);
        Totals(text, "by node", a.ByNode, t => t.Node);
        if (a.Refusals.Count > 0)
        {
            text.Append("refusals:");
            foreach (var r in a.Refusals)
            {
                text.Append(CultureInfo.InvariantCulture, $" {r.Reason} {r.Count}");
            }

            text.Append('\n');
        }

        text.Append(CultureInfo.InvariantCulture, $"contested actions: {s.Contested.Count}\n");
        return text.ToString();
    }

    private static void Totals(StringBuilder text, string title, List<AccountingTotal> totals, Func<AccountingTotal, string> name)
    {
        if (totals.Count == 0)
        {
            return;
        }

        text.Append(CultureInfo.InvariantCulture, $"{title}:{"",-12} {"jobs",8} {"failed",7} {"refused",8} {"CPU s",9} {"in",10} {"out",10}\n");
        foreach (var t in totals)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {name(t),-20} {t.Jobs,8} {t.Failed,7} {t.Refused,8} {t.CpuMs / 1000.0,9:0.0} {Bytes(t.BytesIn),10} {Bytes(t.BytesOut),10}\n");
        }
    }

    internal static string Bytes(long n) => n switch
    {
        < 1024 => n.ToString(CultureInfo.InvariantCulture) + " B",
        < 1 << 20 => (n / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        < 1 << 30 => (n / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        _ => (n / 1073741824.0).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
    };
}
