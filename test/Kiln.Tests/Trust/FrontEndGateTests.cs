using System.Net;
using Build.Bazel.Remote.Execution.V2;
using Google.Protobuf;
using Kiln.Core.Trust;
using Kiln.Server.Grpc;
using Kiln.Tests.Grpc;
using Kiln.Tests.TestKit;
using Digest = Kiln.Core.Hashing.Digest;

namespace Kiln.Tests.Trust;

/// <summary>
/// Poisoning through the real cache front ends: a client with write rights stores a wrong value
/// under a key others use. A consumer whose policy trusts the node keys (named by URL or gRPC
/// instance) never receives it; with k = 2 one node's signature is not enough and two agreeing
/// nodes' are. Consumers naming no policy keep the plain-cache behaviour (k = 0).
/// </summary>
public sealed class FrontEndGateTests
{
    private const string CcacheKey = "3d786f31407ae8f07327a51794336d645676b94e";
    private static readonly DateTimeOffset s_time = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private static readonly SigningKey s_nodeA = TrustNodes.Key(20);
    private static readonly SigningKey s_nodeB = TrustNodes.Key(21);

    private static Task<TestNode> StartAsync() => TrustNodes.StartAsync(20, o =>
    {
        o.Grpc = new IPEndPoint(IPAddress.Loopback, 0);
        o.Trust.Policies["nodes"] = TrustNodes.Policy(1, ("node-a", s_nodeA), ("node-b", s_nodeB));
        o.Trust.Policies["quorum"] = TrustNodes.Policy(2, ("node-a", s_nodeA), ("node-b", s_nodeB));
    });

    private static async Task AttestAsync(HttpClient http, SigningKey key, string ns, string entryKey, Digest value)
    {
        var attestation = Attestation.Create(key, AttestationSubject.Of(ns, entryKey), value, AttestationKind.Rebuilt, s_time);
        var (status, _, body) = await TrustNodes.PostAsync(http, attestation.Encode());
        Assert.True(status == 200, body);
    }

    private static async Task<byte[]?> GetAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    private static async Task PutAsync(HttpClient http, string path, byte[] body)
    {
        using var response = await http.PutAsync(path, new ByteArrayContent(body));
        Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {(int)response.StatusCode}");
    }

    [Fact]
    public async Task CcacheServesAnEntryOnlyUnderThePolicyTheConsumerNames()
    {
        await using var node = await StartAsync();
        using var http = TrustNodes.Http(node);
        var good = "the honest ccache result"u8.ToArray();
        var poison = "a poisoned ccache result"u8.ToArray();

        // Mallory, who may write, stores a poisoned result under a key others use.
        await PutAsync(http, "/ccache/" + CcacheKey, poison);
        Assert.Equal(poison, await GetAsync(http, "/ccache/" + CcacheKey));
        Assert.Null(await GetAsync(http, "/p/nodes/ccache/" + CcacheKey));
        Assert.Null(await GetAsync(http, "/p/quorum/ccache/" + CcacheKey));
        Assert.Null(await GetAsync(http, "/p/no-such-policy/ccache/" + CcacheKey));
        using (var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/p/nodes/ccache/" + CcacheKey)))
        {
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        }

        // The honest value, attested by node B: enough at k = 1, not at k = 2.
        await PutAsync(http, "/p/nodes/ccache/" + CcacheKey, good);
        await AttestAsync(http, s_nodeB, "ccache", CcacheKey, Digest.FromBytes(good));
        Assert.Equal(good, await GetAsync(http, "/p/nodes/ccache/" + CcacheKey));
        Assert.Null(await GetAsync(http, "/p/quorum/ccache/" + CcacheKey));

        await AttestAsync(http, s_nodeA, "ccache", CcacheKey, Digest.FromBytes(good));
        Assert.Equal(good, await GetAsync(http, "/p/quorum/ccache/" + CcacheKey));

        // Mallory overwrites again: the attestations name the honest digest, so nobody with a policy gets the poison.
        await PutAsync(http, "/ccache/" + CcacheKey, poison);
        Assert.Null(await GetAsync(http, "/p/nodes/ccache/" + CcacheKey));
        Assert.Null(await GetAsync(http, "/p/quorum/ccache/" + CcacheKey));

        var stats = await TrustNodes.StatsAsync(http);
        Assert.True(stats.Withheld >= 6, $"withheld {stats.Withheld}");
        Assert.Equal(3, stats.Served);
    }

    [Fact]
    public async Task BazelHttpActionCacheServesAResultOnlyWhenThePolicyHolds()
    {
        await using var node = await StartAsync();
        using var http = TrustNodes.Http(node);
        var action = Digest.FromBytes("bazel action"u8).Hex;
        var good = new ActionResult { ExitCode = 3 }.ToByteArray();
        var poison = new ActionResult { ExitCode = 4 }.ToByteArray();

        await PutAsync(http, "/bazel/ac/" + action, poison);
        Assert.Equal(poison, await GetAsync(http, "/bazel/ac/" + action));
        Assert.Null(await GetAsync(http, "/p/nodes/bazel/ac/" + action));

        await PutAsync(http, "/p/nodes/bazel/ac/" + action, good);
        await AttestAsync(http, s_nodeA, "bazel-ac", action, Digest.FromBytes(good));
        Assert.Equal(good, await GetAsync(http, "/p/nodes/bazel/ac/" + action));
        Assert.Null(await GetAsync(http, "/p/quorum/bazel/ac/" + action));
        await AttestAsync(http, s_nodeB, "bazel-ac", action, Digest.FromBytes(good));
        Assert.Equal(good, await GetAsync(http, "/p/quorum/bazel/ac/" + action));

        // Content-addressed blobs are not gated: their names are their hashes.
        Assert.NotNull(await GetAsync(http, "/p/quorum/bazel/cas/" + Digest.FromBytes(good).Hex));
    }

    [Fact]
    public async Task BazelGrpcActionCacheTakesThePolicyFromTheInstanceName()
    {
        await using var node = await StartAsync();
        using var http = TrustNodes.Http(node);
        using var grpc = new GrpcTestClient(node.Node.GrpcEndPoint!);
        var action = DigestMessages.ToMessage(Digest.FromBytes("grpc action"u8));
        var good = new ActionResult { ExitCode = 5 };
        var poison = new ActionResult { ExitCode = 6 };
        const int Ok = 0, NotFound = 5;

        (await grpc.CallAsync(ActionCacheService.UpdateActionResultPath,
            new UpdateActionResultRequest { ActionDigest = action, ActionResult = poison })).Expect(Ok);
        var (plain, served) = await grpc.UnaryAsync(ActionCacheService.GetActionResultPath, new GetActionResultRequest { ActionDigest = action }, ActionResult.Parser);
        plain.Expect(Ok);
        Assert.Equal(poison, served);
        var strict = new GetActionResultRequest { InstanceName = "p/nodes", ActionDigest = action };
        (await grpc.CallAsync(ActionCacheService.GetActionResultPath, strict)).Expect(NotFound);

        // Written under the policy's instance name, the entry lands where every consumer looks.
        (await grpc.CallAsync(ActionCacheService.UpdateActionResultPath,
            new UpdateActionResultRequest { InstanceName = "p/nodes", ActionDigest = action, ActionResult = good })).Expect(Ok);
        (await grpc.CallAsync(ActionCacheService.GetActionResultPath, strict)).Expect(NotFound);
        await AttestAsync(http, s_nodeB, "bazel-ac", action.Hash, Digest.FromBytes(good.ToByteArray()));
        var (hit, cached) = await grpc.UnaryAsync(ActionCacheService.GetActionResultPath, strict, ActionResult.Parser);
        hit.Expect(Ok);
        Assert.Equal(good, cached);
        (await grpc.CallAsync(ActionCacheService.GetActionResultPath, new GetActionResultRequest { InstanceName = "p/quorum", ActionDigest = action })).Expect(NotFound);
    }
}
