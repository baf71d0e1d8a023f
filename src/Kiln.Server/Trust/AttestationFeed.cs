namespace Kiln.Server.Trust;

/// <summary><c>GET /api/attestations/feed?after=N</c>: attestations in arrival order (wire form, base64) and the cursor for the next page.</summary>
public sealed record AttestationFeed(long Last, List<string> Attestations);
