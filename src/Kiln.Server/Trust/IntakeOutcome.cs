namespace Kiln.Server.Trust;

/// <summary>What became of an attestation offered to the node.</summary>
public enum IntakeOutcome
{
    /// <summary>Verified and stored.</summary>
    Added,

    /// <summary>Verified; the node already had it.</summary>
    Duplicate,

    /// <summary>Not an attestation: truncated, padded or garbage.</summary>
    Malformed,

    /// <summary>The signature does not verify: forged, altered, or re-used from another statement.</summary>
    BadSignature,

    /// <summary>Signed by a key the node does not know.</summary>
    UnknownKey,

    /// <summary>Signed by a revoked key.</summary>
    RevokedKey,
}
