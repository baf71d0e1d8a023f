using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kiln.Tests.TestKit;
using Xunit.Abstractions;

namespace Kiln.Tests.EndToEnd;

/// <summary>
/// Two users build uClibc-ng at once through <c>kiln cc</c> against four node processes (2, 2, 1 and 2
/// slots), and the fourth node is killed mid-build. Under KILN_FALLBACK=0 both builds must succeed
/// with objects identical to a local build (no job lost, none compiled here), each user sees one clear
/// line about the dead node (issue 2's killed-node check); the 1-slot node never
/// runs two compiles at once (its own high-water counter); the surviving nodes' jobs per slot and
/// each node's split between the two users stay within the spreads asserted below, which the report
/// states with the measured figures.
/// </summary>
public sealed partial class SharedClusterUclibcTests(ITestOutputHelper output)
{
    /// <summary>Surviving nodes' jobs per slot: the busiest over the idlest at most this.</summary>
    private const double MaxJobsPerSlotRatio = 2.0;

    /// <summary>Of the slots a node granted while both users waited, each user's share lies within 50 % ± this.</summary>
    private const double MaxContendedShareDeviation = 0.10;

    [WorkloadFact(Workload.Uclibc)]
    [Trait("Category", "EndToEnd")]
    public async Task Two_users_share_four_nodes_fairly_and_a_killed_node_loses_no_job()
    {
        var reference = await LocalReference.UclibcAsync(CancellationToken.None);
        await using var n1 = await NodeProcess.StartAsync(slots: 2);
        await using var n2 = await NodeProcess.StartAsync(slots: 2);
        await using var n3 = await NodeProcess.StartAsync(slots: 1);
        await using var n4 = await NodeProcess.StartAsync(slots: 2);
        using var work = new TempDirectory("kiln-e2e-shared");
        var trees = await Task.WhenAll(Workloads.FreshUclibcAsync(work.Combine("alice")), Workloads.FreshUclibcAsync(work.Combine("bob")));
        var hosts = $"{n1.KilnEndPoint}/3 {n2.KilnEndPoint}/3 {n3.KilnEndPoint}/2 {n4.KilnEndPoint}/3";

        Dictionary<string, string?> Environment(string user) => new()
        {
            ["CC"] = null,
            ["MAKEFLAGS"] = null,
            ["DISTCC_HOSTS"] = null,
            ["KILN_SEEDS"] = null,
            ["KILN_HOSTS"] = hosts,
            ["KILN_DIR"] = work.Combine("state-" + user),
            // The nodes have no tokens, so loopback clients are the machine's own users, told apart by name.
            ["KILN_USER"] = user,
            ["KILN_TOKEN"] = null,
            ["KILN_FALLBACK"] = "0",
            ["KILN_VERBOSE"] = "1",
            // One backoff period covers the rest of the build: the dead node is asked once per user.
            ["KILN_BACKOFF_PERIOD"] = "3600",
        };

        var alice = Workloads.MakeAsync(trees[0], jobs: 4, [$"CC={Tools.KilnBinary} cc gcc"], Environment("alice"));
        var bob = Workloads.MakeAsync(trees[1], jobs: 4, [$"CC={Tools.KilnBinary} cc gcc"], Environment("bob"));
        await Wait.UntilAsync(() => alice.IsCompleted || bob.IsCompleted || n4.StatAsync("compilesOk").GetAwaiter().GetResult() >= 100,
            "the fourth node to finish 100 compiles", TimeSpan.FromMinutes(10));
        Assert.False(alice.IsCompleted || bob.IsCompleted, "a build finished before the node could be killed");
        n4.Kill();

        var runs = await Task.WhenAll(alice, bob);
        (await ObjectDigests.CaptureAsync(trees[0], CancellationToken.None)).AssertIdenticalTo(reference, "alice's build");
        (await ObjectDigests.CaptureAsync(trees[1], CancellationToken.None)).AssertIdenticalTo(reference, "bob's build");
        foreach (var (run, user) in runs.Zip(["alice", "bob"]))
        {
            Assert.DoesNotMatch(LocalLine(), run.Stderr);
            // The user sees the dead node once: one clear line, then the backoff keeps it out of the build.
            var lines = NodeFailedLine().Matches(run.Stderr);
            Assert.True(lines.Count == 1, $"{user}: expected one line about the dead node, saw {lines.Count}:\n{string.Join('\n', lines.Select(m => m.Value))}");
            Assert.Contains(n4.KilnEndPoint.ToString(), lines[0].Value, StringComparison.Ordinal);
        }

        (string Name, NodeProcess Node, int Slots)[] survivors = [("n1", n1, 2), ("n2", n2, 2), ("n3", n3, 1)];
        var perSlot = new List<double>();
        foreach (var (name, node, slots) in survivors)
        {
            using var stats = JsonDocument.Parse(await new HttpClient().GetStringAsync($"http://{node.HttpEndPoint}/api/stats"));
            var root = stats.RootElement;
            var ok = root.GetProperty("compilesOk").GetInt64();
            var users = root.GetProperty("users").EnumerateArray().ToDictionary(
                u => u.GetProperty("user").GetString()!, u => (Jobs: u.GetProperty("jobs").GetInt64(), Contended: u.GetProperty("contendedJobs").GetInt64()));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: slots {slots}, compiles {ok}, per slot {ok / (double)slots:0.0}, most running {root.GetProperty("maxRunning").GetInt64()}, busy {root.GetProperty("busy").GetInt64()}, users {string.Join(", ", users.Select(u => $"{u.Key} {u.Value.Jobs} jobs ({u.Value.Contended} contended)"))}"));
            perSlot.Add(ok / (double)slots);

            // Most compiles found their sandbox set up before they came (warm sandboxes), and the
            // objects above are still the local build's, byte for byte.
            var warm = root.GetProperty("warmStarts").GetInt64();
            Assert.True(warm * 2 >= ok, $"{name}: only {warm} of {ok} compiles ran in a warm sandbox");
            Assert.Equal(2, users.Count);
            var contended = users.Values.Sum(u => u.Contended);
            if (contended >= 20)
            {
                foreach (var (user, counts) in users)
                {
                    var share = counts.Contended / (double)contended;
                    Assert.True(Math.Abs(share - 0.5) <= MaxContendedShareDeviation,
                        $"{name}: {user} got {share:P0} of the {contended} slots granted while both users waited");
                }
            }
        }

        Assert.Equal(1, await n3.StatAsync("maxRunning"));
        Assert.True(await n3.StatAsync("compilesOk") > 0, "the 1-slot node ran nothing");
        var ratio = perSlot.Max() / perSlot.Min();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"jobs per slot, busiest over idlest surviving node: {ratio:0.00}"));
        Assert.True(ratio <= MaxJobsPerSlotRatio, $"jobs per slot spread {ratio:0.00} exceeds {MaxJobsPerSlotRatio}");
    }

    [GeneratedRegex(@"^kiln: .* compiled (locally|on localhost)", RegexOptions.Multiline)]
    private static partial Regex LocalLine();

    [GeneratedRegex(@"^kiln: node .* failed.*$", RegexOptions.Multiline)]
    private static partial Regex NodeFailedLine();
}
