using System.Net.Http.Json;
using Kiln.Core.Compile;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Server.Accounting;
using Kiln.Tests.Protocol;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Accounting;

/// <summary>Reads a node's accounting API and sends it real compiles, for the accounting tests.</summary>
internal static class AccountingApi
{
    public static async Task<AccountingSummary> SummaryAsync(HttpClient http, string node) =>
        (await http.GetFromJsonAsync($"http://{node}/api/accounting", AccountingJsonContext.Default.AccountingSummary))!;

    public static async Task<List<JobRecord>> JobsAsync(HttpClient http, string node, string? ofNode = null) =>
        (await http.GetFromJsonAsync($"http://{node}/api/jobs?limit=1000000" + (ofNode is null ? "" : "&node=" + Uri.EscapeDataString(ofNode)),
            AccountingJsonContext.Default.ListJobRecord))!;

    /// <summary>Waits until every record the node enqueued is in its database.</summary>
    public static Task WrittenAsync(HttpClient http, string node, long atLeast) =>
        Wait.UntilAsync(() =>
        {
            var s = SummaryAsync(http, node).GetAwaiter().GetResult();
            return s.Written >= atLeast && s.Written == s.Enqueued;
        }, $"node {node} to write {atLeast} job records");

    /// <summary>
    /// Checks that the totals per node and identity equal the sums over the records, field by field,
    /// and that there is a total for every node and identity the records name.
    /// </summary>
    public static void AssertTotalsEqualRecords(IEnumerable<AccountingTotal> totals, IEnumerable<JobRecord> records, string where)
    {
        var sums = records.GroupBy(r => (r.Node, r.Identity)).ToDictionary(g => g.Key, g => new AccountingTotal
        {
            Node = g.Key.Node,
            Identity = g.Key.Identity,
            Jobs = g.LongCount(),
            Failed = g.LongCount(r => r.ExitCode is { } c && c != 0),
            Refused = g.LongCount(r => r.Refusal.Length > 0),
            CpuMs = g.Sum(r => r.CpuMs),
            WallMs = g.Sum(r => r.WallMs),
            QueueMs = g.Sum(r => r.QueueMs),
            BytesIn = g.Sum(r => r.BytesIn),
            BytesOut = g.Sum(r => r.BytesOut),
        });
        var actual = totals.ToDictionary(t => (t.Node, t.Identity));
        Assert.True(sums.Count > 0, $"{where}: no job records");
        Assert.Equal(sums.Keys.OrderBy(k => k).ToList(), actual.Keys.OrderBy(k => k).ToList());
        foreach (var (key, sum) in sums)
        {
            Assert.True(sum == actual[key], $"{where}: totals of {key} are {actual[key]}; the records add up to {sum}");
        }
    }

    /// <summary>Compiles <paramref name="source"/> on the node as <paramref name="user"/> over the Kiln protocol.</summary>
    public static Task<RemoteCompileReply> CompileAsync(TestNode node, string user, string source, string compiler = "gcc") =>
        CompileAsync(ProtocolTestKit.Host(node), user, source, compiler);

    /// <summary>Compiles <paramref name="source"/> on a node running as its own process, over TLS pinned to its fingerprint.</summary>
    public static Task<RemoteCompileReply> CompileAsync(NodeProcess node, string user, string source, string compiler = "gcc") =>
        CompileAsync(ProtocolTestKit.Host(node.KilnEndPoint) with { Plaintext = false, Fingerprint = node.Fingerprint }, user, source, compiler);

    /// <summary>Compiles <paramref name="source"/> on the node <paramref name="kiln"/> as <paramref name="user"/>.</summary>
    public static async Task<RemoteCompileReply> CompileAsync(Kiln.Core.Hosts.HostSpec kiln, string user, string source, string compiler = "gcc")
    {
        using var client = new KilnProtocolClient(new KilnClientOptions { ClientName = user });
        using var dir = new TempDirectory("kiln-acct");
        dir.Write("unit.c", source);
        var command = CompileCommand.Parse("gcc", ["-O2", "-c", "unit.c", "-o", "unit.o"]);
        var preprocessed = await ProtocolTestKit.PreprocessAsync("gcc", command, dir.Path);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        return await client.CompileAsync(kiln, new RemoteCompileRequest
        {
            Compiler = compiler,
            Arguments = command.RemoteArguments(),
            Language = command.Language.Preprocessed(),
            Preprocessed = preprocessed,
            SourceName = "unit.c",
            OutputName = "unit.o",
            WorkingDirectory = dir.Path,
        }, cts.Token);
    }
}
