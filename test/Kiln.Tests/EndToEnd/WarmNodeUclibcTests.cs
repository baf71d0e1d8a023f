using Kiln.Server.Cache;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.EndToEnd;

/// <summary>
/// Kiln never compiles the same thing twice: uClibc-ng built once through <c>kiln cc</c> warms the
/// node, and a rebuild of a fresh tree from an empty local cache (a new KILN_DIR) compiles nothing on
/// the node, every job answered by ActionKey, with objects identical to a plain local build.
/// </summary>
public sealed class WarmNodeUclibcTests
{
    private const int DistributableCompiles = 796;

    [WorkloadFact(Workload.Uclibc)]
    [Trait("Category", "EndToEnd")]
    public async Task Rebuild_from_an_empty_local_cache_against_a_warm_node_compiles_nothing()
    {
        var reference = await LocalReference.UclibcAsync(CancellationToken.None);
        await using var node = await TestNode.StartAsync(slots: 2);
        using var work = new TempDirectory("kiln-e2e-warm");
        var path = work.Combine("uclibc");

        Dictionary<string, string?> Environment(string clientDirectory) => new()
        {
            ["CC"] = null,
            ["MAKEFLAGS"] = null,
            ["DISTCC_HOSTS"] = null,
            ["KILN_HOSTS"] = $"{node.Node.KilnEndPoint}/4",
            ["KILN_FALLBACK"] = "0",
            ["KILN_DIR"] = work.Combine(clientDirectory),
            ["KILN_VERBOSE"] = "1",
        };

        var tree = await Workloads.FreshUclibcAsync(path);
        var first = await Workloads.MakeAsync(tree, jobs: 4, [$"CC={Tools.KilnBinary} cc gcc"], Environment("client-1"));
        var compiled = node.Node.Counters.CompilesOk;
        var jobs = node.Node.Counters.KilnJobs;

        // A compile whose twin (same preprocessed input and arguments) ran earlier in the same build is
        // answered by the client's local cache: it is compiled nowhere, which is the cache's point.
        var twins = LocalHits(first.Stderr);
        Assert.True(compiled + twins >= DistributableCompiles,
            $"the first build compiled {compiled} files on the node and took {twins} from the local cache; expected all {DistributableCompiles}");

        Directory.Delete(tree, recursive: true);
        tree = await Workloads.FreshUclibcAsync(path);
        var second = await Workloads.MakeAsync(tree, jobs: 4, [$"CC={Tools.KilnBinary} cc gcc"], Environment("client-2"));

        Assert.Equal(compiled, node.Node.Counters.CompilesOk);
        Assert.Equal(0, node.Node.Counters.CompilesFailed);
        var rebuildJobs = node.Node.Counters.KilnJobs - jobs;
        var rebuildTwins = LocalHits(second.Stderr);
        Assert.True(rebuildJobs + rebuildTwins >= DistributableCompiles,
            $"the rebuild sent {rebuildJobs} jobs and took {rebuildTwins} from its local cache; expected all {DistributableCompiles}");
        Assert.Equal(rebuildJobs, node.Node.Services.GetRequiredService<CacheCounters>().Kiln.Hits);
        (await ObjectDigests.CaptureAsync(tree, CancellationToken.None)).AssertIdenticalTo(reference, "a rebuild answered by a warm node");
    }

    private static int LocalHits(string stderr) =>
        System.Text.RegularExpressions.Regex.Matches(stderr, "^kiln: .* from the local cache", System.Text.RegularExpressions.RegexOptions.Multiline).Count;
}
