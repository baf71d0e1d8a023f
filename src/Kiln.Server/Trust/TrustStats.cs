namespace Kiln.Server.Trust;

/// <summary><c>GET /api/attestations/stats</c>: the node's key, what its trust machinery did, and a counter per rejection reason.</summary>
public sealed record TrustStats(
    string NodeKeyId,
    string NodePublicKey,
    long Stored,
    long Added,
    long Duplicate,
    Dictionary<string, long> Rejected,
    long Served,
    long Withheld,
    long Pulled,
    long Pushed,
    long ExchangeErrors,
    long Rebuilt,
    long RebuildAgreed,
    long RebuildDisagreed,
    long RebuildSkipped,
    List<string> Policies);
