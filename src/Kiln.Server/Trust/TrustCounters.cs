namespace Kiln.Server.Trust;

/// <summary>What the node's trust machinery did since it started.</summary>
public sealed class TrustCounters
{
    private long _added, _duplicate, _malformed, _badSignature, _unknownKey, _revokedKey;
    private long _served, _withheld, _pulled, _pushed, _exchangeErrors;
    private long _rebuilt, _rebuildAgreed, _rebuildDisagreed, _rebuildSkipped;

    /// <summary>Attestations stored.</summary>
    public long Added => Interlocked.Read(ref _added);

    /// <summary>Attestations already known.</summary>
    public long Duplicate => Interlocked.Read(ref _duplicate);

    /// <summary>Rejected: not an attestation (truncated, padded, garbage).</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    /// <summary>Rejected: the signature does not verify (forged, altered, re-used).</summary>
    public long BadSignature => Interlocked.Read(ref _badSignature);

    /// <summary>Rejected: signed by a key the node does not know.</summary>
    public long UnknownKey => Interlocked.Read(ref _unknownKey);

    /// <summary>Rejected: signed by a revoked key.</summary>
    public long RevokedKey => Interlocked.Read(ref _revokedKey);

    /// <summary>Hits the gate let through.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Hits the gate turned into misses (the consumer's policy does not hold).</summary>
    public long Withheld => Interlocked.Read(ref _withheld);

    /// <summary>Attestations received from peers (before verification).</summary>
    public long Pulled => Interlocked.Read(ref _pulled);

    /// <summary>Attestations sent to peers.</summary>
    public long Pushed => Interlocked.Read(ref _pushed);

    /// <summary>Exchange rounds with a peer that failed (unreachable, bad answer).</summary>
    public long ExchangeErrors => Interlocked.Read(ref _exchangeErrors);

    /// <summary>Actions this node re-executed to check them.</summary>
    public long Rebuilt => Interlocked.Read(ref _rebuilt);

    /// <summary>Rebuilds that gave the result others attested.</summary>
    public long RebuildAgreed => Interlocked.Read(ref _rebuildAgreed);

    /// <summary>Rebuilds that gave another result (the action is now contested).</summary>
    public long RebuildDisagreed => Interlocked.Read(ref _rebuildDisagreed);

    /// <summary>Actions not rebuilt: inputs or compiler absent here.</summary>
    public long RebuildSkipped => Interlocked.Read(ref _rebuildSkipped);

    internal void Count(IntakeOutcome outcome)
    {
        switch (outcome)
        {
            case IntakeOutcome.Added: Interlocked.Increment(ref _added); break;
            case IntakeOutcome.Duplicate: Interlocked.Increment(ref _duplicate); break;
            case IntakeOutcome.Malformed: Interlocked.Increment(ref _malformed); break;
            case IntakeOutcome.BadSignature: Interlocked.Increment(ref _badSignature); break;
            case IntakeOutcome.UnknownKey: Interlocked.Increment(ref _unknownKey); break;
            case IntakeOutcome.RevokedKey: Interlocked.Increment(ref _revokedKey); break;
        }
    }

    internal void Gate(bool served) => Interlocked.Increment(ref served ? ref _served : ref _withheld);

    internal void Exchanged(long pulled, long pushed)
    {
        Interlocked.Add(ref _pulled, pulled);
        Interlocked.Add(ref _pushed, pushed);
    }

    internal void ExchangeFailed() => Interlocked.Increment(ref _exchangeErrors);

    internal void Rebuild(bool? agreed)
    {
        if (agreed is null)
        {
            Interlocked.Increment(ref _rebuildSkipped);
            return;
        }

        Interlocked.Increment(ref _rebuilt);
        Interlocked.Increment(ref agreed.Value ? ref _rebuildAgreed : ref _rebuildDisagreed);
    }
}
