using System.Text.RegularExpressions;
using Kiln.Tests.Distcc;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.EndToEnd;

/// <summary>
/// uClibc-ng (796 C compiles) built through Kiln every way a user would: <c>kiln cc</c> against a node,
/// stock distcc against <c>kiln serve --distcc</c> in protocols 1, 2 and 3, <c>kiln cc</c> against a
/// stock distccd, and a node killed in mid-build. Objects must be identical to a plain local build.
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

    [WorkloadFact(Workload.Uclibc)]
    [Trait("Category", "EndToEnd")]
    public async Task Kiln_cc_builds_uclibc_on_the_node_with_identical_objects()
    {
        var reference = await LocalReference.UclibcAsync(CancellationToken.None);
        await using var node = await TestNode.StartAsync(slots: 2);
        using var work = new TempDirectory("kiln-e2e-kilncc");
        var tree = await Workloads.FreshUclibcAsync(work.Combine("uclibc"));
        var env = CleanEnvironment(work);
        env["KILN_HOSTS"] = node.KilnHost(limit: 4);
        env["KILN_FALLBACK"] = "0";
        env["KILN_VERBOSE"] = "1";

        var run = await Workloads.MakeAsync(tree, jobs: 4, [$"CC={Tools.KilnBinary} cc gcc"], env);

        var remote = RemoteLine().Matches(run.Stderr).Count;

        // A compile whose twin (same preprocessed input, same arguments) ran earlier in the build is

        // answered from the local cache: it is not compiled again anywhere, which is the point.

        var cached = Regex.Matches(run.Stderr, "^kiln: .* from the local cache", RegexOptions.Multiline).Count;

        Assert.True(remote + cached >= DistributableCompiles, $"{remote} compiles ran on the node and {cached} came from the local cache; expected every one of the {DistributableCompiles} C compiles");

        Assert.DoesNotContain(" compiled locally", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(remote, node.Node.Counters.KilnJobs);
        Assert.Equal(remote, node.Node.Counters.CompilesOk);
        (await ObjectDigests.CaptureAsync(tree, CancellationToken.None)).AssertIdenticalTo(reference, "kiln cc through a node");
    }

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
        var cached = Regex.Matches(run.Stderr, "^kiln: .* from the local cache", RegexOptions.Multiline).Count;
        Assert.True(compiled + cached >= DistributableCompiles,
            $"distccd logged {compiled} COMPILE_OK and {cached} came from the local cache; expected all {DistributableCompiles}");
        (await ObjectDigests.CaptureAsync(tree, CancellationToken.None)).AssertIdenticalTo(reference, "kiln cc through stock distccd");
    }

    [WorkloadFact(Workload.Uclibc)]
    [Trait("Category", "EndToEnd")]
    public async Task Node_killed_mid_build_costs_one_line_and_no_job()
    {
        var reference = await LocalReference.UclibcAsync(CancellationToken.None);
        await using var node = await NodeProcess.StartAsync(slots: 2);
        using var work = new TempDirectory("kiln-e2e-kill");
        var tree = await Workloads.FreshUclibcAsync(work.Combine("uclibc"));
        var env = CleanEnvironment(work);
        env["KILN_HOSTS"] = $"{node.KilnEndPoint}/4,fp={node.Fingerprint}";
        // One backoff period covers the rest of the build, so the one line is the only line.
        env["KILN_BACKOFF_PERIOD"] = "3600";

        var build = Workloads.MakeAsync(tree, jobs: 4, [$"CC={Tools.KilnBinary} cc gcc"], env);
        await Wait.UntilAsync(() => build.IsCompleted || node.StatAsync("compilesOk").GetAwaiter().GetResult() >= 150,
            "the node to finish 150 compiles", TimeSpan.FromMinutes(10));
        Assert.False(build.IsCompleted, "the build finished before the node could be killed");
        node.Kill();

        var run = await build;
        var lines = NodeFailedLine().Matches(run.Stderr);
        Assert.True(lines.Count == 1, $"expected one line about the dead node, saw {lines.Count}:\n{string.Join('\n', lines.Select(m => m.Value))}");
        (await ObjectDigests.CaptureAsync(tree, CancellationToken.None)).AssertIdenticalTo(reference, "a build whose node was killed");
    }

    [GeneratedRegex(@"^kiln: .* compiled on ", RegexOptions.Multiline)]
    private static partial Regex RemoteLine();

    [GeneratedRegex(@"COMPILE_OK")]
    private static partial Regex CompileOk();

    [GeneratedRegex(@"^kiln: node .* failed.*$", RegexOptions.Multiline)]
    private static partial Regex NodeFailedLine();
}
