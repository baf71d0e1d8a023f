using System.Text.Json;
using System.Text.RegularExpressions;
using Kiln.Server.Accounting;
using Kiln.Server.Cache;
using Kiln.Tests.EndToEnd;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using Xunit.Abstractions;

namespace Kiln.Tests.Accounting;

/// <summary>
/// Debian's Chromium, headless, driven by Selenium with the system's chromedriver (Selenium Manager
/// never runs), watches the dashboard while two users build uClibc-ng through one node that reports
/// to a collector. What the page shows must match the node's own accounting, and afterwards the
/// totals must equal the sum of the job records on the node and on the collector.
/// The same build is issue 2's: every distributable compile ran on the node and the objects equal a
/// plain local build's; and issue 3's warm node: a rebuild of a fresh tree from an empty local cache
/// then compiles nothing. One test carries all three so the suite builds uClibc-ng once for them.
/// </summary>
public sealed partial class DashboardBrowserTests(ITestOutputHelper output)
{
    /// <summary>The C compiles of a defconfig build: every one must run remotely.</summary>
    private const int DistributableCompiles = 796;

    private const int NodeSlots = 2;

    /// <summary>make -j4 runs at most four kiln cc processes, so at most four jobs are at the node at once.</summary>
    private const int MakeJobs = 4;

    [WorkloadFact(Workload.Uclibc)]
    [Trait("Category", "EndToEnd")]
    public async Task Dashboard_follows_a_two_user_uclibc_build_that_runs_every_compile_remotely_and_a_warm_rebuild_compiles_nothing()
    {
        var reference = await LocalReference.UclibcAsync(CancellationToken.None);
        Assert.True(File.Exists("/usr/bin/chromium") && File.Exists("/usr/bin/chromedriver"),
            "chromium and chromium-driver are not installed (scripts/setup installs them)");
        await using var collector = await TestNode.StartAsync(slots: 1, configure: o => o.NodeName = "collector");
        var collectorApi = collector.Node.HttpEndPoint!.ToString();
        await using var node = await TestNode.StartAsync(slots: NodeSlots, configure: o =>
        {
            o.NodeName = "builder";
            o.Accounting.Collector = new Uri($"http://{collectorApi}");
            o.Accounting.PushInterval = TimeSpan.FromMilliseconds(250);
        });
        var api = node.Node.HttpEndPoint!.ToString();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var work = new TempDirectory("kiln-e2e-dashboard");
        var treePath = work.Combine("uclibc");
        var tree = await Workloads.FreshUclibcAsync(treePath);

        // Two users share the build: each compile is alice's or bob's by a checksum of its command line.
        var wrapper = work.Combine("cc-two-users");
        await File.WriteAllTextAsync(wrapper, $"""
            #!/bin/sh
            n=$(printf '%s' "$*" | cksum | cut -d' ' -f1)
            if [ $((n % 2)) -eq 0 ]; then KILN_USER=alice; else KILN_USER=bob; fi
            export KILN_USER
            exec '{Tools.KilnBinary}' cc gcc "$@"

            """);
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var env = new Dictionary<string, string?>
        {
            ["CC"] = null,
            ["MAKEFLAGS"] = null,
            ["DISTCC_HOSTS"] = null,
            ["KILN_HOSTS"] = $"{node.Node.KilnEndPoint}/{MakeJobs}",
            ["KILN_FALLBACK"] = "0",
            ["KILN_DIR"] = work.Combine("kiln-client"),
            ["KILN_VERBOSE"] = "1",
        };

        using var driver = StartBrowser(work);
        driver.Navigate().GoToUrl($"http://{api}/");
        await Wait.UntilAsync(() => driver.FindElement(By.Id("connection")).Text == "live", "the dashboard to connect to /api/events");

        var build = Workloads.MakeAsync(tree, MakeJobs, [$"CC={wrapper}"], env);
        var screenshots = Path.Combine(Tools.RepositoryRoot, "artifacts", "test-output");
        Directory.CreateDirectory(screenshots);

        // While the build runs: the page shows a snapshot taken at some time T. The node's accounting
        // only grows, so what the page shows lies between what the API said in a read that ended before
        // T and in one that started after it; the live job count never exceeds what make runs at once.
        var samples = new List<(long StartMs, long EndMs, AccountingSummary Summary)>();
        async Task<AccountingSummary> SampleAsync()
        {
            var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var summary = await AccountingApi.SummaryAsync(http, api);
            samples.Add((start, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), summary));
            return summary;
        }

        var checks = 0;
        var sawRunning = false;
        var maxRunning = 0;
        await SampleAsync();
        while (!build.IsCompleted)
        {
            var page = ReadPage(driver);
            var after = await SampleAsync();
            Assert.True(samples[^1].StartMs >= page.TimeMs, "the page's snapshot is newer than a read that started after the page was read");
            var before = samples.LastOrDefault(s => s.EndMs < page.TimeMs).Summary;
            Assert.InRange(page.Running, 0, MakeJobs);
            sawRunning |= page.Running > 0;
            maxRunning = Math.Max(maxRunning, page.Running);
            foreach (var user in page.Users)
            {
                var low = before?.ByUser.SingleOrDefault(t => t.Identity == user.Identity);
                var high = after.ByUser.Single(t => t.Identity == user.Identity);
                Assert.InRange(user.Jobs, low?.Jobs ?? 0, high.Jobs);
                Assert.InRange(user.CpuMs, low?.CpuMs ?? 0, high.CpuMs);
                Assert.InRange(user.BytesIn, low?.BytesIn ?? 0, high.BytesIn);
            }

            checks++;
            if (checks == 20)
            {
                Screenshot(driver, Path.Combine(screenshots, "dashboard-during-uclibc.png"));
            }

            // Paces the checks (about one a second); the build is what the loop waits for.
            await Task.WhenAny(build, Task.Delay(TimeSpan.FromSeconds(1)));
        }

        var run = await build;
        output.WriteLine($"{checks} checks during the build; the page showed up to {maxRunning} jobs running");
        Assert.True(checks >= 10, $"only {checks} checks while the build ran");
        Assert.True(sawRunning, "the page never showed a running job during the build");

        // After the build the page settles on exactly the node's accounting.
        await AccountingApi.WrittenAsync(http, api, node.Node.Counters.KilnJobs);
        var final = await AccountingApi.SummaryAsync(http, api);
        PageState settled = default;
        await Wait.UntilAsync(() =>
        {
            settled = ReadPage(driver);
            return settled.Running == 0 && settled.Recorded == final.ByNode.Sum(t => t.Jobs) && settled.Users.Count == final.ByUser.Count;
        }, "the dashboard to show the finished build");
        foreach (var user in final.ByUser)
        {
            var shown = settled.Users.Single(u => u.Identity == user.Identity);
            Assert.Equal((user.Jobs, user.CpuMs, user.BytesIn, user.BytesOut), (shown.Jobs, shown.CpuMs, shown.BytesIn, shown.BytesOut));
            Assert.Equal(user.Jobs.ToString(System.Globalization.CultureInfo.InvariantCulture), shown.JobsText);
        }

        Screenshot(driver, Path.Combine(screenshots, "dashboard-after-uclibc.png"));
        Assert.Equal(["alice", "bob"], final.ByUser.Select(t => t.Identity).ToArray());
        Assert.All(final.ByUser, t => Assert.True(t.Jobs > 100, $"{t.Identity} ran only {t.Jobs} jobs"));

        // The node's totals equal the sum of its records, and every job the node served is a record.
        var records = await AccountingApi.JobsAsync(http, api);
        Assert.Equal(node.Node.Counters.KilnJobs, records.Count);
        Assert.Equal(node.Node.Counters.CompilesOk, records.Count(r => r.ExitCode == 0));
        AccountingApi.AssertTotalsEqualRecords(final.Totals, records, "node");
        // CPU time comes from getrusage(RUSAGE_CHILDREN), which is per process: in this test host other
        // tests' in-process nodes run compiles at the same time and take part of the charges (in a real
        // node, one per process, the charges add up exactly). So only "CPU is recorded" is asserted here.
        Assert.True(records.Sum(r => r.CpuMs) > 0, "no compile was charged any CPU time");

        // The collector holds the same records and its totals for the node equal them too.
        await Wait.UntilAsync(() => AccountingApi.SummaryAsync(http, api).GetAwaiter().GetResult().Pushed == records.Count,
            $"the node to send all {records.Count} records to the collector", TimeSpan.FromMinutes(2));
        var collected = await AccountingApi.JobsAsync(http, collectorApi, ofNode: "builder");
        Assert.Equal(records.OrderBy(r => r.Id), collected.OrderBy(r => r.Id));
        var atCollector = await AccountingApi.SummaryAsync(http, collectorApi);
        AccountingApi.AssertTotalsEqualRecords(atCollector.Totals, await AccountingApi.JobsAsync(http, collectorApi), "collector");
        Assert.Equal(final.Totals, atCollector.Totals.Where(t => t.Node == "builder"));
        output.WriteLine($"{records.Count} records; alice {final.ByUser[0].Jobs}, bob {final.ByUser[1].Jobs}; screenshots in {screenshots}");

        // Issue 2: every distributable compile ran on the node. A compile whose twin (same preprocessed
        // input, same arguments) ran earlier in the build is answered from the local cache instead:
        // it is compiled nowhere, which is the cache's point.
        var remote = RemoteLine().Matches(run.Stderr).Count;
        var cached = LocalHitLine().Matches(run.Stderr).Count;
        Assert.True(remote + cached >= DistributableCompiles,
            $"{remote} compiles ran on the node and {cached} came from the local cache; expected every one of the {DistributableCompiles} C compiles");
        Assert.DoesNotContain(" compiled locally", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(remote, node.Node.Counters.KilnJobs);
        Assert.Equal(remote, node.Node.Counters.CompilesOk);
        (await ObjectDigests.CaptureAsync(tree, CancellationToken.None)).AssertIdenticalTo(reference, "kiln cc through a node");

        // Issue 3: a fresh tree and an empty local cache, so every job reaches the now warm node, which
        // answers each by its ActionKey and compiles nothing.
        var compiled = node.Node.Counters.CompilesOk;
        var jobs = node.Node.Counters.KilnJobs;
        Directory.Delete(tree, recursive: true);
        tree = await Workloads.FreshUclibcAsync(treePath);
        env["KILN_DIR"] = work.Combine("kiln-client-rebuild");
        var rebuild = await Workloads.MakeAsync(tree, MakeJobs, [$"CC={Tools.KilnBinary} cc gcc"], env);
        Assert.Equal(compiled, node.Node.Counters.CompilesOk);
        Assert.Equal(0, node.Node.Counters.CompilesFailed);
        var rebuildJobs = node.Node.Counters.KilnJobs - jobs;
        var rebuildTwins = LocalHitLine().Matches(rebuild.Stderr).Count;
        Assert.True(rebuildJobs + rebuildTwins >= DistributableCompiles,
            $"the rebuild sent {rebuildJobs} jobs and took {rebuildTwins} from its local cache; expected all {DistributableCompiles}");
        Assert.Equal(rebuildJobs, node.Node.Services.GetRequiredService<CacheCounters>().Kiln.Hits);
        (await ObjectDigests.CaptureAsync(tree, CancellationToken.None)).AssertIdenticalTo(reference, "a rebuild answered by a warm node");
        output.WriteLine($"first build: {remote} compiled on the node, {cached} twins from the local cache; rebuild: {rebuildJobs} node cache hits, {rebuildTwins} local");
    }

    [GeneratedRegex(@"^kiln: .* compiled on ", RegexOptions.Multiline)]
    private static partial Regex RemoteLine();

    [GeneratedRegex(@"^kiln: .* from the local cache", RegexOptions.Multiline)]
    private static partial Regex LocalHitLine();

    private readonly record struct UserShown(string Identity, long Jobs, string JobsText, long CpuMs, long BytesIn, long BytesOut);

    private readonly record struct PageState(long Sequence, long TimeMs, int Running, long Recorded, List<UserShown> Users);

    /// <summary>Reads what the page shows in one script call, so one render is read whole.</summary>
    private static PageState ReadPage(ChromeDriver driver)
    {
        var json = (string)driver.ExecuteScript("""
            const users = [...document.querySelectorAll('#users tr[data-user]')].map(r => ({
              identity: r.getAttribute('data-user'), jobs: Number(r.getAttribute('data-jobs')), jobsText: r.querySelector('.jobs').textContent,
              cpuMs: Number(r.getAttribute('data-cpu-ms')), bytesIn: Number(r.getAttribute('data-bytes-in')), bytesOut: Number(r.getAttribute('data-bytes-out')) }));
            return JSON.stringify({ sequence: Number(document.body.getAttribute('data-sequence') || 0), timeMs: Number(document.body.getAttribute('data-time') || 0),
              running: Number(document.getElementById('running-count').textContent),
              recorded: Number(document.getElementById('recorded').textContent), users });
            """)!;
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var users = root.GetProperty("users").EnumerateArray().Select(u => new UserShown(
            u.GetProperty("identity").GetString()!, u.GetProperty("jobs").GetInt64(), u.GetProperty("jobsText").GetString()!,
            u.GetProperty("cpuMs").GetInt64(), u.GetProperty("bytesIn").GetInt64(), u.GetProperty("bytesOut").GetInt64())).ToList();
        return new PageState(root.GetProperty("sequence").GetInt64(), root.GetProperty("timeMs").GetInt64(), root.GetProperty("running").GetInt32(), root.GetProperty("recorded").GetInt64(), users);
    }

    private static ChromeDriver StartBrowser(TempDirectory work)
    {
        // Selenium Manager would look for drivers on the internet: the explicit service path keeps it
        // from running, and these two variables keep it offline if it ever did.
        Environment.SetEnvironmentVariable("SE_OFFLINE", "true");
        Environment.SetEnvironmentVariable("SE_AVOID_STATS", "true");
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1400",
            "--user-data-dir=" + Directory.CreateDirectory(work.Combine("chromium-profile")).FullName);
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(120));
    }

    private void Screenshot(ChromeDriver driver, string path)
    {
        driver.GetScreenshot().SaveAsFile(path);
        output.WriteLine($"screenshot: {path}");
    }
}
