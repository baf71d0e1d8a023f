using System.Text.Json;
using Kiln.Core.Actions;
using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using Kiln.Core.Trust;
using Kiln.Server.Trust;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Trust;

/// <summary>
/// Results the nodes compute (the "kiln" namespace): the witness signs them, peers exchange the
/// signatures, the gate holds consumers to their policy, and rebuild checking finds non-determinism.
/// </summary>
public sealed class KilnNamespaceTrustTests
{
    private static readonly SigningKey s_nodeA = TrustNodes.Key(30);
    private static readonly SigningKey s_nodeB = TrustNodes.Key(31);

    private static void TrustEachOther(Kiln.Server.Hosting.KilnNodeOptions o)
    {
        o.Trust.Policies["nodes"] = TrustNodes.Policy(1, ("node-a", s_nodeA), ("node-b", s_nodeB));
        o.Trust.Policies["quorum"] = TrustNodes.Policy(2, ("node-a", s_nodeA), ("node-b", s_nodeB));
    }

    private static async Task<AttestationList> ListAsync(HttpClient http, ActionKey action) =>
        JsonSerializer.Deserialize(await http.GetByteArrayAsync($"/api/attestations/{action.Hex}"), TrustJsonContext.Default.AttestationList)!;

    private static async Task WaitForAttestationsAsync(HttpClient http, ActionKey action, int count, string what)
    {
        var seen = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((seen = (await ListAsync(http, action)).Attestations.Count) < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}: {seen} of {count} attestations");
            }

            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task PoisonedUploadReachesNoConsumerAndTwoAgreeingNodesSatisfyKTwo()
    {
        await using var nodeB = await TrustNodes.StartAsync(31, TrustEachOther);
        await using var nodeA = await TrustNodes.StartAsync(30, o =>
        {
            TrustEachOther(o);
            o.Trust.Peers.Add(new Uri($"http://{nodeB.Node.HttpEndPoint}"));
            o.Trust.ExchangeInterval = TimeSpan.FromMilliseconds(200);
        });
        using var httpA = TrustNodes.Http(nodeA);
        using var httpB = TrustNodes.Http(nodeB);
        var nodes = TrustNodes.Service<NodeTrust>(nodeA).Find("nodes");
        var quorum = TrustNodes.Service<NodeTrust>(nodeA).Find("quorum");

        var source = "int twice(int x) { return 2 * x; }\n"u8.ToArray();
        var action = TrustNodes.Action(source, ["-O2"]);

        // Node B computes the result; its attestation reaches A by the exchange loop.
        var honest = await TrustNodes.ExecuteAsync(nodeB, action, source, CancellationToken.None);
        await WaitForAttestationsAsync(httpA, action.Key, 1, "node B's attestation on node A");

        // Mallory, with write rights on A, stores a wrong object under the key others use.
        var poison = "\x7fELF not the object"u8.ToArray();
        var poisoned = new ActionResult(0, Digest.Empty, Digest.Empty,
            [new OutputFile("output.o", Digest.FromBytes(poison))]);
        await TrustNodes.UploadAsync(nodeA, action.Key, poisoned, poison, CancellationToken.None);
        Assert.False(await TrustNodes.ServedAsync(nodeA, action.Key, nodes));
        Assert.False(await TrustNodes.ServedAsync(nodeA, action.Key, quorum));

        // A client uploads the honest result: node B's signature is enough at k = 1, not at k = 2.
        var honestObject = await ReadObjectAsync(nodeB, honest);
        await TrustNodes.UploadAsync(nodeA, action.Key, honest, honestObject, CancellationToken.None);
        Assert.True(await TrustNodes.ServedAsync(nodeA, action.Key, nodes));
        Assert.False(await TrustNodes.ServedAsync(nodeA, action.Key, quorum));

        // Node A computes it too and agrees: two owners, k = 2 holds. A's attestation reaches B by push.
        var again = await TrustNodes.ExecuteAsync(nodeA, action, source, CancellationToken.None);
        Assert.Equal(honest.ResultDigest, again.ResultDigest);
        Assert.True(await TrustNodes.ServedAsync(nodeA, action.Key, quorum));
        await WaitForAttestationsAsync(httpB, action.Key, 2, "node A's attestation pushed to node B");

        // The poison again: nobody with a policy gets it, whatever the signatures on the honest result.
        await TrustNodes.UploadAsync(nodeA, action.Key, poisoned, poison, CancellationToken.None);
        Assert.False(await TrustNodes.ServedAsync(nodeA, action.Key, nodes));
        Assert.False(await TrustNodes.ServedAsync(nodeA, action.Key, quorum));

        var stats = await TrustNodes.StatsAsync(httpA);
        Assert.True(stats.Pulled >= 1 && stats.Pushed >= 1, $"pulled {stats.Pulled}, pushed {stats.Pushed}");
        Assert.Equal(0, stats.ExchangeErrors);
    }

    private static async Task<byte[]> ReadObjectAsync(TestNode node, ActionResult result)
    {
        var stream = await TrustNodes.Service<IContentStore>(node).OpenReadAsync(result.Outputs[0].Digest, CancellationToken.None);
        Assert.NotNull(stream);
        await using (stream)
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            return copy.ToArray();
        }
    }

    /// <summary>Node A executes; node B, given the action and input, rebuilds it at its rebuild rate and attests "rebuilt".</summary>
    private static async Task<(TestNode A, TestNode B, ActionKey Action)> BuildOnBothAsync(byte[] source, bool waitForNextSecond)
    {
        var a = await TrustNodes.StartAsync(30, TrustEachOther);
        var b = await TrustNodes.StartAsync(31, o =>
        {
            TrustEachOther(o);
            o.Trust.RebuildRate = 1;
            o.Trust.RebuildInterval = TimeSpan.FromMilliseconds(200);
        });
        var action = TrustNodes.Action(source, ["-O2"], preprocessOnNode: true);
        _ = await TrustNodes.ExecuteAsync(a, action, source, CancellationToken.None);
        if (waitForNextSecond)
        {
            // __TIME__ has a resolution of one second: B compiles in a later one.
            var second = DateTime.Now.Second;
            await Wait.UntilAsync(() => DateTime.Now.Second != second, "the clock's next second");
        }

        // B holds the inputs (as a node the client also sent them to does) and receives A's signature.
        var storeB = TrustNodes.Service<IContentStore>(b);
        _ = await TrustNodes.PutAsync(storeB, action.Encode(), CancellationToken.None);
        _ = await TrustNodes.PutAsync(storeB, source, CancellationToken.None);
        using var httpA = TrustNodes.Http(a);
        using var httpB = TrustNodes.Http(b);
        var fromA = (await ListAsync(httpA, action.Key)).Attestations.Single();
        var (status, _, body) = await TrustNodes.PostAsync(httpB, Convert.FromBase64String(fromA.Encoded));
        Assert.True(status == 200, body);
        await Wait.UntilAsync(() => TrustNodes.Service<TrustCounters>(b).Rebuilt >= 1, "node B's rebuild check");
        return (a, b, action.Key);
    }

    [Fact]
    public async Task RebuildCheckAgreesOnADeterministicCompile()
    {
        var (a, b, action) = await BuildOnBothAsync("int add(int x, int y) { return x + y; }\n"u8.ToArray(), waitForNextSecond: false);
        await using (a)
        await using (b)
        {
            var counters = TrustNodes.Service<TrustCounters>(b);
            Assert.Equal(1, counters.RebuildAgreed);
            Assert.Equal(0, counters.RebuildDisagreed);
            using var httpB = TrustNodes.Http(b);
            var list = await ListAsync(httpB, action);
            Assert.False(list.Contested);
            Assert.Equal(["executed", "rebuilt"], list.Attestations.Select(x => x.How).Order());

            // k = 2 over A and B now holds for the agreed result; nothing is contested.
            var run = await Tools.RunAsync(Tools.KilnBinary, ["challenge", "--node", $"http://{b.Node.HttpEndPoint}"]);
            Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
            Assert.Contains("no contested actions", run.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task DateAndTimeMacrosMakeTheActionContestedAndChallengeListsBothSigners()
    {
        var source = "const char stamp[] = __DATE__ \" \" __TIME__;\nconst char *when(void) { return stamp; }\n"u8.ToArray();
        var (a, b, action) = await BuildOnBothAsync(source, waitForNextSecond: true);
        await using (a)
        await using (b)
        {
            Assert.Equal(1, TrustNodes.Service<TrustCounters>(b).RebuildDisagreed);
            using var httpB = TrustNodes.Http(b);
            Assert.True((await ListAsync(httpB, action)).Contested);

            // Neither result meets k = 2 any more, and the one-owner policy sees two answers.
            var quorum = TrustNodes.Service<NodeTrust>(b).Find("quorum")!;
            var decision = quorum.Decide(action, TrustNodes.Service<AttestationStore>(b).ForAction(action));
            Assert.True(decision.Contested);
            Assert.False(decision.IsAccepted);

            var run = await Tools.RunAsync(Tools.KilnBinary,
                ["challenge", "--no-diffoscope", "--node", $"http://{b.Node.HttpEndPoint}", "--node", $"http://{a.Node.HttpEndPoint}"]);
            Assert.True(run.ExitCode == 1, run.Stdout + run.Stderr);
            Assert.Contains("1 contested action(s)", run.Stdout, StringComparison.Ordinal);
            Assert.Contains(action.Hex, run.Stdout, StringComparison.Ordinal);
            Assert.Contains($"signed by {s_nodeA.PublicKey.Id} (node-a), executed", run.Stdout, StringComparison.Ordinal);
            Assert.Contains($"signed by {s_nodeB.PublicKey.Id} (node-b), rebuilt", run.Stdout, StringComparison.Ordinal);
            Assert.Contains("output.o:", run.Stdout, StringComparison.Ordinal);
            Assert.Contains("ELF section .rodata", run.Stdout, StringComparison.Ordinal);
        }
    }
}
