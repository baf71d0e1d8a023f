using Kiln.Core.Hashing;
using Kiln.Core.Trust;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Trust;

public sealed class TrustPolicyTests
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private static readonly ActionKey s_action = ActionKey.FromEncoding("compile a.c"u8);
    private static readonly Digest s_good = Digest.FromBytes("good object"u8);
    private static readonly Digest s_evil = Digest.FromBytes("poisoned object"u8);

    private static SigningKey Key(byte seed) => SigningKey.FromSeed(Enumerable.Repeat(seed, 32).ToArray());

    private static (TrustStore Store, SigningKey Alice, SigningKey Bob, SigningKey Bob2, SigningKey Carol) Keys()
    {
        var alice = Key(1);
        var bob = Key(2);
        var bob2 = Key(3);
        var carol = Key(4);
        var store = new TrustStore();
        store.Add("alice", alice.PublicKey);
        store.Add("bob", bob.PublicKey);
        store.Add("bob", bob2.PublicKey);
        store.Add("carol", carol.PublicKey);
        return (store, alice, bob, bob2, carol);
    }

    private static Attestation Sign(SigningKey key, Digest result, ActionKey? action = null) =>
        Attestation.Create(key, action ?? s_action, result, AttestationKind.Executed, s_now);

    [Fact]
    public void AgreementIsCountedInOwnersNotKeys()
    {
        var (store, alice, bob, bob2, _) = Keys();
        var policy = new TrustPolicy(store, 2);

        // Two keys of one owner are one voice.
        Assert.False(policy.Decide(s_action, [Sign(bob, s_good), Sign(bob2, s_good)]).IsAccepted);

        var decision = policy.Decide(s_action, [Sign(bob, s_good), Sign(alice, s_good)]);
        Assert.Equal(s_good, decision.Accepted);
        Assert.Equal(["alice", "bob"], decision.OwnersByResult[s_good]);
        Assert.False(decision.Contested);
    }

    [Fact]
    public void OneSignerCannotPoisonWhenKIsTwo()
    {
        var (store, alice, bob, _, carol) = Keys();
        var k2 = new TrustPolicy(store, 2);
        Assert.False(k2.Decide(s_action, [Sign(alice, s_evil)]).IsAccepted);

        var decision = k2.Decide(s_action, [Sign(alice, s_evil), Sign(bob, s_good), Sign(carol, s_good)]);
        Assert.True(decision.Contested);
        Assert.Equal(s_good, decision.Accepted);

        // A candidate result that is not the agreed one is refused.
        Assert.False(k2.Decide(s_action, [Sign(bob, s_good), Sign(carol, s_good)], candidate: s_evil).IsAccepted);
    }

    [Fact]
    public void ForgedReusedUnknownAndRevokedSignaturesAreRejectedAndCounted()
    {
        var (store, alice, bob, _, _) = Keys();
        var stranger = Key(9);
        var good = Sign(bob, s_good);

        var forged = good with { Signature = (byte[])good.Signature.Clone() };
        forged.Signature[10] ^= 0x40;
        var reused = Sign(bob, s_good) with { Result = s_evil }; // bob's signature moved to another statement
        var otherAction = ActionKey.FromEncoding("compile b.c"u8);
        var replayed = Sign(bob, s_good, otherAction) with { Action = s_action };
        var unknown = Sign(stranger, s_good);
        store.SetStatus(alice.PublicKey.Id, KeyStatus.Revoked);
        var revoked = Sign(alice, s_good);

        var decision = new TrustPolicy(store, 1).Decide(s_action, [forged, reused, replayed, unknown, revoked]);
        Assert.False(decision.IsAccepted);
        Assert.Equal(3, decision.Rejected[AttestationRejection.BadSignature]);
        Assert.Equal(1, decision.Rejected[AttestationRejection.UnknownKey]);
        Assert.Equal(1, decision.Rejected[AttestationRejection.RevokedKey]);
    }

    [Fact]
    public void RetiredKeysStillCountForTheirOwner()
    {
        var (store, alice, bob, _, _) = Keys();
        store.SetStatus(bob.PublicKey.Id, KeyStatus.Retired);
        Assert.Equal(s_good, new TrustPolicy(store, 2).Decide(s_action, [Sign(alice, s_good), Sign(bob, s_good)]).Accepted);
    }

    [Fact]
    public void TruncatedAndPaddedAttestationsDoNotDecode()
    {
        var (_, alice, _, _, _) = Keys();
        var bytes = Sign(alice, s_good).Encode();
        var decoded = Attestation.Decode(bytes);
        Assert.NotNull(decoded);
        Assert.Equal(s_good, decoded!.Result);
        Assert.True(alice.PublicKey.Verify(decoded.Statement(), decoded.Signature));
        for (var cut = 0; cut < bytes.Length; cut++)
        {
            Assert.Null(Attestation.Decode(bytes.AsSpan(0, cut)));
        }

        Assert.Null(Attestation.Decode([.. bytes, 0]));
    }

    [Fact]
    public void KeyFilesAreOwnerOnlyAndRoundTrip()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("keys", "node.key");
        var key = SigningKey.Generate();
        key.Save(path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var loaded = SigningKey.Load(path, out var error);
        Assert.Null(error);
        Assert.Equal(key.PublicKey, loaded!.PublicKey);
        Assert.Throws<IOException>(() => key.Save(path));

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        Assert.Null(SigningKey.Load(path, out error));
        Assert.Contains("chmod 600", error);
    }

    [Fact]
    public void TrustStoreRoundTripsAndReportsBadLines()
    {
        var (store, _, _, _, _) = Keys();
        var errors = new List<string>();
        var parsed = TrustStore.Parse(store.Serialize() + "garbage line\n", errors);
        Assert.Equal(store.Keys.Count, parsed.Keys.Count);
        Assert.Equal("line 5: expected 'OWNER ed25519:BASE64 active|retired|revoked'", Assert.Single(errors));
    }
}
