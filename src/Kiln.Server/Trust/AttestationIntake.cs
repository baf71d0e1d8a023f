using Kiln.Core.Trust;

namespace Kiln.Server.Trust;

/// <summary>
/// The one way attestations enter the node (its witness, its rebuilds, the API, peers): decoded,
/// checked against the keys the node knows, verified, then stored; each refusal is counted by reason.
/// </summary>
public sealed class AttestationIntake(NodeTrust trust, AttestationStore store, TrustCounters counters)
{
    private readonly TrustPolicy _known = new(trust.Known, 0);

    /// <summary>Decodes and takes an attestation in wire form.</summary>
    public IntakeOutcome Offer(ReadOnlySpan<byte> encoded, string source, out Attestation? attestation)
    {
        attestation = Attestation.Decode(encoded);
        if (attestation is null)
        {
            counters.Count(IntakeOutcome.Malformed);
            return IntakeOutcome.Malformed;
        }

        return Offer(attestation, source);
    }

    /// <summary>Verifies and stores an attestation.</summary>
    public IntakeOutcome Offer(Attestation attestation, string source)
    {
        var outcome = _known.Check(attestation.Action, attestation) switch
        {
            AttestationRejection.UnknownKey => IntakeOutcome.UnknownKey,
            AttestationRejection.RevokedKey => IntakeOutcome.RevokedKey,
            AttestationRejection.BadSignature => IntakeOutcome.BadSignature,
            _ => store.Add(attestation, source) ? IntakeOutcome.Added : IntakeOutcome.Duplicate,
        };
        counters.Count(outcome);
        return outcome;
    }

    /// <summary>A sentence a person can act on for a refused attestation.</summary>
    public static string Explain(IntakeOutcome outcome, Attestation? attestation) => outcome switch
    {
        IntakeOutcome.Added => "stored",
        IntakeOutcome.Duplicate => "already known",
        IntakeOutcome.Malformed => "not an attestation: the bytes are truncated, padded or not kiln-signed-v1 (a signature must be 64 bytes)",
        IntakeOutcome.BadSignature => $"the signature does not verify under key {attestation?.KeyId}: forged, altered, or taken from another statement",
        IntakeOutcome.UnknownKey => $"key {attestation?.KeyId} is not trusted by this node ('kiln trust add' on the node, or a policy file naming it)",
        IntakeOutcome.RevokedKey => $"key {attestation?.KeyId} is revoked: none of its attestations count",
        _ => outcome.ToString(),
    };
}
