using Kiln.Core.Hashing;

namespace Kiln.Core.Trust;

/// <summary>Why an attestation did not count.</summary>
public enum AttestationRejection
{
    /// <summary>It counts.</summary>
    None,

    /// <summary>Signed by a key the consumer does not trust.</summary>
    UnknownKey,

    /// <summary>Signed by a revoked key.</summary>
    RevokedKey,

    /// <summary>The signature does not verify: forged, altered, or re-used from another statement.</summary>
    BadSignature,

    /// <summary>It names a different action than the one being decided.</summary>
    WrongAction,
}

/// <summary>The decision on one action: which result (if any) may be used, and whether builders disagree.</summary>
public sealed record PolicyDecision(
    Digest? Accepted,
    bool Contested,
    IReadOnlyDictionary<Digest, IReadOnlyList<string>> OwnersByResult,
    IReadOnlyDictionary<AttestationRejection, int> Rejected)
{
    /// <summary>True when a result may be used.</summary>
    public bool IsAccepted => Accepted is not null;
}

/// <summary>
/// The consumer's policy: the keys it trusts (grouped by owner) and <see cref="K"/>, the number of
/// distinct owners that must sign the same ResultDigest for an ActionKey. The count is absolute, not a
/// share of whoever answered: a share lets an attacker who controls who answers decide the outcome.
/// K = 0 accepts a result without attestations (a plain cache, for private use).
/// </summary>
public sealed class TrustPolicy(TrustStore keys, int k)
{
    /// <summary>The trusted keys.</summary>
    public TrustStore Keys { get; } = keys;

    /// <summary>How many distinct owners must agree.</summary>
    public int K { get; } = k >= 0 ? k : throw new ArgumentOutOfRangeException(nameof(k), "k counts owners; it cannot be negative");

    /// <summary>Classifies one attestation for <paramref name="action"/>.</summary>
    public AttestationRejection Check(ActionKey action, Attestation attestation)
    {
        if (attestation.Action != action)
        {
            return AttestationRejection.WrongAction;
        }

        var key = Keys.Find(attestation.KeyId);
        if (key is null)
        {
            return AttestationRejection.UnknownKey;
        }

        if (key.Status == KeyStatus.Revoked)
        {
            return AttestationRejection.RevokedKey;
        }

        return VerifiedSignatures.Verify(key.Key, attestation.Statement(), attestation.Signature) ? AttestationRejection.None : AttestationRejection.BadSignature;
    }

    /// <summary>
    /// Decides an action from the attestations known for it. A result is accepted when at least K owners
    /// signed it; when two results each reach K, or any two trusted owners disagree and K &gt; 0, the action is
    /// contested and nothing is accepted unless exactly one result reaches K.
    /// </summary>
    public PolicyDecision Decide(ActionKey action, IEnumerable<Attestation> attestations, Digest? candidate = null)
    {
        var owners = new Dictionary<Digest, HashSet<string>>();
        var rejected = new Dictionary<AttestationRejection, int>();
        foreach (var a in attestations)
        {
            var verdict = Check(action, a);
            if (verdict != AttestationRejection.None)
            {
                rejected[verdict] = rejected.GetValueOrDefault(verdict) + 1;
                continue;
            }

            if (!owners.TryGetValue(a.Result, out var set))
            {
                owners[a.Result] = set = new HashSet<string>(StringComparer.Ordinal);
            }

            set.Add(Keys.Find(a.KeyId)!.Owner);
        }

        var contested = owners.Count > 1;
        Digest? accepted = null;
        if (K == 0)
        {
            // A plain cache: the stored result is used unless trusted builders say otherwise.
            accepted = contested ? null : candidate ?? (owners.Count == 1 ? owners.Keys.First() : null);
        }
        else
        {
            var reaching = 0;
            foreach (var (result, set) in owners)
            {
                if (set.Count >= K)
                {
                    reaching++;
                    accepted = result;
                }
            }

            if (reaching != 1)
            {
                accepted = null;
            }
        }

        if (accepted is not null && candidate is not null && accepted != candidate)
        {
            accepted = null;
        }

        var view = new Dictionary<Digest, IReadOnlyList<string>>();
        foreach (var (result, set) in owners)
        {
            var list = set.ToList();
            list.Sort(StringComparer.Ordinal);
            view[result] = list;
        }

        return new PolicyDecision(accepted, contested, view, rejected);
    }
}
