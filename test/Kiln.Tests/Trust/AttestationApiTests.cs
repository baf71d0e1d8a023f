using System.Net;
using System.Text;
using System.Text.Json;
using Kiln.Core.Hashing;
using Kiln.Core.Trust;
using Kiln.Server.Trust;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Trust;

public sealed class AttestationApiTests
{
    private static readonly DateTimeOffset s_time = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private static readonly ActionKey s_action = ActionKey.FromEncoding("compile a.c"u8);
    private static readonly ActionKey s_other = ActionKey.FromEncoding("compile b.c"u8);
    private static readonly Digest s_result = Digest.FromBytes("object"u8);
    private static readonly SigningKey s_alice = TrustNodes.Key(1);
    private static readonly SigningKey s_revoked = TrustNodes.Key(2);
    private static readonly SigningKey s_stranger = TrustNodes.Key(3);

    private static Task<TestNode> StartAsync() => TrustNodes.StartAsync(10, o =>
    {
        o.Trust.ExtraKeys.Add("alice", s_alice.PublicKey);
        o.Trust.ExtraKeys.Add("eve", s_revoked.PublicKey, KeyStatus.Revoked);
    });

    private static Attestation Sign(SigningKey key, ActionKey? action = null, Digest? result = null) =>
        Attestation.Create(key, action ?? s_action, result ?? s_result, AttestationKind.Rebuilt, s_time);

    private static async Task<AttestationList> ListAsync(HttpClient http, ActionKey action) =>
        JsonSerializer.Deserialize(await http.GetByteArrayAsync($"/api/attestations/{action.Hex}"), TrustJsonContext.Default.AttestationList)!;

    [Fact]
    public async Task NodeMakesItsKeyOnFirstStartReadableOnlyByItsOwner()
    {
        await using var node = await TestNode.StartAsync();
        var path = Path.Combine(node.DataDirectory, "keys", "node.key");
        Assert.True(File.Exists(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var key = SigningKey.Load(path, out var error);
        Assert.Null(error);
        using var http = TrustNodes.Http(node);
        var stats = await TrustNodes.StatsAsync(http);
        Assert.Equal(key!.PublicKey.Id, stats.NodeKeyId);
        Assert.Equal(key.PublicKey.ToString(), stats.NodePublicKey);
    }

    [Fact]
    public async Task WitnessSignsAnExecutedAttestationForEveryResultTheNodeComputes()
    {
        await using var node = await StartAsync();
        var source = "int answer(void) { return 42; }\n"u8.ToArray();
        var action = TrustNodes.Action(source, ["-O2"]);
        var result = await TrustNodes.ExecuteAsync(node, action, source, CancellationToken.None);

        using var http = TrustNodes.Http(node);
        var list = await ListAsync(http, action.Key);
        var view = Assert.Single(list.Attestations);
        Assert.Equal(TrustNodes.Key(10).PublicKey.Id, view.KeyId);
        Assert.Equal("self", view.Owner);
        Assert.Equal("executed", view.How);
        Assert.Equal(result.ResultDigest.Hex, view.Result);
        Assert.False(list.Contested);

        // The served wire form verifies under the node's public key, independently of the node.
        var decoded = Attestation.Decode(Convert.FromBase64String(view.Encoded))!;
        Assert.True(TrustNodes.Key(10).PublicKey.Verify(decoded.Statement(), decoded.Signature));
    }

    [Fact]
    public async Task DonatedSignatureIsStoredOnceAndServed()
    {
        await using var node = await StartAsync();
        using var http = TrustNodes.Http(node);
        var (status, report, body) = await TrustNodes.PostAsync(http, Sign(s_alice).Encode());
        Assert.True(status == 200, body);
        Assert.Equal(1, report!.Added);

        (status, report, _) = await TrustNodes.PostAsync(http, Sign(s_alice).Encode());
        Assert.Equal(200, status);
        Assert.Equal(0, report!.Added);
        Assert.Equal(1, report.Duplicate);

        var view = Assert.Single((await ListAsync(http, s_action)).Attestations);
        Assert.Equal("alice", view.Owner);
        Assert.Equal("rebuilt", view.How);
        var stats = await TrustNodes.StatsAsync(http);
        Assert.Equal(1, stats.Stored);
        Assert.Equal(1, stats.Duplicate);
    }

    private static async Task AssertRejectedAsync(byte[] encoded, string reason, string messagePart)
    {
        await using var node = await StartAsync();
        using var http = TrustNodes.Http(node);
        var before = await TrustNodes.StatsAsync(http);

        var (status, report, body) = await TrustNodes.PostAsync(http, encoded);
        Assert.True(status == 422, body);
        var refusal = Assert.Single(report!.Rejected);
        Assert.Equal(reason, refusal.Reason);
        Assert.Contains(messagePart, refusal.Message, StringComparison.Ordinal);

        var after = await TrustNodes.StatsAsync(http);
        Assert.Equal(before.Rejected[reason] + 1, after.Rejected[reason]);
        foreach (var (other, count) in after.Rejected)
        {
            if (other != reason)
            {
                Assert.Equal(before.Rejected[other], count);
            }
        }

        Assert.Equal(0, after.Stored);

        // The node keeps serving: a good attestation is still taken.
        (status, _, body) = await TrustNodes.PostAsync(http, Sign(s_alice).Encode());
        Assert.True(status == 200, body);
    }

    [Fact]
    public async Task ForgedSignatureIsRejectedAndCounted()
    {
        var good = Sign(s_alice);
        var forged = good with { Signature = [.. new Random(7).GetItems(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray(), 64)] };
        await AssertRejectedAsync(forged.Encode(), "badSignature", "does not verify");
    }

    [Fact]
    public async Task TruncatedSignatureIsRejectedAndCounted()
    {
        var encoded = Sign(s_alice).Encode();
        await AssertRejectedAsync(encoded[..^10], "malformed", "truncated");
    }

    [Fact]
    public async Task TruncatedSignatureSentRawIsRejectedAndCounted()
    {
        await using var node = await StartAsync();
        using var http = TrustNodes.Http(node);
        using var content = new ByteArrayContent(Sign(s_alice).Encode()[..^1]);
        using var response = await http.PostAsync("/api/attestations", content);
        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        Assert.Contains("malformed", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1, (await TrustNodes.StatsAsync(http)).Rejected["malformed"]);
    }

    [Fact]
    public async Task SignatureReusedForAnotherStatementIsRejectedAndCounted()
    {
        // Alice's genuine signature over one action, attached to a claim about another action and result.
        var genuine = Sign(s_alice);
        var reused = new Attestation(s_other, Digest.FromBytes("poisoned"u8), genuine.KeyId, genuine.Time, genuine.How, genuine.Signature);
        await AssertRejectedAsync(reused.Encode(), "badSignature", "taken from another statement");
    }

    [Fact]
    public async Task UnknownKeyIsRejectedAndCounted() =>
        await AssertRejectedAsync(Sign(s_stranger).Encode(), "unknownKey", "not trusted by this node");

    [Fact]
    public async Task RevokedKeyIsRejectedAndCounted() =>
        await AssertRejectedAsync(Sign(s_revoked).Encode(), "revokedKey", "revoked");

    [Fact]
    public async Task HostileRequestsGetClearErrorsAndTheNodeKeepsServing()
    {
        await using var node = await StartAsync();
        using var http = TrustNodes.Http(node);

        using (var garbage = new StringContent("{\"attestations\": 12", Encoding.UTF8, "application/json"))
        using (var response = await http.PostAsync("/api/attestations", garbage))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("not an attestation submission", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var huge = new ByteArrayContent(new byte[AttestationEndpoints.MaxSubmissionBytes + 1]))
        using (var response = await http.PostAsync("/api/attestations", huge))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }

        var (status, report, _) = await TrustNodes.PostAsync(http, [0x00, 0x01], []);
        Assert.Equal(422, status);
        Assert.Equal(2, report!.Rejected.Count);
        Assert.All(report.Rejected, r => Assert.Equal("malformed", r.Reason));

        using (var response = await http.GetAsync("/api/attestations/not-hex"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        using (var response = await http.GetAsync("/api/attestations/feed?after=-1"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        (status, _, _) = await TrustNodes.PostAsync(http, Sign(s_alice).Encode());
        Assert.Equal(200, status);
        var feed = JsonSerializer.Deserialize(await http.GetByteArrayAsync("/api/attestations/feed?after=0"), TrustJsonContext.Default.AttestationFeed)!;
        Assert.Single(feed.Attestations);
    }
}
