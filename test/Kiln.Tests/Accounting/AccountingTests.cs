using System.Net;
using System.Net.Http.Json;
using System.Text;
using Kiln.Core.Remote;
using Kiln.Server.Accounting;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Accounting;

/// <summary>Job records, totals, the collector and the dashboard's API on in-process nodes with real gcc compiles.</summary>
public sealed class AccountingTests
{
    private const string Busy = "int f(int n) { int s = 0; for (int i = 0; i < n; i++) s += i * i; return s; }\n";

    [Fact]
    public async Task Every_job_is_recorded_with_who_asked_and_totals_equal_the_records()
    {
        await using var node = await TestNode.StartAsync();
        using var http = new HttpClient();
        var api = node.Node.HttpEndPoint!.ToString();

        Assert.Equal(RemoteStatus.Completed, (await AccountingApi.CompileAsync(node, "alice", Busy)).Status);
        Assert.Equal(RemoteStatus.Completed, (await AccountingApi.CompileAsync(node, "alice", "int g(void) { return 1; }\n")).Status);
        var bob = await AccountingApi.CompileAsync(node, "bob", "int h(void) { return undeclared; }\n");
        Assert.Equal(1, bob.Outcome!.ExitCode);
        var refused = await AccountingApi.CompileAsync(node, "bob", Busy, compiler: "python3");
        Assert.Equal(RemoteStatus.Refused, refused.Status);

        await AccountingApi.WrittenAsync(http, api, 4);
        var records = await AccountingApi.JobsAsync(http, api);
        Assert.Equal(4, records.Count);
        Assert.All(records, r => Assert.Equal("test-node", r.Node));
        Assert.All(records, r => Assert.Equal("127.0.0.1", r.Address));
        Assert.All(records, r => Assert.Equal("kiln", r.FrontEnd));
        Assert.Equal(["alice", "alice", "bob", "bob"], records.Select(r => r.Identity).Order().ToArray());
        Assert.Equal(4, records.Select(r => r.Id).Distinct().Count());

        var ran = records.Where(r => r.Refusal.Length == 0).ToList();
        Assert.Equal(3, ran.Count);
        Assert.All(ran, r => Assert.True(r.BytesIn > 0 && r.WallMs >= r.QueueMs, $"record {r.Id}: in {r.BytesIn}, wall {r.WallMs}, queue {r.QueueMs}"));
        Assert.Contains(ran, r => r.ExitCode == 1 && r.Identity == "bob");
        Assert.True(ran.Where(r => r.ExitCode == 0).All(r => r.BytesOut > 0), "a successful compile sends an object");
        Assert.True(ran.Sum(r => r.CpuMs) > 0, "gcc used no CPU time at all?");

        var refusal = Assert.Single(records, r => r.Refusal.Length > 0);
        Assert.Equal("CompilerNotAllowed", refusal.Refusal);
        Assert.Null(refusal.ExitCode);
        Assert.Equal("python3", refusal.Compiler);

        var summary = await AccountingApi.SummaryAsync(http, api);
        AccountingApi.AssertTotalsEqualRecords(summary.Totals, records, "node");
        Assert.Equal(new RefusalCount("CompilerNotAllowed", 1), Assert.Single(summary.Refusals));
        Assert.Equal(2, summary.ByUser.Single(t => t.Identity == "alice").Jobs);
    }

    [Fact]
    public async Task Records_reach_the_collector_once_and_its_totals_equal_them()
    {
        await using var collector = await TestNode.StartAsync(configure: o => o.NodeName = "collector");
        var collectorApi = collector.Node.HttpEndPoint!.ToString();
        await using var worker = await TestNode.StartAsync(configure: o =>
        {
            o.NodeName = "worker";
            o.Accounting.Collector = new Uri($"http://{collectorApi}");
            o.Accounting.PushInterval = TimeSpan.FromMilliseconds(100);
        });
        using var http = new HttpClient();
        var workerApi = worker.Node.HttpEndPoint!.ToString();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(RemoteStatus.Completed, (await AccountingApi.CompileAsync(worker, i % 2 == 0 ? "carol" : "dave", $"int v{i}(void) {{ return {i}; }}\n")).Status);
        }

        Assert.Equal(RemoteStatus.Completed, (await AccountingApi.CompileAsync(collector, "carol", Busy)).Status);
        await AccountingApi.WrittenAsync(http, workerApi, 3);
        await Wait.UntilAsync(() => AccountingApi.SummaryAsync(http, workerApi).GetAwaiter().GetResult().Pushed == 3, "the worker to send its 3 records");

        var workerRecords = await AccountingApi.JobsAsync(http, workerApi);
        var atCollector = await AccountingApi.JobsAsync(http, collectorApi, ofNode: "worker");
        Assert.Equal(workerRecords.OrderBy(r => r.Id), atCollector.OrderBy(r => r.Id));
        var summary = await AccountingApi.SummaryAsync(http, collectorApi);
        AccountingApi.AssertTotalsEqualRecords(summary.Totals, await AccountingApi.JobsAsync(http, collectorApi), "collector");
        Assert.Equal(["collector", "worker"], summary.ByNode.Select(t => t.Node).ToArray());

        // A batch sent again (a lost acknowledgement) adds nothing.
        var again = await http.PostAsJsonAsync($"http://{collectorApi}/api/jobs",
            new JobBatch { Node = new NodeReport("worker", 2, 2, 0, 0, 0), Records = workerRecords }, AccountingJsonContext.Default.JobBatch);
        Assert.Equal(new BatchAccepted(3, 0), await again.Content.ReadFromJsonAsync(AccountingJsonContext.Default.BatchAccepted));
        Assert.Equal(summary.Totals, (await AccountingApi.SummaryAsync(http, collectorApi)).Totals);

        var dashboard = await http.GetFromJsonAsync($"http://{collectorApi}/api/dashboard", AccountingJsonContext.Default.DashboardSnapshot);
        Assert.Equal(["collector", "worker"], dashboard!.Nodes.Select(n => n.Name).ToArray());
    }

    [Fact]
    public async Task The_collector_refuses_hostile_batches_with_a_reason_and_keeps_serving()
    {
        await using var node = await TestNode.StartAsync();
        using var http = new HttpClient();
        var url = $"http://{node.Node.HttpEndPoint}/api/jobs";
        var record = new JobRecord { Node = "other", Id = 1, StartedMs = 1, Identity = "eve" };

        async Task<(HttpStatusCode, string)> Post(string body)
        {
            using var response = await http.PostAsync(url, new StringContent(body, Encoding.UTF8, "application/json"));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        string Json(JobBatch batch) => System.Text.Json.JsonSerializer.Serialize(batch, AccountingJsonContext.Default.JobBatch);
        var cases = new (string Body, string Says)[]
        {
            ("garbage", "not a job batch"),
            ("{\"node\":{\"name\":\"other\"", "not a job batch"),
            ("{}", "missing required properties"),
            ("{\"node\":null,\"records\":null}", "needs 'node' and 'records'"),
            (Json(new JobBatch { Node = new NodeReport("other", 1, 1, 0, 0, 0), Records = [record with { Node = "someone-else" }] }), "only its own records"),
            (Json(new JobBatch { Node = new NodeReport("test-node", 1, 1, 0, 0, 0), Records = [] }), "names this node"),
            (Json(new JobBatch { Node = new NodeReport("other", 1, 1, 0, 0, 0), Records = [record with { CpuMs = -5 }] }), "out of range"),
            (Json(new JobBatch { Node = new NodeReport("other", 1, 1, 0, 0, 0), Records = [record with { Source = new string('x', 5000) }] }), "longer than"),
            (Json(new JobBatch { Node = new NodeReport("other", 1, 1, 0, 0, 0), Records = Enumerable.Range(1, 5001).Select(i => record with { Id = i }).ToList() }), "at most 5000"),
        };
        foreach (var (body, says) in cases)
        {
            var (status, text) = await Post(body);
            Assert.True(status == HttpStatusCode.BadRequest && text.Contains(says, StringComparison.Ordinal), $"{body[..Math.Min(60, body.Length)]}: {status} {text}");
        }

        using (var huge = new ByteArrayContent(new byte[AccountingEndpoints.MaxBatchBytes + 1]))
        {
            using var response = await http.PostAsync(url, huge);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }

        var summary = await AccountingApi.SummaryAsync(http, node.Node.HttpEndPoint!.ToString());
        Assert.Empty(summary.Totals);
        var (ok, _) = await Post(Json(new JobBatch { Node = new NodeReport("other", 1, 1, 0, 0, 0), Records = [record] }));
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Equal(1, (await AccountingApi.SummaryAsync(http, node.Node.HttpEndPoint!.ToString())).ByNode.Single().Jobs);
    }

    [Fact]
    public async Task Each_job_is_charged_its_own_compilers_cpu_time()
    {
        // A node of its own process: its only children are the compilers it runs, as in production.
        await using var node = await NodeProcess.StartAsync(slots: 1);
        using var http = new HttpClient();
        var api = node.HttpEndPoint.ToString();
        const string heavy = "#define R(x) x x x x\nint f(int *a) { int s = 0; R(R(R(for (int i = 0; i < 100; i++) s += a[i] * i;))) return s; }\n";
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(RemoteStatus.Completed, (await AccountingApi.CompileAsync(node, "grace", heavy + $"int k{i};\n")).Status);
        }

        await AccountingApi.WrittenAsync(http, api, 3);
        var records = await AccountingApi.JobsAsync(http, api);
        Assert.Equal(3, records.Count);
        // The compiles ran one at a time, so each charge is that compile's own gcc, cc1 and as.
        Assert.All(records, r => Assert.True(r.CpuMs > 0 && r.CpuMs <= r.WallMs + 5, $"record {r.Id}: {r.CpuMs} ms CPU in {r.WallMs} ms wall"));
    }

    [Fact]
    public async Task Metrics_with_accounting_pass_promtool()
    {
        await using var node = await TestNode.StartAsync();
        using var http = new HttpClient();
        var api = node.Node.HttpEndPoint!.ToString();
        await AccountingApi.CompileAsync(node, "alice \"quoted\"", Busy);
        await AccountingApi.CompileAsync(node, "bob", Busy, compiler: "python3");
        await AccountingApi.WrittenAsync(http, api, 2);

        var body = await http.GetStringAsync($"http://{api}/metrics");
        Assert.Contains("kiln_user_jobs_total{node=\"test-node\",user=\"alice \\\"quoted\\\"\"} 1", body);
        Assert.Contains("kiln_refusals_total{node=\"test-node\",reason=\"CompilerNotAllowed\"} 1", body);
        using var dir = new TempDirectory("kiln-metrics");
        dir.Write("metrics.txt", body);
        var check = await Tools.RunAsync("sh", ["-c", "promtool check metrics < \"$0\"", dir.Combine("metrics.txt")]);
        Assert.True(check.ExitCode == 0, $"promtool check metrics exited {check.ExitCode}: {check.Stdout}{check.Stderr}");
    }

    [Fact]
    public async Task The_dashboard_is_served_from_the_node_and_streams_snapshots()
    {
        await using var node = await TestNode.StartAsync();
        using var http = new HttpClient();
        var api = node.Node.HttpEndPoint!.ToString();
        var page = await http.GetStringAsync($"http://{api}/");
        Assert.Contains("<script src=\"/dashboard.js\"></script>", page);
        Assert.DoesNotContain("https://", page);
        Assert.Contains("EventSource(\"/api/events\")", await http.GetStringAsync($"http://{api}/dashboard.js"));
        Assert.Contains("font", await http.GetStringAsync($"http://{api}/dashboard.css"));
        Assert.Equal("[]", (await http.GetStringAsync($"http://{api}/api/contested")).Trim());

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var stream = await http.GetStreamAsync($"http://{api}/api/events", cts.Token);
        using var reader = new StreamReader(stream);
        var first = await reader.ReadLineAsync(cts.Token);
        Assert.StartsWith("data: {", first);
        await AccountingApi.CompileAsync(node, "alice", Busy);
        // The job's end is a change: a snapshot that counts it follows.
        while (true)
        {
            var line = await reader.ReadLineAsync(cts.Token);
            if (line is null || !line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            var snapshot = System.Text.Json.JsonSerializer.Deserialize(line[6..], AccountingJsonContext.Default.DashboardSnapshot)!;
            if (snapshot.Accounting.ByUser.Any(t => t.Identity == "alice" && t.Jobs == 1))
            {
                Assert.Equal("test-node", Assert.Single(snapshot.Nodes).Name);
                Assert.Contains(snapshot.Recent, r => r.Identity == "alice");
                break;
            }
        }
    }
}
