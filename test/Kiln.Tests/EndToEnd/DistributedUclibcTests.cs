using System.Text.RegularExpressions;
using Kiln.Tests.Distcc;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.EndToEnd;

/// <summary>
/// uClibc-ng (796 C compiles) built through Kiln by stock distcc against <c>kiln serve --distcc</c> in
/// protocols 1, 2 and 3, and by <c>kiln cc</c> against a stock distccd. Objects must be identical to a
/// plain local build. The other uClibc-ng builds share builds to keep the suite short: <c>kiln cc</c>
/// against a node, and the warm-node rebuild, are <see cref="Accounting.DashboardBrowserTests"/>'s; a
/// node killed in mid-build is <see cref="SharedClusterUclibcTests"/>'s.
/// </summary>
public sealed partial class DistributedUclibcTests
{
    /// <summary>The C compiles of a defconfig build: every one must run remotely.</summary>
    private const int DistributableCompiles = 796;

    private static Dictionary<string, string?> CleanEnvironment(TempDirectory work) => new()
    {
        ["CC"] = null,
        ["MAKEFLAGS"] = null,
        ["DISTCC_HOSTS"] = null,
        ["KILN_HOSTS"] = null,
        ["KILN_DIR"] = work.Combine("kiln-client"),
        // distcc makes its lock and state directories inside DISTCC_DIR, but not DISTCC_DIR itself.
        ["DISTCC_DIR"] = Directory.CreateDirectory(work.Combine("distcc-client")).FullName,
    };

    [WorkloadTheory(Workload.Uclibc)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [Trait("Category", "EndToEnd")]
    public async Task Stock_distcc_builds_uclibc_through_kiln_serve(int protocol)
    {
        var reference = await LocalReference.UclibcAsync(CancellationToken.None);
        await using var node = await TestNode.StartAsync(slots: 2, distcc: true);
        using var work = new TempDirectory($"kiln-e2e-distcc{protocol}");
        var tree = await Workloads.FreshUclibcAsync(work.Combine("uclibc"));
        var env = CleanEnvironment(work);
        env["DISTCC_HOSTS"] = $"{node.Node.DistccEndPoint}/4" + protocol switch { 2 => ",lzo", 3 => ",cpp,lzo", _ => "" };
        env["DISTCC_FALLBACK"] = "0";
        env["DISTCC_SKIP_LOCAL_RETRY"] = "1";
        env["DISTCC_BACKOFF_PERIOD"] = "0";

        Tools.Run run;
        if (protocol == 3)
        {
            Assert.True(Tools.Exists("distcc-pump"), "distcc-pump is not installed (apt-get install distcc-pump)");
            env["PYTHONPATH"] = PumpIncludeServerShim.Install(work);
            run = await Tools.RunAsync("distcc-pump", ["make", "-C", tree, "-j4", "CC=distcc gcc"], tree, env, Workloads.BuildTimeout);
            Assert.True(run.ExitCode == 0, $"distcc-pump make exited {run.ExitCode}:\n{run.Stdout[^Math.Min(3000, run.Stdout.Length)..]}\n{run.Stderr[^Math.Min(3000, run.Stderr.Length)..]}");
        }
        else
        {
            run = await Workloads.MakeAsync(tree, jobs: 4, ["CC=distcc gcc"], env);
        }

        Assert.True(node.Node.Counters.DistccJobs >= DistributableCompiles,
            $"the node served {node.Node.Counters.DistccJobs} distcc jobs; expected all {DistributableCompiles}");
        // A job whose twin (same preprocessed input and arguments) ran earlier in the build is answered
        // by the node's transparent cache instead of compiled again.
        var cacheHits = node.Node.Services.GetRequiredService<Kiln.Server.Cache.CacheCounters>().Distcc.Hits;
        Assert.Equal(node.Node.Counters.DistccJobs, node.Node.Counters.CompilesOk + cacheHits);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
        (await ObjectDigests.CaptureAsync(tree, CancellationToken.None)).AssertIdenticalTo(reference, $"stock distcc, protocol {protocol}");
    }

    [WorkloadFact(Workload.Uclibc)]
    [Trait("Category", "EndToEnd")]
    public async Task Kiln_cc_builds_uclibc_through_a_stock_distccd()
    {
        var reference = await LocalReference.UclibcAsync(CancellationToken.None);
        await using var distccd = await StockDistccd.StartAsync();
        using var work = new TempDirectory("kiln-e2e-distccd");
        var tree = await Workloads.FreshUclibcAsync(work.Combine("uclibc"));
        var env = CleanEnvironment(work);
        env["KILN_HOSTS"] = $"{distccd.EndPoint}/4,distcc";
        env["KILN_FALLBACK"] = "0";
        env["KILN_VERBOSE"] = "1";

        var run = await Workloads.MakeAsync(tree, jobs: 4, [$"CC={Tools.KilnBinary} cc gcc"], env);

        // The twin compile (same preprocessed input and arguments) comes from kiln cc's local cache.
        var compiled = CompileOk().Matches(distccd.Log).Count;
        var cached = LocalHits(run.Stderr);
        Assert.True(compiled + cached >= DistributableCompiles,
            $"distccd logged {compiled} COMPILE_OK and {cached} came from the local cache; expected all {DistributableCompiles}");
        (await ObjectDigests.CaptureAsync(tree, CancellationToken.None)).AssertIdenticalTo(reference, "kiln cc through stock distccd");
    }

    [GeneratedRegex(@"COMPILE_OK")]
    private static partial Regex CompileOk();

    private static int LocalHits(string stderr) => LocalHitLine().Matches(stderr).Count;

    [GeneratedRegex(@"^kiln: .* from the local cache", RegexOptions.Multiline)]
    private static partial Regex LocalHitLine();
}
